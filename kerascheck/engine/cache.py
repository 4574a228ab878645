"""A per-file result cache like ruff's, under ``.kerascheck_cache/`` at the project root.

An entry is keyed by the file's absolute path, size, modification time, kerascheck's
version and the file's effective settings; if anything differs the file is checked
again. Each entry is its own small JSON file written atomically (temporary file, then
``os.replace``), so concurrent runs cannot corrupt the cache, and a damaged or foreign
entry is simply ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import List, Optional

from .. import __version__
from ..diagnostics import Diagnostic
from ..installation import code_fingerprint

CACHE_DIR = ".kerascheck_cache"
_FORMAT = 1


def _entry_path(root: Path, path: Path) -> str:
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogatepass")).hexdigest()
    return os.path.join(root, CACHE_DIR, __version__, digest[:2], f"{digest[2:]}.json")


def _key(path: Path, fingerprint: str) -> Optional[dict]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return {
        "format": _FORMAT,
        "version": __version__,
        "code": code_fingerprint(),
        "path": str(path),
        "size": info.st_size,
        # mtime alone misses an edit within the file system's timestamp granularity;
        # ctime changes with it too, and both are nanoseconds where the OS offers them.
        "mtime": info.st_mtime_ns,
        "ctime": info.st_ctime_ns,
        "settings": fingerprint,
    }


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, path: Path, fingerprint: str, display: str) -> Optional[List[Diagnostic]]:
        key = _key(path, fingerprint)
        if key is None:
            return None
        try:
            with open(_entry_path(self.root, path), encoding="utf-8") as handle:
                entry = json.load(handle)
            if entry.get("key") != key:
                return None
            return [Diagnostic.from_dict({**d, "path": display}) for d in entry["diagnostics"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, corrupt or foreign: check the file again

    def store(self, path: Path, fingerprint: str, diagnostics: List[Diagnostic]) -> None:
        key = _key(path, fingerprint)
        if key is None:
            return
        target = _entry_path(self.root, path)
        try:
            folder = os.path.dirname(target)
            self._ensure_dir(Path(folder))
            entry = {"key": key, "diagnostics": [d.to_dict() for d in diagnostics]}
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    # ASCII escapes carry what UTF-8 cannot: a name that is not UTF-8
                    # holds its bytes as lone surrogates.
                    json.dump(entry, out)
                os.replace(temporary, target)
            except BaseException:
                _unlink_quietly(temporary)
                raise
        except OSError:
            pass  # a read-only checkout still gets its findings, just no cache

    def _ensure_dir(self, folder: Path) -> None:
        cache_root = self.root / CACHE_DIR
        if not cache_root.is_dir():
            cache_root.mkdir(parents=True, exist_ok=True)
            # Keep the cache out of version control without touching the user's .gitignore.
            (cache_root / ".gitignore").write_text("# Created by kerascheck\n*\n", encoding="utf-8")
            (cache_root / "CACHEDIR.TAG").write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n", encoding="utf-8"
            )
        folder.mkdir(parents=True, exist_ok=True)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
