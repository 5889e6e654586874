"""ThrottledPool (compiler/kube/pool.py): at most the throttle's window busy, threads only as many as
the window has needed, results in the items' order."""
from __future__ import annotations

import threading
import time

import pytest

from compiler.kube.pool import ThrottledPool


class Window:
    """A throttle whose limit the test sets."""

    def __init__(self, limit: int):
        self.limit = limit


class Busy:
    """fn for the pool: records how many calls run at once; `on_call(n)` may change the window."""

    def __init__(self, seconds: float = 0.002, on_call=None):
        self.seconds, self.on_call = seconds, on_call
        self.now = self.most = self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, item):
        with self._lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
            calls = self.calls
        if self.on_call:
            self.on_call(calls)
        time.sleep(self.seconds)
        with self._lock:
            self.now -= 1
        return item * 10


def test_results_come_back_in_the_items_order_and_every_item_runs_once():
    with ThrottledPool(Window(4), ceiling=8) as pool:
        busy = Busy(0.0005)
        assert pool.map(busy, list(range(200))) == [i * 10 for i in range(200)]
        assert busy.calls == 200
        assert pool.map(busy, []) == []


def test_never_more_busy_than_the_window_and_no_more_threads_than_it_needed():
    window = Window(3)
    with ThrottledPool(window, ceiling=64) as pool:
        busy = Busy()
        pool.map(busy, list(range(60)))
        assert busy.most == pool.highest_busy == 3
        assert pool.threads == 3  # not the ceiling: idle threads cost the server a connection each


def test_a_window_that_grows_mid_run_gets_new_threads_up_to_the_ceiling_and_one_that_shrinks_parks_them():
    window = Window(2)

    def steer(calls: int) -> None:
        if calls == 10:
            window.limit = 100  # the controller grew the window: past the ceiling, even
        if calls == 150:
            window.limit = 1

    with ThrottledPool(window, ceiling=6) as pool:
        busy = Busy(0.003, steer)
        pool.map(busy, list(range(200)))
        assert pool.threads == 6 and busy.most == 6  # grew to the ceiling, not to the window
        later = Busy(0.001)
        pool.map(later, list(range(30)))  # the threads persist; only one of them may be busy now
        assert later.most == 1 and pool.threads == 6


def test_an_exception_is_raised_after_every_other_item_finished():
    busy = Busy(0.001)

    def fn(item):
        if item == 3:
            raise ValueError("three")
        return busy(item)

    with ThrottledPool(Window(4), ceiling=4) as pool:
        with pytest.raises(ValueError, match="three"):
            pool.map(fn, list(range(40)))
        assert busy.calls == 39
        assert pool.map(busy, [1, 2]) == [10, 20]  # usable afterwards


def test_close_ends_the_threads():
    pool = ThrottledPool(Window(3), ceiling=3)
    pool.map(Busy(0.0), list(range(10)))
    threads = list(pool._threads)
    pool.close()
    assert threads and not any(t.is_alive() for t in threads)
    pool.close()  # twice is harmless
