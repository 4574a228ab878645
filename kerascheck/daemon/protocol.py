"""What the daemon and its client agree on: the socket's place, message framing, identity.

Security rests on the file system: the socket lives in a folder only the user can enter
(created mode 0700, refused when someone else owns it or others may enter it), and the
daemon also checks the peer's user id where the platform reports it. The daemon only
ever runs ``kerascheck check``, as the user who started it.

Staleness: the socket's name is a fingerprint of the Python interpreter and of
kerascheck's code (every module's size and modification time), so a client never
reaches a daemon running other code; a daemon left behind by an upgrade stops after its
idle timeout. Settings, the cache and the files are read afresh on every request.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys

from ..installation import PACKAGE_DIR, code_fingerprint

# The client imports this module on every run, and importing typing costs it about 5 ms:
# annotations are never evaluated (``from __future__ import annotations``).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    Message = Dict[str, Any]

# Bumped whenever the messages below change meaning.
PROTOCOL_VERSION = 1
# A daemon nobody asked anything for this long stops.
DEFAULT_IDLE_TIMEOUT = 30 * 60
# The standard streams a client hands over: stdin, stdout, stderr.
STREAMS = (0, 1, 2)
# sun_path holds 108 bytes on Linux and 104 on macOS, the terminating NUL included.
_MAX_SOCKET_PATH = 100
_LENGTH = struct.Struct("!I")
_MAX_MESSAGE = 64 * 1024 * 1024


class DaemonUnavailable(Exception):
    """No daemon can be used here (platform, permissions): run in this process."""


def supported() -> bool:
    return os.name == "posix" and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def runtime_dir() -> str:
    """The user's private folder for daemon sockets, created if missing."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        folder = os.path.join(base, "kerascheck")
    else:
        # tempfile.gettempdir() says the same on POSIX, for an import the client avoids.
        temporary = os.environ.get("TMPDIR") or "/tmp"
        folder = os.path.join(temporary, f"kerascheck-{os.getuid()}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise DaemonUnavailable(f"cannot create {folder}: {error.strerror}") from None
    info = os.lstat(folder)
    # Another user could have made the folder first (in a shared /tmp) to listen in.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DaemonUnavailable(f"{folder} is not a folder private to this user")
    return folder


def socket_path() -> str:
    """The socket of the daemon for this interpreter and this kerascheck code."""
    identity = "\0".join(
        (str(PROTOCOL_VERSION), sys.executable, sys.version, PACKAGE_DIR, code_fingerprint())
    )
    name = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    path = os.path.join(runtime_dir(), f"{name}.sock")
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise DaemonUnavailable(f"the socket path {path} is too long for this platform")
    return path


def send_message(connection: socket.socket, message: Message, fds: Sequence[int] = ()) -> None:
    body = json.dumps(message).encode()
    data = _LENGTH.pack(len(body)) + body
    sent = socket.send_fds(connection, [data], list(fds)) if fds else connection.send(data)
    if sent < len(data):
        connection.sendall(data[sent:])


def receive_message(
    connection: socket.socket, max_fds: int = 0
) -> Tuple[Optional[Message], List[int]]:
    """The next message and the file descriptors that came with it; (None, []) when the
    other side closed the connection. Reads exactly that message's bytes: the next one
    (the daemon's answer follows its acceptance at once) stays in the socket."""
    fds: List[int] = []
    header = _receive_exactly(connection, _LENGTH.size, max_fds, fds)
    if header is None:
        _close(fds)
        return None, []
    (length,) = _LENGTH.unpack(header)
    if length > _MAX_MESSAGE:
        _close(fds)
        raise ConnectionError("message too large")
    body = _receive_exactly(connection, length, 0, fds)
    if body is None:
        _close(fds)
        return None, []
    return json.loads(body), fds


def _receive_exactly(
    connection: socket.socket, size: int, max_fds: int, fds: List[int]
) -> Optional[bytes]:
    data = b""
    while len(data) < size:
        wanted = min(size - len(data), 1 << 20)
        if max_fds and not data:  # descriptors ride on the first bytes of the message
            chunk, received, _flags, _address = socket.recv_fds(connection, wanted, max_fds)
            fds.extend(received)
        else:
            chunk = connection.recv(wanted)
        if not chunk:
            return None
        data += chunk
    return data


def _close(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


def peer_user(connection: socket.socket) -> Optional[int]:
    """The user id of the process at the other end, where the platform says (Linux)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    credentials = struct.Struct("3i")  # struct ucred: pid, uid, gid
    _pid, uid, _gid = credentials.unpack(
        connection.getsockopt(socket.SOL_SOCKET, option, credentials.size)
    )
    return uid
