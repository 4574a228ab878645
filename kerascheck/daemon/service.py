"""The daemon: one process per user and installation, serving ``check`` requests in turn.

Started in the background by the first ``check --daemon`` (or ``kerascheck daemon
start``), it loads libcst, the rules and the output formats once, then answers requests
on its socket one at a time until it has been idle for its timeout or is told to stop.

A request brings the client's command line, working folder, environment and standard
streams (passed as file descriptors). For its duration the daemon makes those its own
(``dup2`` onto 0, 1 and 2, ``chdir``, ``os.environ``) and runs the same click command a
local run runs, so terminals, colours, pipes and stdin behave as they would there; then
it puts its own back. What it keeps between requests is only the parse of each file it
checked (``ParserMemory``), which re-parses just the statements that changed; findings
still come from a complete analysis of the new text.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from ..installation import PACKAGE_DIR
from .protocol import (
    DEFAULT_IDLE_TIMEOUT,
    STREAMS,
    peer_user,
    receive_message,
    send_message,
)

if TYPE_CHECKING:  # pragma: no cover
    from .protocol import Message

EXIT_FAILURE, EXIT_INTERRUPTED = 2, 130
# A client that connects must say what it wants at once; a silent one would block the
# daemon for everybody else.
REQUEST_TIMEOUT = 10.0
# How long a starting daemon waits for an older one's answer (a busy one is left alone).
SUPERSEDED_TIMEOUT = 1.0


class Daemon:
    def __init__(self, path: str, idle_timeout: float) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.started = time.time()
        self.requests = 0
        self._stopping = False
        self._checking = False

    def serve(self) -> int:
        lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # started twice at once: the other one serves
            os.close(lock)
            return 0
        try:
            self._load()
            listener = self._listen()
            self._stop_superseded()
            try:
                self._loop(listener)
            finally:
                self._remove_socket(listener)
        finally:
            os.close(lock)
        return 0

    def _load(self) -> None:
        """Import now what a check would import on its first use."""
        from ..cli import main
        from ..engine import analysis  # noqa: F401
        from ..engine.incremental import ParserMemory
        from ..output import load_all
        from ..registry import all_rules

        load_all()
        all_rules()
        self._command = main
        self.parsers = ParserMemory()
        # Where the daemon's own standard streams point between requests.
        self._own_streams = [os.dup(fd) for fd in STREAMS]
        signal.signal(signal.SIGINT, self._on_interrupt)
        signal.signal(signal.SIGTERM, self._on_terminate)

    def _listen(self) -> socket.socket:
        if os.path.lexists(self.path):  # we hold the lock: whoever made it is gone
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino
        listener.listen(16)
        listener.settimeout(self.idle_timeout)
        return listener

    def _stop_superseded(self) -> None:
        """Stop the daemons this interpreter ran for this package's earlier code (before an
        upgrade, or an edit of a checkout): no client can reach them any more."""
        from .client import ask

        folder = os.path.dirname(self.path)
        for name in sorted(os.listdir(folder)):
            other = os.path.join(folder, name)
            if not name.endswith(".sock") or other == self.path:
                continue
            status = ask(other, "status", SUPERSEDED_TIMEOUT)
            if status and (status.get("executable"), status.get("package")) == _identity():
                ask(other, "stop", SUPERSEDED_TIMEOUT)

    def _remove_socket(self, listener: socket.socket) -> None:
        listener.close()
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    def _loop(self, listener: socket.socket) -> None:
        while not self._stopping:
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                return  # idle for too long
            except InterruptedError:
                continue
            with connection:
                try:
                    self._handle(connection)
                except Exception:  # one broken request must not end the service
                    traceback.print_exc()

    def _handle(self, connection: socket.socket) -> None:
        uid = peer_user(connection)
        if uid is not None and uid != os.getuid():
            return
        connection.settimeout(REQUEST_TIMEOUT)
        message, fds = receive_message(connection, max_fds=len(STREAMS))
        connection.settimeout(None)
        if message is None:
            return
        self.requests += 1
        command = message.get("command")
        if command == "check" and len(fds) == len(STREAMS) and _is_check(message.get("argv")):
            send_message(connection, {"accepted": True, "pid": os.getpid()})
            try:
                send_message(connection, {"exit": self._check(message, fds, connection)})
            except Exception as error:  # the client says it; the log keeps the details
                self._log(traceback.format_exc())
                send_message(
                    connection,
                    {"exit": EXIT_FAILURE, "error": f"internal error in the daemon: {error!r}"},
                )
            return
        for fd in fds:
            os.close(fd)
        if command == "status":
            send_message(connection, self.status())
        elif command == "stop":
            self._stopping = True
            send_message(connection, {"stopped": True, "pid": os.getpid()})
        else:
            send_message(connection, {"accepted": False})

    def status(self) -> Message:
        from .. import __version__

        return {
            "pid": os.getpid(),
            "version": __version__,
            "socket": self.path,
            "uptime": round(time.time() - self.started, 1),
            "requests": self.requests,
            "idle_timeout": self.idle_timeout,
            "files_remembered": len(self.parsers),
            "executable": _identity()[0],
            "package": _identity()[1],
        }

    def _check(self, message: Message, fds: List[int], connection: socket.socket) -> int:
        own_cwd, own_environment = os.getcwd(), dict(os.environ)
        own_stdio = (sys.stdin, sys.stdout, sys.stderr)
        watcher = _InterruptWatcher(connection)
        try:
            for fd, target in zip(fds, STREAMS):
                os.dup2(fd, target)
            _open_standard_streams(message.get("encodings") or {})
            os.environ.clear()
            os.environ.update(message.get("env") or {})
            try:
                os.chdir(message["cwd"])
            except OSError as error:
                print(
                    f"kerascheck: error: cannot enter {message['cwd']}: {error.strerror}",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            watcher.start()
            self._checking = True
            try:
                return self._run_command(
                    message["argv"], str(message.get("program") or "kerascheck")
                )
            finally:
                self._checking = False
        finally:
            watcher.stop()
            for fd in fds:
                os.close(fd)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):  # the client's pipe closed early
                    pass
            sys.stdin, sys.stdout, sys.stderr = own_stdio
            for own, target in zip(self._own_streams, STREAMS):
                os.dup2(own, target)
            os.environ.clear()
            os.environ.update(own_environment)
            os.chdir(own_cwd)

    def _run_command(self, argv: Sequence[str], program: str) -> int:
        try:
            self._command.main(args=list(argv), prog_name=program, obj=self.parsers)
        except SystemExit as exit:
            return _exit_status(exit.code)
        except KeyboardInterrupt:  # before the command began (its own handler prints)
            print("kerascheck: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as error:
            self._log(traceback.format_exc())
            print(f"kerascheck: error: internal error in the daemon: {error!r}", file=sys.stderr)
            return EXIT_FAILURE
        return 0

    def _log(self, text: str) -> None:
        """To the daemon's log: its own standard error, whatever descriptor 2 is now."""
        os.write(self._own_streams[2], text.encode("utf-8", "backslashreplace"))

    def _on_interrupt(self, signum: int, frame: object) -> None:
        # Only a running check is interrupted; a late signal finds the daemon between
        # requests and must not stop it.
        if self._checking:
            raise KeyboardInterrupt

    def _on_terminate(self, signum: int, frame: object) -> None:
        self._stopping = True
        if self._checking:
            raise KeyboardInterrupt
        raise SystemExit(0)


