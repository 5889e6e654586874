"""The one retry policy of every client tenantc has for an API server: the CLI's and the agent's.

Standard library only and importing nothing of the compiler, like the rest of this package:
the agent uses it as its own, and `compiler.kube` imports it from here (the agent may not
import the compiler, so the shared definition lives on the agent's side).

  what is retried   no HTTP answer at all (refused, reset, dropped, timed out) and the
                    statuses in TRANSIENT_STATUSES: 408 Request Timeout (the server gave up
                    waiting for a slow request), 429 Too Many Requests, 500, 502, 503, 504.
                    Safe because every request tenantc repeats is idempotent: server-side
                    apply, reads, deletes with uid and resourceVersion preconditions.
  how long to wait  capped exponential backoff, ceiling(n) = min(cap, base * factor**n) for
                    retry n (0-based), with jitter that only shortens it:
                    delay = ceiling(n) * (1 - jitter * U), U uniform in [0, 1). The cap is a
                    hard bound; the jitter spreads clients that lost the server together.
  Retry-After       a server's Retry-After (delta-seconds) is a floor on the delay.
  until when        a budget in seconds from the first attempt: a wait is cut to what is left
                    of it, and once nothing is left the last error is raised.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_status(status: int) -> bool:
    """Server overload, restart or timeout, as opposed to a request that will never succeed."""
    return status in TRANSIENT_STATUSES


def parse_retry_after(value: str | None) -> float | None:
    """Seconds of a Retry-After header in its delta-seconds form (the form the API server sends)."""
    if value is None:
        return None
    value = value.strip()
    return float(value) if value.isdigit() else None


class Backoff:
    """Exponential delays, capped, with jitter that only shortens them (see the module docstring)."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, factor: float = 2.0,
                 jitter: float = 0.5, rng: Callable[[], float] = random.random):
        if not (0 < base <= cap and factor >= 1 and 0 <= jitter <= 1):
            raise ValueError("need 0 < base <= cap, factor >= 1 and 0 <= jitter <= 1")
        self.base, self.cap, self.factor, self.jitter, self.rng = base, cap, factor, jitter, rng
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay of retry number `attempt` (0-based)."""
        return min(self.cap, self.base * self.factor ** min(attempt, 64))

    def next(self) -> float:
        delay = self.ceiling(self.attempt) * (1 - self.jitter * self.rng())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def next_wait(backoff: Backoff, remaining: float, retry_after: float | None = None) -> float | None:
    """Seconds to wait before the next attempt, or None when the budget (`remaining`) is spent."""
    if remaining <= 0:
        return None
    delay = backoff.next()
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, remaining)


@dataclass(frozen=True)
class RetryPolicy:
    """The policy's parameters for one client: its backoff curve and its budget in seconds."""

    base: float = 0.2
    cap: float = 5.0
    budget: float = 60.0  # 0: never retry
    factor: float = 2.0
    jitter: float = 0.5

    def backoff(self, rng: Callable[[], float] = random.random) -> Backoff:
        return Backoff(self.base, self.cap, self.factor, self.jitter, rng)


NO_RETRY = RetryPolicy(budget=0.0)
