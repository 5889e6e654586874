"""How many requests to keep in flight: a pure function of what the server answered.

`next_window(state, sample) -> state` is the whole controller; compiler.kube.client's
Throttle holds the state, feeds it one Sample per finished attempt and makes callers wait
for a free slot. Nothing here reads a clock or shares memory, so tests drive it sample by
sample.

The signals, and what each one means:
  429      API Priority and Fairness rejected the request: the user's priority level has
           no seat left (`limitResponse: Reject`) or its queues are full. The window is
           halved (from the requests that were in flight, when fewer), as TCP halves on
           loss: multiplicative decrease. Answers to requests sent before that decrease
           come from the same overload and do not count again (`epoch`). For HOLD seconds
           after it the window does not grow: the server's Retry-After is a second or two,
           and probing sooner only collects more 429s.
  latency  a queue on the server shows as latency before it shows as 429 (APF's queues
           hold requests of a Limited level before rejecting; an API server or etcd short
           of CPU answers more slowly). Latency is judged per round (at least the window,
           at least MIN_ROUND answers, as an RTT is in TCP Vegas): the round's mean against
           the lowest round mean seen so far (`baseline`, what the server answers with
           little queueing). Above SLOW_START_EXIT times the baseline, slow start ends (the
           window is kept, then grows by one per round), as TCP Vegas leaves slow start when
           its queue estimate grows: doubling into a forming queue overshoots it by as much
           again. Above TOLERANCE times the baseline, the window shrinks by a
           quarter, but latency alone never takes it below `floor` (apply's starting
           window: a noisy machine, or kinds slower than others, must not talk it down to
           one request at a time; only the server's 429 does that); otherwise a round that
           kept the window full grows it: doubled while still starting (slow start, until
           the first decrease), then by one.
  first    the first round only warms up: its answers carry the connections' TLS handshakes,
           and a baseline that high would let the window grow far into a queue.
  neither  a round that did not fill the window (the caller had fewer requests to send)
           proves nothing about a larger one and leaves it as it is.

At the equilibrium, latency stays under TOLERANCE times the unqueued latency: when the server
is the bottleneck its throughput is flat past the knee, so more requests in flight add only
queueing (Little's law), and the window settles just past the knee.

Why 3 and not 2: where client and API server share a few cores (a laptop, a CI runner, the
2-core benchmark machine), throughput has no sharp knee; it keeps rising slowly with requests
in flight (etcd batches more writes per commit, the server's goroutines overlap the client's
work), so latency doubles long before the queue is all it adds. The apply benchmark's raw
client was fastest at 32 in flight while a window held to twice the baseline ended at 17-22
(bench/apply_bench.py, issue 17); with 3 a throughput curve of that shape settles near 32.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

TOLERANCE = 3.0  # a round's mean latency above this times the baseline is a queue forming
SLOW_START_EXIT = 1.5  # above this times the baseline, slow start ends: the window grows by one from there
MIN_ROUND = 8  # answers per round at least: fewer give too noisy a mean
SHRINK = 0.25  # the share of the window a latency rise takes away
HOLD = 1.0  # seconds without growth after a 429


@dataclass(frozen=True)
class Sample:
    """One finished attempt: how long it took, whether it was a 429, the controller's epoch
    when it was sent, the requests in flight (itself included) and the time (seconds on any
    monotonic clock) when it was answered."""

    latency: float
    throttled: bool
    epoch: int
    in_flight: int
    at: float = 0.0


@dataclass(frozen=True)
class WindowState:
    """The window and what it was decided from."""

    window: int
    ceiling: int = 64
    floor: int = 1  # what latency alone may shrink it to (429s: down to one)
    slow_start: bool = True
    epoch: int = 0  # one more at every decrease
    baseline: float | None = None  # the lowest round mean latency seen (seconds)
    hold_until: float = float("-inf")  # no growth before (set by a 429)
    answers: int = 0  # of the current round
    latency_sum: float = 0.0
    busiest: int = 0  # the most requests in flight during the round
    rounds: int = 0  # completed
    throttled_rounds: int = 0  # decreases for 429s
    slowed_rounds: int = 0  # decreases for latency

    @property
    def round_size(self) -> int:
        return max(self.window, MIN_ROUND)


def start(initial: int, ceiling: int = 64, floor: int = 1) -> WindowState:
    """A fresh controller: `initial` requests in flight, growing up to `ceiling`; latency alone
    shrinks it down to `floor` at most."""
    ceiling = max(1, ceiling)
    initial = min(max(1, initial), ceiling)
    return WindowState(window=initial, ceiling=ceiling, floor=min(max(1, floor), initial))


def next_window(state: WindowState, sample: Sample) -> WindowState:
    """The state after one more answer."""
    if sample.epoch < state.epoch:
        return state  # sent before the last decrease: it measured the overload already answered
    if sample.throttled:
        halved = max(1, min(state.window, sample.in_flight) // 2)
        return replace(_decreased(state, halved, throttled=True), hold_until=sample.at + HOLD)
    state = replace(state, answers=state.answers + 1, latency_sum=state.latency_sum + sample.latency,
                    busiest=max(state.busiest, sample.in_flight))
    if state.answers < state.round_size:
        return state
    if state.rounds == 0:
        return _new_round(state)  # warming up
    mean = state.latency_sum / state.answers
    baseline = mean if state.baseline is None else min(state.baseline, mean)
    state = replace(state, baseline=baseline)
    if mean > TOLERANCE * baseline:
        return _decreased(state, max(state.floor, state.window - max(1, int(state.window * SHRINK))), throttled=False)
    slow_start = state.slow_start and mean <= SLOW_START_EXIT * baseline
    grown = state.window
    if state.busiest >= state.window and sample.at >= state.hold_until:  # the window was the limit: try more
        grown = min(state.ceiling, state.window * 2 if slow_start else state.window + 1)
    return _new_round(replace(state, window=grown, slow_start=slow_start))


def _decreased(state: WindowState, window: int, *, throttled: bool) -> WindowState:
    return _new_round(replace(state, window=window, slow_start=False, epoch=state.epoch + 1,
                              throttled_rounds=state.throttled_rounds + throttled,
                              slowed_rounds=state.slowed_rounds + (not throttled)))


def _new_round(state: WindowState) -> WindowState:
    return replace(state, answers=0, latency_sum=0.0, busiest=0, rounds=state.rounds + 1)
