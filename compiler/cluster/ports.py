"""Loopback ports for the control planes, chosen outside the kernel's ephemeral range.

Upstream defaults (2379/2380/6443/10257) would collide between two clusters, so every
listener gets a port of its own. Not one the kernel hands out (bind to port 0): those come
from the ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, read at run time), the
same range every outgoing connection on the machine takes its source port from, so a port
recorded by a stopped cluster was often taken by then and a restart failed. Instead a port is
drawn at random below or above that range (from 1024, or the unprivileged start, up to 65535)
and kept if nothing is bound to it. A port recorded by a stopped cluster is reused while it is
still free, which keeps etcd's stored peer URL and old kubeconfigs valid; one taken meanwhile
(another program listening there) is re-picked by the caller (controlplane.py).

Without the /proc file (not Linux) or without room outside the range, the kernel picks.
"""
from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterable
from pathlib import Path

LOOPBACK = "127.0.0.1"
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
UNPRIVILEGED_START_FILE = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
LOWEST = 1024  # never a well-known port, even where unprivileged processes could bind one
ATTEMPTS = 200  # random draws before leaving the choice to the kernel


def ephemeral_range() -> tuple[int, int] | None:
    """The kernel's ephemeral port range (low, high), or None when it cannot be read."""
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE_FILE.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return low, high


def candidate_ranges() -> list[range]:
    """Where ports are drawn from: everything a user may bind, minus the ephemeral range."""
    ephemeral = ephemeral_range()
    if ephemeral is None:
        return []
    try:
        lowest = max(LOWEST, int(UNPRIVILEGED_START_FILE.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        lowest = LOWEST
    low, high = ephemeral
    return [r for r in (range(lowest, low), range(high + 1, 65536)) if len(r) > 0]


def outside_ephemeral(port: int) -> bool:
    """True when `port` is not one the kernel may hand out as a source or port-0 port."""
    ephemeral = ephemeral_range()
    return ephemeral is None or not ephemeral[0] <= port <= ephemeral[1]


def pick_ports(names: list[str], preferred: dict[str, int] | None = None,
               avoid: Iterable[int] = ()) -> dict[str, int]:
    """One free 127.0.0.1 TCP port per name, preferring `preferred[name]` while it is free.

    All sockets stay bound until every port is chosen, so the same call never returns a
    port twice, nor one in `avoid`; the short gap until the component binds it is the
    accepted race (the caller re-picks when a component reports the address in use).
    """
    preferred = preferred or {}
    taken = set(avoid)
    ranges = candidate_ranges()
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            wanted = preferred.get(name, 0)
            sock = None
            if wanted and wanted not in taken:
                sock = _bound(wanted)
            if sock is None:
                sock, wanted = _random_port(ranges, taken)
            stack.enter_context(sock)
            ports[name] = wanted
            taken.add(wanted)
    return ports


def _random_port(ranges: list[range], taken: set[int]) -> tuple[socket.socket, int]:
    total = sum(len(r) for r in ranges)
    for _ in range(ATTEMPTS if total else 0):
        index = random.randrange(total)
        for r in ranges:
            if index < len(r):
                port = r[index]
                break
            index -= len(r)
        if port in taken:
            continue
        sock = _bound(port)
        if sock is not None:
            return sock, port
    sock = _socket()  # no room outside the range (or no /proc): the kernel's choice
    sock.bind((LOOPBACK, 0))
    return sock, sock.getsockname()[1]


def _bound(port: int) -> socket.socket | None:
    sock = _socket()
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        return None
    return sock


def is_free(port: int) -> bool:
    """True when nothing is bound to 127.0.0.1:`port` (a restart can take it again)."""
    sock = _bound(port)
    if sock is None:
        return False
    sock.close()
    return True


def _socket() -> socket.socket:
    """A TCP socket with SO_REUSEADDR, as Go's listeners use, so TIME_WAIT does not count as busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock
