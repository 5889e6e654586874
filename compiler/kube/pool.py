"""Threads that follow the throttle: as many workers busy as the client's window lets requests fly.

apply sends thousands of requests through one KubeClient whose window (window.py) grows and
shrinks with the server's answers. A thread pool as deep as the window's ceiling keeps every
thread holding a request that waits in Throttle.acquire: each finished request then wakes a
waiter (often for nothing: the thread that finished takes the slot back first), the threads
take turns on their own kept-alive connections, and each of them opens one (a TLS handshake
the API server pays too). On a machine where client and server share the CPU, that work is
taken from the server.

ThrottledPool runs `map(fn, items)` on workers of which at most the window are busy: a
worker takes the next item only while fewer than `throttle.limit` workers are busy, else it
parks (keeping its thread and connection for when the window grows again); a worker that
finishes wakes parked ones and starts new threads, up to the ceiling, when the window grew
past the threads there are. Results come back in the order of the items, as Executor.map's
do. Workers live until close(), across calls, so connections stay warm from stage to stage.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Limit(Protocol):
    """What the pool reads of a throttle (compiler.kube.client.Throttle)."""

    @property
    def limit(self) -> int: ...


class ThrottledPool:
    """Worker threads, at most `ceiling`, at most `throttle.limit` of them busy at a time."""

    def __init__(self, throttle: Limit, ceiling: int):
        self._throttle = throttle
        self._ceiling = max(1, ceiling)
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # workers park here
        self._done = threading.Condition(lock)  # map's caller waits here for the last item
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._queue: list[tuple[int, Any]] = []  # (index, item) not yet taken, next last
        self._fn: Callable[[Any], Any] | None = None
        self._results: list[Any] = []
        self._errors: list[BaseException] = []
        self._pending = 0  # items of the current map not yet finished
        self._closed = False
        self.highest_busy = 0  # the most workers busy at once (for tests and reports)

    @property
    def threads(self) -> int:
        return len(self._threads)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """fn(item) for every item, in parallel; the results in the items' order. An exception
        from fn is raised here once every item taken has finished."""
        if not items:
            return []
        with self._cond:
            self._fn, self._results, self._errors = fn, [None] * len(items), []
            self._queue = [(i, items[i]) for i in range(len(items) - 1, -1, -1)]
            self._pending = len(items)
            self._spawn()
            self._cond.notify_all()
            while self._pending:
                self._done.wait()
            results, errors = self._results, self._errors
            self._fn, self._results, self._errors = None, [], []
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> ThrottledPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workers (every method below runs with self._cond held, except _work's call of fn)
    def _allowed(self) -> int:
        return min(self._ceiling, max(1, self._throttle.limit))

    def _spawn(self) -> None:
        """New threads while the window has room for more busy workers than there are threads."""
        wanted = min(self._allowed(), self._busy + len(self._queue))
        while len(self._threads) < wanted:
            thread = threading.Thread(target=self._work, name=f"tenantc-apply-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        cond = self._cond
        with cond:
            while True:
                while not self._closed and not (self._queue and self._busy < self._allowed()):
                    cond.wait()  # parked: nothing to do, or the window is full
                if self._closed:
                    return
                index, item = self._queue.pop()
                fn = self._fn
                assert fn is not None
                self._busy += 1
                self.highest_busy = max(self.highest_busy, self._busy)
                cond.release()
                try:
                    result, error = fn(item), None
                except BaseException as exc:  # handed to map's caller
                    result, error = None, exc
                finally:
                    cond.acquire()
                self._busy -= 1
                self._results[index] = result
                if error is not None:
                    self._errors.append(error)
                self._pending -= 1
                if not self._pending:
                    self._done.notify()
                    continue
                self._spawn()
                room = self._allowed() - self._busy - 1  # this worker takes one itself
                if room > 0:
                    cond.notify(room)
