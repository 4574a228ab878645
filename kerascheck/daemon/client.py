"""The client side of ``kerascheck check --daemon``: standard library only, so that it
starts in a few milliseconds.

``run`` returns the exit status of the check the daemon ran, or None when no daemon could
take it (none running yet, no support on this platform, anything odd before the check
began). Then the caller checks in its own process, exactly as without ``--daemon``; when
no daemon was running, one is started in the background for the next run.
"""

from __future__ import annotations

import os
import socket
import sys

from ..installation import PACKAGE_DIR
from .protocol import (
    DEFAULT_IDLE_TIMEOUT,
    STREAMS,
    TYPE_CHECKING,
    DaemonUnavailable,
    receive_message,
    send_message,
    socket_path,
    supported,
)

if TYPE_CHECKING:  # pragma: no cover (typing costs the client's start-up)
    from typing import List, Optional, Sequence

    from .protocol import Message

EXIT_FAILURE, EXIT_INTERRUPTED = 2, 130


def run(argv: Sequence[str]) -> Optional[int]:
    if not supported():
        return None
    try:
        path = socket_path()
        cwd = os.getcwd()
    except (DaemonUnavailable, OSError):
        return None
    connection = connect(path)
    if connection is None:
        start_in_background(path)
        return None
    with connection:
        return _check(connection, argv, cwd)


def connect(path: str, timeout: Optional[float] = None) -> Optional[socket.socket]:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        connection.connect(path)
    except OSError:  # no daemon, or one that died and left its socket behind
        connection.close()
        return None
    return connection


def _check(connection: socket.socket, argv: Sequence[str], cwd: str) -> Optional[int]:
    request: Message = {
        "command": "check",
        "argv": list(argv),
        "program": program_name(),
        "cwd": cwd,
        "env": dict(os.environ),
        # How this process would have encoded its output; the daemon's streams follow.
        "encodings": {
            "stdin": [sys.stdin.encoding, sys.stdin.errors] if sys.stdin else None,
            "stdout": [sys.stdout.encoding, sys.stdout.errors] if sys.stdout else None,
            "stderr": [sys.stderr.encoding, sys.stderr.errors] if sys.stderr else None,
        },
    }
    try:
        send_message(connection, request, STREAMS)
        accepted, _ = receive_message(connection)
    except (OSError, ValueError):  # a closed standard stream, a daemon going away
        return None
    if accepted is None or not accepted.get("accepted"):
        return None  # nothing was run: checking here is safe
    interrupts = 0
    while True:
        try:
            finished, _ = receive_message(connection)
            break
        except KeyboardInterrupt:
            # The daemon stops the check and prints what an interrupted run prints; a
            # second Ctrl-C does not wait for it.
            interrupts += 1
            if interrupts > 1:
                return EXIT_INTERRUPTED
            try:
                send_message(connection, {"command": "interrupt"})
            except OSError:
                return EXIT_INTERRUPTED
        except (OSError, ValueError):
            finished = None
            break
    if finished is None or not isinstance(finished.get("exit"), int):
        print(
            "kerascheck: error: the daemon stopped during the check; run it again", file=sys.stderr
        )
        return EXIT_FAILURE
    if finished.get("error"):
        print(f"kerascheck: error: {finished['error']}", file=sys.stderr)
    return finished["exit"]


def program_name() -> str:
    """The name click would give this program in its messages (``python -m kerascheck``
    when run so), which the daemon cannot tell from its own command line."""
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    command = sys.argv[0] if sys.argv and sys.argv[0] else "kerascheck"
    if not package:
        return os.path.basename(command)
    name = os.path.splitext(os.path.basename(command))[0]
    return f"python -m {package if name == '__main__' else f'{package}.{name}'}"


def daemon_command(path: str, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> List[str]:
    return [
        sys.executable,
        "-m",
        "kerascheck.daemon.service",
        "--socket",
        path,
        "--idle-timeout",
        str(idle_timeout),
    ]


def start_in_background(path: str, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> Optional[int]:
    """Start a daemon serving ``path``, detached from this process and its terminal; its
    process id (None when it could not be started)."""
    import subprocess  # here: most runs never start a daemon, and the import costs

    # The daemon must import this very kerascheck, and nothing from the folder it starts
    # in (``-m`` puts that folder first on the path): it starts in its private folder.
    environment = dict(os.environ)
    parent = os.path.dirname(PACKAGE_DIR)
    environment["PYTHONPATH"] = os.pathsep.join(
        part for part in (parent, environment.get("PYTHONPATH")) if part
    )
    try:
        with open(path + ".log", "ab") as log:
            process = subprocess.Popen(
                daemon_command(path, idle_timeout),
                cwd=os.path.dirname(path),
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
    except OSError:
        return None
    return process.pid


def ask(path: str, command: str, timeout: Optional[float] = None) -> Optional[Message]:
    """A one-message exchange with the daemon at ``path`` (status, stop); None when none
    answers (in ``timeout`` seconds, when given)."""
    connection = connect(path, timeout)
    if connection is None:
        return None
    with connection:
        try:
            send_message(connection, {"command": command})
            reply, _ = receive_message(connection)
        except (OSError, ValueError):
            return None
    return reply
