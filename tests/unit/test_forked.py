"""compiler.forked: a function's result from a forked child, and the fallbacks when the child
cannot deliver one (it raised, it died, or it is stopped early)."""
from __future__ import annotations

import os

from compiler.forked import Forked


def test_the_result_comes_from_the_child():
    forked = Forked(os.getpid)
    assert forked.join() != os.getpid()  # the child's own pid: it ran there
    assert forked.folder is None  # the private folder is gone


def test_a_child_that_raises_is_redone_here():
    calls = []

    def flaky() -> str:
        calls.append(os.getpid())
        if len(calls) == 1 and os.getpid() != parent:
            raise RuntimeError("only in the child")
        return "ok"

    parent = os.getpid()
    assert Forked(flaky).join() == "ok"
    assert calls == [parent]  # the child's call is not seen here; this process ran it again


def test_a_child_that_dies_is_redone_here():
    parent = os.getpid()

    def dies_in_child() -> int:
        if os.getpid() != parent:
            os._exit(3)
        return 42

    assert Forked(dies_in_child).join() == 42


def test_kill_stops_a_running_child_and_cleans_up():
    import time

    forked = Forked(lambda: time.sleep(30))
    pid, folder = forked.pid, forked.folder
    forked.kill()
    assert forked.pid == 0 and folder is not None and not folder.exists()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
