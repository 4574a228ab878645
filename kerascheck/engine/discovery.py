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


class _GitIgnores:
    """The .gitignore files of each folder, read once, matched relative to their folder."""

    def __init__(self) -> None:
        self._specs: Dict[Path, Optional[pathspec.PathSpec]] = {}

    def _spec(self, folder: Path) -> Optional[pathspec.PathSpec]:
        if folder not in self._specs:
            spec = None
            ignore_file = folder / ".gitignore"
            try:
                with open(ignore_file, encoding="utf-8", errors="replace") as handle:
                    spec = pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
            except OSError:
                pass
            self._specs[folder] = spec
        return self._specs[folder]

    def ignored(self, path: Path, is_dir: bool, top: Path) -> bool:
        """Whether a .gitignore in ``top`` or between it and ``path`` ignores ``path``."""
        folder = path.parent
        chain: List[Path] = []
        while True:
            chain.append(folder)
            if folder == top or folder.parent == folder:
                break
            folder = folder.parent
        for base in reversed(chain):
            spec = self._spec(base)
            if spec is None:
                continue
            relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
            if spec.match_file(relative):
                return True
        return False


def _excluded(path: Path, is_dir: bool, settings: Settings) -> bool:
    try:
        relative = path.relative_to(settings.root).as_posix()
    except ValueError:
        relative = path.name
    if is_dir:
        relative += "/"
    spec = settings.exclude_spec
    # A bare name like "build" matches that folder anywhere (gitignore semantics).
    return spec.match_file(relative) or spec.match_file(path.name + ("/" if is_dir else ""))


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
    gitignores = _GitIgnores()
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
            for path in _walk(absolute, resolver, gitignores):
                display = os.path.join(given, os.path.relpath(path, absolute))
                if given in (".", "./"):
                    display = os.path.relpath(path, absolute)
                found.setdefault(path, SourcePath(path, display, resolver.for_path(path)))
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


def _walk(top: Path, resolver: SettingsResolver, gitignores: _GitIgnores) -> Iterator[Path]:
    git_top = _git_top(top)
    stack = [top]
    while stack:
        folder = stack.pop()
        settings = resolver.for_dir(folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                # Links to folders are not followed: no loops, no escaping the tree.
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=True) and not is_dir
            except OSError:
                continue
            if not (is_dir or is_file):
                continue  # FIFOs, sockets, devices, dangling links
            if _excluded(path, is_dir, settings):
                continue
            if settings.respect_gitignore and gitignores.ignored(path, is_dir, git_top):
                continue
            if is_dir:
                stack.append(path)
            elif path.suffix in PYTHON_SUFFIXES:
                yield path
