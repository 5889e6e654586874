"""The concurrency controller (compiler/kube/window.py): a pure function of answers -> window.

Two model servers drive it at the end: one short of CPU (its throughput is flat past the knee
and more requests in flight only queue: latency = in flight / capacity, Little's law) and one
behind API Priority and Fairness with a fixed number of seats and `limitResponse: Reject`
(requests beyond the seats are answered 429 at once; kubernetes.io, "API Priority and
Fairness", concepts/cluster-administration/flow-control).
"""
from __future__ import annotations

from compiler.kube.window import (
    HOLD,
    MIN_ROUND,
    SLOW_START_EXIT,
    TOLERANCE,
    Sample,
    WindowState,
    next_window,
    start,
)


def feed(state: WindowState, answers: int, latency: float, in_flight: int | None = None,
         at: float = 100.0) -> WindowState:
    """`answers` successes of the current epoch, with the window full unless `in_flight` says."""
    for _ in range(answers):
        state = next_window(state, Sample(latency, False, state.epoch, in_flight or state.window, at))
    return state


def test_slow_start_doubles_each_full_round_while_latency_holds_up_to_the_ceiling():
    state = start(4, ceiling=40)
    seen = [state.window]
    for _ in range(6):
        state = feed(state, state.round_size, 0.010)
        seen.append(state.window)
    assert seen == [4, 4, 8, 16, 32, 40, 40]  # the first round warms up (connections, TLS handshakes)
    assert state.baseline == 0.010 and state.slow_start


def test_a_round_is_at_least_min_round_answers():
    state = feed(start(2), MIN_ROUND, 0.500)  # warming up: says nothing
    assert state.window == 2 and state.baseline is None
    state = feed(state, MIN_ROUND - 1, 0.010)
    assert state.window == 2
    assert feed(state, 1, 0.010).window == 4


def test_a_round_that_did_not_fill_the_window_does_not_grow_it():
    state = feed(start(16), 16, 0.010)
    state = feed(state, 16, 0.010, in_flight=5)  # the caller had only 5 to send
    assert state.window == 16 and state.answers == 0 and state.rounds == 2  # the round ended, nothing learnt


def test_rising_latency_shrinks_by_a_quarter_ends_slow_start_then_growth_is_by_one():
    state = feed(feed(start(8), 8, 0.010), 8, 0.010)  # warmed up; baseline 10 ms; 16
    state = feed(state, 16, 0.010 * TOLERANCE * 1.5)
    assert state.window == 12 and not state.slow_start and state.slowed_rounds == 1
    state = feed(state, 12, 0.010 * TOLERANCE * 0.9)  # within the tolerance again
    assert state.window == 13
    state = feed(state, 13, 0.012)
    assert state.window == 14


def test_answers_sent_before_a_decrease_are_ignored():
    state = feed(feed(start(8), 8, 0.010), 8, 0.010)
    old_epoch = state.epoch
    state = feed(state, 16, 0.050)  # shrinks: a new epoch
    assert state.epoch == old_epoch + 1
    late = next_window(state, Sample(0.080, False, old_epoch, 16, 100.0))
    assert late == state
    late_429 = next_window(state, Sample(0.001, True, old_epoch, 16, 100.0))
    assert late_429 == state


def test_a_429_halves_from_the_requests_in_flight_and_holds_growth_for_a_while():
    state = start(32)
    state = next_window(state, Sample(0.002, True, state.epoch, 10, at=50.0))  # only 10 were in flight
    assert state.window == 5 and state.throttled_rounds == 1 and not state.slow_start
    assert feed(state, 8, 0.010, at=50.0 + HOLD / 2).window == 5  # within the hold: no growth
    assert feed(state, 8, 0.010, at=50.0 + HOLD).window == 6
    floor = start(1)
    assert next_window(floor, Sample(0.002, True, 0, 1, 0.0)).window == 1  # never below one


def cpu_bound_server(state: WindowState, capacity: float, base: float, rounds: int) -> list[tuple[int, float]]:
    """Rounds against a server that serves `capacity` requests/s: latency is the base latency or,
    past the knee (capacity x base in flight), in flight / capacity. Returns (window, throughput)."""
    history = []
    for _ in range(rounds):
        in_flight = state.window
        latency = max(base, in_flight / capacity)
        state = feed(state, state.round_size, latency)
        history.append((in_flight, in_flight / latency))
    return history


