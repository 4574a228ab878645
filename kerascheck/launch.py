"""The ``kerascheck`` command's entry point: the daemon's client first, then click.

``check --daemon`` is decided here, before click, libcst or rich are imported, because
the point of the daemon is that a run costs little more than starting Python.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    from .daemon.client import run, wants_daemon

    if wants_daemon(argv):
        status = run(argv)
        if status is not None:
            sys.exit(status)
    from .cli import main as command

    command()
