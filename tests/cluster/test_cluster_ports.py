"""Port choice for local control planes, offline: outside the ephemeral range read at run time,
recorded ports kept while free, taken ones re-picked (no processes started here)."""
from __future__ import annotations

import socket

import pytest

from compiler.cluster import ports


@pytest.fixture
def ephemeral(tmp_path, monkeypatch):
    """Pretend the kernel's ephemeral range is `low high` (the /proc file is read at run time)."""

    def set_range(text: str | None) -> None:
        path = tmp_path / "ip_local_port_range"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE_FILE", path)

    return set_range


def test_ports_are_drawn_outside_the_ephemeral_range(ephemeral):
    ephemeral("20000\t60999\n")
    for _ in range(20):
        chosen = ports.pick_ports(["etcd-client", "etcd-peer", "apiserver", "controller-manager"])
        assert len(set(chosen.values())) == 4
        assert all(1024 <= p < 20000 or p > 60999 for p in chosen.values()), chosen
        assert all(ports.outside_ephemeral(p) for p in chosen.values())


def test_the_real_range_of_this_machine_is_read(ephemeral):
    low, high = ports.ephemeral_range() or (None, None)
    if low is None:
        pytest.skip("no /proc/sys/net/ipv4/ip_local_port_range here")
    chosen = ports.pick_ports(["a", "b"])
    assert all(not low <= p <= high for p in chosen.values())


def test_a_recorded_port_is_kept_while_free_and_re_picked_when_taken(ephemeral):
    ephemeral("30000 60999")
    first = ports.pick_ports(["apiserver", "etcd-client"])
    assert ports.pick_ports(["apiserver", "etcd-client"], preferred=first) == first
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", first["apiserver"]))
    squatter.listen()
    try:
        assert not ports.is_free(first["apiserver"])
        again = ports.pick_ports(["apiserver", "etcd-client"], preferred=first)
        assert again["etcd-client"] == first["etcd-client"]
        assert again["apiserver"] != first["apiserver"] and ports.outside_ephemeral(again["apiserver"])
    finally:
        squatter.close()


def test_avoid_and_no_duplicates_even_when_preferred_collide(ephemeral):
    ephemeral("30000 60999")
    free, avoided = ports.pick_ports(["free", "avoided"]).values()
    chosen = ports.pick_ports(["a", "b", "c"], preferred={"a": free, "b": free, "c": avoided}, avoid=[avoided])
    assert chosen["a"] == free and chosen["b"] not in (free, avoided) and chosen["c"] != avoided
    assert len(set(chosen.values())) == 3


def test_without_the_proc_file_the_kernel_chooses(ephemeral):
    ephemeral(None)
    assert ports.ephemeral_range() is None and ports.candidate_ranges() == []
    chosen = ports.pick_ports(["a", "b"])
    assert len(set(chosen.values())) == 2 and all(p > 0 for p in chosen.values())


def test_no_room_outside_the_range_falls_back_to_the_kernel(ephemeral):
    ephemeral("1024 65535")
    assert ports.candidate_ranges() == []
    assert len(ports.pick_ports(["a"])) == 1