def test_on_a_server_short_of_cpu_the_window_settles_just_past_the_knee():
    """From one request in flight, as apply starts: the first rounds measure the latency without
    queueing (a controller started past the knee takes a queued latency for its baseline)."""
    capacity, base = 400.0, 0.010  # knee: 4 in flight
    history = cpu_bound_server(start(1, ceiling=64), capacity, base, 300)
    settled = history[50:]
    windows = [w for w, _ in settled]
    assert min(windows) >= 4 and max(windows) <= TOLERANCE * 4 + 1  # at most TOLERANCE x the knee, +1 probing
    assert min(t for _, t in settled) >= 0.99 * capacity  # never below the server's throughput


def test_when_the_server_has_room_the_window_reaches_the_ceiling():
    history = cpu_bound_server(start(1, ceiling=64), capacity=10_000.0, base=0.010, rounds=20)
    assert history[-1][0] == 64


def test_behind_a_priority_level_with_few_seats_the_window_stays_near_them():
    """Requests beyond the level's seats are rejected (429) at once; the window halves on them and
    grows back one per round after the hold: it saw-tooths between half the seats and the seats."""
    seats, now = 6, 0.0
    state = start(8, ceiling=64)
    windows, rejected = [], 0
    for _ in range(2000):
        now += 0.01
        in_flight = state.window
        if in_flight > seats:
            rejected += 1
            state = next_window(state, Sample(0.001, True, state.epoch, in_flight, now))
        else:
            state = feed(state, 1, 0.010, in_flight=in_flight, at=now)
        windows.append(state.window)
    later = windows[500:]
    assert max(later) <= seats + 1 and min(later) >= seats // 2
    assert rejected < 50  # one 429 per probe past the seats, not a storm


def test_latency_alone_never_shrinks_below_the_floor_a_429_does():
    state = feed(feed(start(8, ceiling=64, floor=8), 8, 0.5), 8, 0.001)  # warmed up; then a lucky round: 1 ms
    assert state.window == 16
    for _ in range(10):
        state = feed(state, state.round_size, 0.010)  # ten times that, round after round
    assert state.window == 8 and state.slowed_rounds >= 2
    state = next_window(state, Sample(0.002, True, state.epoch, 8, 100.0))
    assert state.window == 4  # the server's word goes below it


def test_slow_start_ends_when_latency_rises_past_the_exit_without_shrinking():
    state = feed(feed(start(8), 8, 0.010), 8, 0.010)  # warmed up; baseline 10 ms; 16
    assert state.window == 16 and state.slow_start
    state = feed(state, 16, 0.010 * SLOW_START_EXIT * 1.2)  # a queue forming, still within the tolerance
    assert state.window == 17 and not state.slow_start and state.slowed_rounds == 0
    state = feed(state, 17, 0.010)
    assert state.window == 18  # by one from now on, even when latency falls back


def gradual_server(state: WindowState, peak: float, knee: float, rounds: int) -> list[tuple[int, float]]:
    """Rounds against a server whose throughput keeps rising slowly with requests in flight,
    peak x w / (w + knee), as on a machine whose few cores the client and the API server share:
    latency = w / throughput = (w + knee) / peak. Returns (window, throughput)."""
    history = []
    for _ in range(rounds):
        in_flight = state.window
        state = feed(state, state.round_size, (in_flight + knee) / peak)
        history.append((in_flight, peak * in_flight / (in_flight + knee)))
    return history


def test_on_a_server_whose_throughput_rises_slowly_the_window_settles_near_where_a_fixed_32_would_run():
    """The apply benchmark's shape (issue 17): a raw client was fastest at 32 in flight. Started
    as apply starts (8, floor 8, ceiling 64), the window gets within a few percent of the rate
    at 32 and backs off before the ceiling: more in flight would add queueing, not throughput."""
    peak, knee = 500.0, 4.0
    history = gradual_server(start(8, ceiling=64, floor=8), peak, knee, 400)
    settled = history[100:]
    at_32 = peak * 32 / (32 + knee)
    assert sum(t for _, t in settled) / len(settled) >= 0.97 * at_32
    assert max(w for w, _ in settled) <= 36
    assert max(w for w, _ in history) < 64  # slow start ended before doubling into the queue
