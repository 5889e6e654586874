"""The `tenantc` side of a server: hand a served command to a running `tenantc server`.

`run_served(argv, command)` returns the command's exit code when a server ran it, or None
when none would (no server, another user's or interpreter's, its code changed, any error
before it started the command): the caller then runs the command itself, as if no server
existed. Once the server has started the command, its exit code is final; Ctrl-C is passed on.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import sys
from types import FrameType

from compiler.serve import protocol

CONNECT_TIMEOUT = 2.0  # seconds for the server to take the request


def run_served(argv: list[str], command: str | None) -> int | None:
    if command not in protocol.SERVED or os.environ.get(protocol.OFF_ENV, "").lower() in ("off", "0", "no"):
        return None
    try:
        folder = protocol.private_dir(protocol.socket_dir(), create=False)
    except protocol.ServerDirError:
        return None
    path = protocol.socket_path(folder)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        return _served(sock, argv)
    except (OSError, ValueError, struct.error):
        return None
    finally:
        sock.close()


def _served(sock: socket.socket, argv: list[str]) -> int | None:
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask(),
               "identity": protocol.identity(), "streams": _streams()}
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    data = protocol.encode_request(request)
    sent = socket.send_fds(sock, [data], [0, 1, 2])  # a stream socket may take part of it
    sock.sendall(data[sent:])
    answer = protocol.read_exact(sock, 1)
    if answer != protocol.RUNNING:
        return None  # refused (stale, mismatch) or gone before it began: run it here
    protocol.read_exact(sock, 4)
    sock.settimeout(None)
    previous = signal.signal(signal.SIGINT, _interrupt_via(sock))
    try:
        while True:
            kind = protocol.read_exact(sock, 1)
            if kind == protocol.EXITED:
                code = struct.unpack(">i", protocol.read_exact(sock, 4))[0]
                return code
            if not kind:  # the child died without a word (killed): as a crash of the command
                print("error: tenantc server's process ended without an exit code", file=sys.stderr)
                return 1
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_via(sock: socket.socket):
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        try:
            sock.send(protocol.INTERRUPT)
        except OSError:
            pass
    return interrupt


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _streams() -> dict[str, list[str | None]]:
    """How this process writes text: the child's own streams are made alike."""
    return {name: [getattr(stream, "encoding", None), getattr(stream, "errors", None)]
            for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr))
            if stream is not None}

