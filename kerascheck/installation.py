"""Which kerascheck this is: a fingerprint of the installed code, standard library only.

Results cached on disk and a daemon serving the command line must both be dropped when
kerascheck's code changes, also without a new version number (an editable install being
edited). The daemon's client computes this on every run, so it stays cheap: one ``stat``
per module, no import beyond the standard library.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from . import __version__

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    digest = hashlib.sha256(__version__.encode())
    for folder, subfolders, files in os.walk(PACKAGE_DIR):
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                info = os.stat(path)
                relative = os.path.relpath(path, PACKAGE_DIR).replace(os.sep, "/")
                digest.update(f"{relative}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]
