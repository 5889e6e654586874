"""The contract between `tenantc` (client) and `tenantc server`: where the socket is, what may
be served, and the messages. Standard library only: the client imports this before anything.

A request is a 4-byte big-endian length, then a JSON object, sent with `sendmsg` with the
client's stdin, stdout and stderr attached (SCM_RIGHTS; what the socket did not take at once
follows). The server answers with single-letter frames:
  R<4-byte pid>   running in child <pid>
  X<4-byte code>  finished with exit code <code>
  S               refused: the server's code changed on disk (it exits; run cold)
  M<text>         refused: another interpreter or settings (run cold)
A client that wants to interrupt sends `I` (as Ctrl-C would); closing the connection does too.
"""
from __future__ import annotations

import json
import os
import stat
import struct
import sys
import zlib

# Local, file-system only, one-shot commands: a server runs them, and a process that runs one
# ends with it, so it runs without the cyclic collector (compiler.cli.console_main).
SERVED = frozenset({"compile", "check", "review"})
OFF_ENV = "TENANTC_SERVER"  # "off": never use a server
DIR_ENV = "TENANTC_SERVER_DIR"  # where the socket lives (default: the user's runtime folder)
MAX_REQUEST = 1 << 20  # bytes of JSON a request may have (argv and environment)
LENGTH = struct.Struct(">I")
RUNNING, EXITED, STALE, MISMATCH, INTERRUPT = b"R", b"X", b"S", b"M", b"I"


class ServerDirError(Exception):
    """The socket folder is not the user's own private folder."""


def socket_dir() -> str:
    """$TENANTC_SERVER_DIR, else $XDG_RUNTIME_DIR/tenantc, else <temp>/tenantc-<uid>. Paths
    are strings here: pathlib would add milliseconds to every client's start."""
    given = os.environ.get(DIR_ENV)
    if given:
        return given
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "tenantc")
    import tempfile  # only here: it imports random and shutil, a few ms of the client's start

    return os.path.join(tempfile.gettempdir(), f"tenantc-{os.getuid()}")


def package_dir() -> str:
    """The folder of the `compiler` package this process runs, symlinks resolved."""
    return os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def identity() -> dict[str, object]:
    """What a client and its server must share: the interpreter, the package, where libraries
    come from (sys.path but its first entry, the script's folder or `python -m`'s working
    folder; PYTHONPATH and site-packages follow it) and pydantic's plugin setting."""
    return {"executable": sys.executable, "version": sys.version,
            "package": package_dir(),
            "path": sys.path[1:], "plugins": os.environ.get("PYDANTIC_DISABLE_PLUGINS", "__all__")}


def socket_path(folder: str | None = None) -> str:
    """One socket per interpreter and package (a checkout's venv and an installed tenantc differ).
    Short (sockets' paths hold about 100 bytes): a checksum names it; the handshake compares
    the whole identity."""
    tag = zlib.crc32(f"{sys.executable}\0{package_dir()}".encode())
    return os.path.join(folder or socket_dir(), f"server-{tag:08x}.sock")


def private_dir(folder: str, create: bool) -> str:
    """`folder`, checked to be a real folder of this user that no one else may enter;
    created (0700) when `create`. Raises ServerDirError otherwise."""
    if create:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ServerDirError(f"{folder}: {exc.strerror}") from None
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise ServerDirError(f"{folder}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ServerDirError(f"{folder}: not a folder (a symlink or a file stands there)")
    if info.st_uid != os.getuid():
        raise ServerDirError(f"{folder}: owned by uid {info.st_uid}, not by you")
    if info.st_mode & 0o077:
        raise ServerDirError(f"{folder}: others may enter it (mode {stat.S_IMODE(info.st_mode):o}); chmod 700 it")
    return folder


def encode_request(request: dict) -> bytes:
    body = json.dumps(request, separators=(",", ":")).encode()
    if len(body) > MAX_REQUEST:
        raise ValueError("request too large")
    return LENGTH.pack(len(body)) + body


def frame(kind: bytes, number: int | None = None, text: str = "") -> bytes:
    if number is not None:
        return kind + struct.pack(">i", number)
    return kind + text.encode()[:1000]


def read_exact(sock, size: int) -> bytes:
    """`size` bytes from a stream socket, or fewer when it closes first."""
    out = b""
    while len(out) < size:
        chunk = sock.recv(size - len(out))
        if not chunk:
            break
        out += chunk
    return out