class _InterruptWatcher(threading.Thread):
    """Reads the client's connection while a check runs: the client's Ctrl-C (or its end)
    interrupts the check as Ctrl-C interrupts a local run."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__(name="kerascheck-interrupts", daemon=True)
        self._connection = connection
        self._active = True
        self._lock = threading.Lock()
        self._main = threading.main_thread().ident

    def run(self) -> None:
        while True:
            try:
                message, _ = receive_message(self._connection)
            except (OSError, ValueError):
                message = None
            with self._lock:
                if not self._active:
                    return
                if message is None or message.get("command") == "interrupt":
                    signal.pthread_kill(self._main, signal.SIGINT)  # type: ignore[arg-type]
                if message is None:
                    return

    def stop(self) -> None:
        with self._lock:
            self._active = False
        if self.is_alive():
            try:
                self._connection.shutdown(socket.SHUT_RD)  # wakes the read
            except OSError:
                pass
            self.join()


def _identity() -> Tuple[str, str]:
    """What makes daemons the same installation, whatever their code: the interpreter and
    the package's folder."""
    return sys.executable, PACKAGE_DIR


def _is_check(argv: object) -> bool:
    return (
        isinstance(argv, list)
        and bool(argv)
        and argv[0] == "check"
        and all(isinstance(a, str) for a in argv)
    )


def _open_standard_streams(encodings: Message) -> None:
    """New text streams over descriptors 0 to 2, as the client's Python set its own."""

    def stream(fd: int, mode: str, name: str) -> io.TextIOWrapper:
        encoding, errors = encodings.get(name) or ("utf-8", "strict")
        line_buffered = mode == "w" and os.isatty(fd)
        return open(  # noqa: SIM115 (lives for the request; the descriptor stays open)
            fd,
            mode,
            buffering=1 if line_buffered else -1,
            encoding=encoding,
            errors=errors,
            closefd=False,
        )

    sys.stdin = stream(0, "r", "stdin")
    sys.stdout = stream(1, "w", "stdout")
    sys.stderr = stream(2, "w", "stderr")


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kerascheck.daemon.service")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    args = parser.parse_args(argv)
    return Daemon(args.socket, args.idle_timeout).serve()


if __name__ == "__main__":
    sys.exit(main())
