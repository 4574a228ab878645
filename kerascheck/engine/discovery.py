"""Finding the files to check: folders recursively, ``exclude`` globs, .gitignore files.

Only regular files are returned; symbolic links to folders are not followed (so link
loops cannot hang a scan), FIFOs and devices are never opened here.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pathspec

from ..config import Settings, SettingsResolver

PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class SourcePath:
    path: Path  # absolute
    display: str  # as the user would write it: relative to the folder they named
    settings: Settings


# A folder's .gitignore: the folder's path with a trailing separator (what is matched is
# the path below it), and its patterns.
_GitIgnore = Tuple[str, pathspec.PathSpec]


def _read_gitignore(folder: str) -> Optional[_GitIgnore]:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    return os.path.join(folder, ""), pathspec.GitIgnoreSpec.from_lines(lines)


def _gitignored(path: str, is_dir: bool, gitignores: Sequence[_GitIgnore]) -> bool:
    """Whether a .gitignore of a folder above ``path`` ignores it (each one matched
    relative to its own folder)."""
    for base, spec in gitignores:
        relative = path[len(base) :].replace(os.sep, "/") + ("/" if is_dir else "")
        if spec.match_file(relative):
            return True
    return False


def _relative_to_root(folder: Path, settings: Settings) -> Optional[str]:
    """``folder`` relative to the project root as ``a/b/`` (``""`` at the root), or None
    outside it."""
    try:
        relative = folder.relative_to(settings.root).as_posix()
    except ValueError:
        return None
    return "" if relative == "." else relative + "/"


def _excluded_name(
    name: str, folder_relative: Optional[str], is_dir: bool, settings: Settings
) -> bool:
    slash = "/" if is_dir else ""
    spec = settings.exclude_spec
    # A bare name like "build" matches that folder anywhere (gitignore semantics).
    if spec.match_file(name + slash):
        return True
    return bool(folder_relative) and spec.match_file(f"{folder_relative}{name}{slash}")


def _excluded(path: Path, is_dir: bool, settings: Settings) -> bool:
    return _excluded_name(path.name, _relative_to_root(path.parent, settings), is_dir, settings)


def _git_top(folder: Path) -> Path:
    """The repository root above ``folder`` (where .gitignore files start to count)."""
    current = folder
    while True:
        if (current / ".git").exists():
            return current
        if current.parent == current:
            return folder
        current = current.parent


def discover(
    paths: Sequence[str],
    resolver: SettingsResolver,
    *,
    force_exclude: bool = False,
) -> Tuple[List[SourcePath], List[Tuple[str, str]]]:
    """The files to check, sorted, and the (path, reason) of named paths that are not files."""
    found: Dict[Path, SourcePath] = {}
    problems: List[Tuple[str, str]] = []
    for given in paths:
        absolute = Path(os.path.abspath(given))
        try:
            info = os.stat(absolute)
        except FileNotFoundError:
            # Named explicitly but missing (or a dangling link): the runner reports it.
            problems.append((given, "no such file or directory (or a dangling symlink)"))
            continue
        except OSError as error:  # a symlink loop, a permission
            problems.append((given, f"cannot read file: {error.strerror or error}"))
            continue
        if stat.S_ISDIR(info.st_mode):
            prefix = "" if given in (".", "./") else os.path.join(given, "")
            below = len(os.path.join(str(absolute), ""))
            for path, settings in _walk(absolute, resolver):
                display = prefix + path[below:]
                found.setdefault(Path(path), SourcePath(Path(path), display, settings))
            continue
        settings = resolver.for_path(absolute)
        if force_exclude and (
            _excluded(absolute, False, settings)
            or any(_excluded(parent, True, settings) for parent in _parents_within(absolute, settings.root))
        ):
            continue
        # A named file is checked whatever its suffix, as pre-commit passes them; a FIFO
        # or device named explicitly gets a KC900 from the reader, without blocking.
        found.setdefault(absolute, SourcePath(absolute, given, settings))
    return sorted(found.values(), key=lambda s: s.display), problems


def _parents_within(path: Path, root: Path) -> Iterator[Path]:
    for parent in path.parents:
        if parent == root or root not in parent.parents:
            break
        yield parent


def _gitignores_above(top: Path) -> List[_GitIgnore]:
    """The .gitignore files from the repository root down to ``top``'s parent."""
    git_top = _git_top(top)
    folders: List[str] = []
    folder = top
    while folder != git_top and folder.parent != folder:
        folder = folder.parent
        folders.append(str(folder))
    return [found for found in map(_read_gitignore, reversed(folders)) if found is not None]


def _walk(top: Path, resolver: SettingsResolver) -> Iterator[Tuple[str, Settings]]:
    """The Python files under ``top`` (as path strings: this loop is hot) and their settings."""
    stack = [(str(top), _gitignores_above(top))]
    while stack:
        folder, gitignores = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        if any(entry.name == ".gitignore" for entry in entries):
            own = _read_gitignore(folder)
            if own is not None:
                gitignores = [*gitignores, own]
        settings = resolver.for_dir(Path(folder))
        folder_relative = _relative_to_root(Path(folder), settings)
        for entry in entries:
            try:
                # Links to folders are not followed: no loops, no escaping the tree.
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=True)
            except OSError:
                continue
            if not (is_dir or is_file):
                continue  # FIFOs, sockets, devices, dangling links
            if is_file and os.path.splitext(entry.name)[1] not in PYTHON_SUFFIXES:
                continue
            if _excluded_name(entry.name, folder_relative, is_dir, settings):
                continue
            if settings.respect_gitignore and _gitignored(entry.path, is_dir, gitignores):
                continue
            if is_dir:
                stack.append((entry.path, gitignores))
            else:
                yield entry.path, settings
