"""Free loopback ports, so several control planes (multi-cluster tests) run side by side.

Upstream defaults (2379/2380/6443/10257) would collide between two clusters, so every
listener gets a port the kernel hands out. A port recorded by a stopped cluster is reused
when it is still free, which keeps etcd's stored peer URL and old kubeconfigs valid.
"""
from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def pick_ports(names: list[str], preferred: dict[str, int] | None = None) -> dict[str, int]:
    """One free 127.0.0.1 TCP port per name, preferring `preferred[name]` when it is free.

    All sockets stay bound until every port is chosen, so the same call never returns a
    port twice; the short gap until the component binds it is the usual accepted race.
    """
    preferred = preferred or {}
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            sock = stack.enter_context(_socket())
            wanted = preferred.get(name, 0)
            if wanted and wanted not in ports.values():
                try:
                    sock.bind((LOOPBACK, wanted))
                except OSError:
                    wanted = 0
            if not wanted:
                sock.bind((LOOPBACK, 0))
            ports[name] = sock.getsockname()[1]
    return ports


def is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (a restart can take it again)."""
    with _socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _socket() -> socket.socket:
    """A TCP socket with SO_REUSEADDR, as Go's listeners use, so TIME_WAIT does not count as busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock
