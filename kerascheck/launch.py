"""The ``kerascheck`` command's entry point: the daemon's client first, then click.

``check --daemon`` is decided here, before click, libcst or rich are imported, because
the point of the daemon is that a run costs little more than starting Python.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing's import would cost every daemon run about 5 ms
if TYPE_CHECKING:  # pragma: no cover
    from typing import Sequence


DAEMON_FLAG = "--daemon"


def wants_daemon(argv: Sequence[str]) -> bool:
    """``check ... --daemon ...``, the flag before any ``--`` (after it, it names a file)."""
    if not argv or argv[0] != "check":
        return False
    options = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    return DAEMON_FLAG in options


def main() -> None:
    argv = sys.argv[1:]
    if wants_daemon(argv):
        # Only here: the client's imports (sockets, hashing) are a cost a local run skips.
        from .daemon.client import EXIT_INTERRUPTED, run

        try:
            status = run(argv)
        except KeyboardInterrupt:  # before the daemon took the check (it handles its own)
            print("kerascheck: interrupted", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)
        if status is not None:
            sys.exit(status)
    from .cli import main as command

    command()
