"""``[tool.kerascheck]`` settings: found in the nearest ``pyproject.toml`` (searched upward
from each file's folder, like ruff) or given with ``--config``; command-line options
override them. An unknown key or rule code is an error that names it."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pathspec

from .catalog import SelectionError, resolve_selection, validate_selectors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_KEYS = frozenset(
    {
        "select",
        "ignore",
        "extend-select",
        "per-file-ignores",
        "exclude",
        "extend-exclude",
        "respect-gitignore",
    }
)

DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".venv",
    "venv",
    ".env",
    "env",
    ".tox",
    ".nox",
    ".eggs",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".kerascheck_cache",
    ".ipynb_checkpoints",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "__pypackages__",
)


class ConfigError(Exception):
    """A configuration problem the user must fix (exit status 2)."""


@dataclass(frozen=True)
class CliOverrides:
    """What the command line says; None means "not given"."""

    select: Optional[Tuple[str, ...]] = None
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    root: Path  # the folder of the configuration file (or the working folder)
    config_path: Optional[Path]
    select: Optional[Tuple[str, ...]] = None
    ignore: Tuple[str, ...] = ()
    extend_select: Tuple[str, ...] = ()
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    exclude: Tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: Tuple[str, ...] = ()
    respect_gitignore: bool = True
    _per_file_specs: Tuple[Tuple[pathspec.PathSpec, Tuple[str, ...]], ...] = field(
        default=(), compare=False, repr=False
    )

    # Settings are immutable and asked once per file: computed once per settings object.
    @cached_property
    def codes(self) -> Tuple[str, ...]:
        return resolve_selection(self.select, self.ignore, self.extend_select)

    def codes_for(self, path: Path) -> Tuple[str, ...]:
        """The codes enabled for one file, after ``per-file-ignores``."""
        codes = self.codes
        if not self._per_file_specs:
            return codes
        relative = _relative_posix(path, self.root)
        if relative is None:
            return codes
        ignored: set = set()
        for spec, selectors in self._per_file_specs:
            if spec.match_file(relative):
                ignored.update(resolve_selection(list(selectors)))
        return tuple(c for c in codes if c not in ignored)

    @cached_property
    def exclude_spec(self) -> pathspec.PathSpec:
        return _spec(tuple(self.exclude) + tuple(self.extend_exclude))

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever anything that affects findings changes (cache key)."""
        data = {
            "codes": self.codes,
            "per_file_ignores": self.per_file_ignores,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=256)
def _spec(patterns: Tuple[str, ...]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _relative_posix(path: Path, root: Path) -> Optional[str]:
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return None


def _string_list(key: str, value: Any, where: Path) -> Tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def settings_from_table(
    table: Mapping[str, Any], root: Path, config_path: Optional[Path], cli: CliOverrides
) -> Settings:
    where = config_path or root
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} in [tool.kerascheck]: "
            + ", ".join(f"`{k}`" for k in unknown)
            + f" (known: {', '.join(sorted(KNOWN_KEYS))})"
        )
    select = _string_list("select", table["select"], where) if "select" in table else None
    ignore = _string_list("ignore", table.get("ignore", []), where)
    extend_select = _string_list("extend-select", table.get("extend-select", []), where)
    per_file_raw = table.get("per-file-ignores", {})
    if not isinstance(per_file_raw, dict):
        raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
    per_file = tuple(
        (glob, _string_list(f"per-file-ignores.{glob}", codes, where))
        for glob, codes in per_file_raw.items()
    )
    exclude = (
        _string_list("exclude", table["exclude"], where) if "exclude" in table else DEFAULT_EXCLUDE
    )
    extend_exclude = _string_list("extend-exclude", table.get("extend-exclude", []), where)
    respect = table.get("respect-gitignore", True)
    if not isinstance(respect, bool):
        raise ConfigError(f"{where}: `respect-gitignore` must be true or false")
    try:
        for selectors in [select or (), ignore, extend_select] + [c for _, c in per_file]:
            validate_selectors(selectors)
        validate_selectors(cli.select or ())
        validate_selectors(cli.ignore)
        validate_selectors(cli.extend_select)
    except SelectionError as error:
        raise ConfigError(f"{where}: {error}") from None
    return Settings(
        root=root,
        config_path=config_path,
        select=cli.select if cli.select is not None else select,
        ignore=ignore + cli.ignore,
        extend_select=extend_select + cli.extend_select,
        per_file_ignores=per_file,
        exclude=exclude,
        extend_exclude=extend_exclude,
        respect_gitignore=respect,
        _per_file_specs=tuple((_spec(tuple([glob])), codes) for glob, codes in per_file),
    )


def read_table(config_path: Path) -> Optional[Dict[str, Any]]:
    """The ``[tool.kerascheck]`` table of a pyproject.toml (None when it has none).
    A file named other than ``pyproject.toml`` may hold the keys at top level."""
    try:
        with open(config_path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read configuration {config_path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path}: invalid TOML: {error}") from None
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "kerascheck" in tool:
        table = tool["kerascheck"]
        if not isinstance(table, dict):
            raise ConfigError(f"{config_path}: [tool.kerascheck] must be a table")
        return table
    if config_path.name != "pyproject.toml":
        return {k: v for k, v in data.items() if k != "tool"}
    return None


class SettingsResolver:
    """Settings per file: from ``--config``, or the nearest pyproject.toml that has a
    ``[tool.kerascheck]`` table, or defaults rooted at the working folder."""

    def __init__(self, cli: CliOverrides, config: Optional[Path] = None, cwd: Optional[Path] = None):
        self.cli = cli
        self.cwd = Path(os.path.abspath(cwd or os.getcwd()))
        self._by_dir: Dict[Path, Settings] = {}
        self._by_config: Dict[Optional[Path], Settings] = {}
        self._fixed: Optional[Settings] = None
        if config is not None:
            config = Path(os.path.abspath(config))
            table = read_table(config)
            self._fixed = settings_from_table(table or {}, config.parent, config, cli)
        else:
            # Validate the command line even when no file is ever looked up.
            self.default = settings_from_table({}, self.cwd, None, cli)

    def for_path(self, path: Path) -> Settings:
        if self._fixed is not None:
            return self._fixed
        absolute = Path(os.path.abspath(path))
        folder = absolute if absolute.is_dir() else absolute.parent
        return self.for_dir(folder)

    def for_dir(self, folder: Path) -> Settings:
        if self._fixed is not None:
            return self._fixed
        if folder in self._by_dir:
            return self._by_dir[folder]
        visited: List[Path] = []
        settings: Optional[Settings] = None
        current = folder
        while True:
            if current in self._by_dir:
                settings = self._by_dir[current]
                break
            visited.append(current)
            candidate = current / "pyproject.toml"
            if candidate.is_file():
                table = read_table(candidate)
                if table is not None:
                    settings = self._by_config.get(candidate) or settings_from_table(
                        table, current, candidate, self.cli
                    )
                    self._by_config[candidate] = settings
                    break
            if current.parent == current:
                break
            current = current.parent
        if settings is None:
            settings = self.default_settings()
        for seen in visited:
            self._by_dir[seen] = settings
        return settings

    def default_settings(self) -> Settings:
        if self._fixed is not None:
            return self._fixed
        return self.default

    def all_settings(self) -> Sequence[Settings]:
        found = {id(s): s for s in self._by_dir.values()}
        if self._fixed is not None:
            found[id(self._fixed)] = self._fixed
        return list(found.values()) or [self.default_settings()]
