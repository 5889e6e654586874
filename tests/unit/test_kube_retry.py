"""The one retry policy (compiler/agent/retry.py) and the CLI client that follows it, against a fake transport."""
from __future__ import annotations

import threading

import pytest

from compiler.agent import kubeapi
from compiler.agent.retry import (
    NO_RETRY,
    TRANSIENT_STATUSES,
    Backoff,
    RetryPolicy,
    next_wait,
    parse_retry_after,
)
from compiler.kube import client as client_module
from compiler.kube.client import KubeClient
from compiler.kube.errors import ApiError, KubeError, Unreachable
from compiler.kube.transport import Response, TransportError

STATUS_404 = b'{"kind": "Status", "reason": "NotFound", "message": "configmaps \\"x\\" not found"}'


@pytest.mark.parametrize("status, transient", [(408, True), (429, True), (500, True), (502, True), (503, True),
                                               (504, True), (400, False), (401, False), (403, False), (404, False),
                                               (409, False), (422, False)])
def test_the_cli_and_the_agent_agree_on_what_is_transient(status, transient):
    assert (status in TRANSIENT_STATUSES) is transient
    assert ApiError(status, "GET", "/", None).transient is transient
    assert kubeapi.is_transient(kubeapi.ApiError(status, "GET", "/", "m")) is transient


def test_retry_after_is_read_in_seconds_and_ignored_otherwise():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(" 10 ") == 10.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None and parse_retry_after("-1") is None


def test_next_wait_follows_the_curve_honours_retry_after_and_stops_at_the_budget():
    backoff = Backoff(base=0.2, cap=5, rng=lambda: 0.0)
    assert [next_wait(backoff, 100) for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5, 5]
    assert next_wait(Backoff(base=0.2, cap=5, rng=lambda: 0.0), 100, retry_after=3) == 3  # a floor
    assert next_wait(Backoff(base=0.2, cap=5, rng=lambda: 0.0), 1.5, retry_after=3) == 1.5  # cut to the budget
    assert next_wait(Backoff(), 0) is None and next_wait(Backoff(), -1) is None
    jittered = Backoff(base=1, cap=1, jitter=0.5, rng=lambda: 1.0)
    assert next_wait(jittered, 100) == 0.5  # jitter only shortens


def test_the_agent_honours_retry_after_within_its_deadline():
    waits, now = [], [0.0]

    def wait(seconds):
        waits.append(seconds)
        now[0] += seconds

    outcomes = [kubeapi.ApiError(429, "GET", "/x", "slow down", retry_after=4.0), {"ok": 1}]

    def call():
        result = outcomes.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    assert kubeapi.retry_transient(call, 10, Backoff(rng=lambda: 0), wait=wait, clock=lambda: now[0]) == {"ok": 1}
    assert waits == [4.0]


class FakeTransport:
    """Answers from a script: a Response, or an exception to raise."""

    host = "https://fake:6443"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[tuple[str, str]] = []

    def send(self, method, target, body, headers, timeout):
        self.sent.append((method, target))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def open_stream(self, target, headers, timeout):
        raise AssertionError("not used")

    def authorization(self):
        return "Bearer t"

    def close(self):
        pass


@pytest.fixture
def clock(monkeypatch):
    """A fake monotonic clock that moves only when the client sleeps; returns the sleeps."""
    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(client_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(client_module.time, "sleep", sleep)
    return sleeps


def ok(body: bytes = b'{"kind": "ConfigMap"}') -> Response:
    return Response(200, {}, body)


def test_408_429_and_5xx_are_retried_then_the_answer_is_returned(clock):
    transport = FakeTransport(Response(408, {}, b""), Response(429, {"Retry-After": "2"}, b""),
                              Response(503, {}, b""), ok())
    client = KubeClient(transport, retry=RetryPolicy(base=0.2, cap=5, jitter=0.0))
    assert client.get("/api/v1/namespaces/a/configmaps/x") == {"kind": "ConfigMap"}
    assert clock == [0.2, 2.0, 0.8]  # the curve, with Retry-After as a floor
    assert client.counts.reads == 4  # every attempt counts


def test_retries_and_their_waits_are_counted_by_cause(clock):
    transport = FakeTransport(Response(429, {"Retry-After": "1"}, b""), TransportError("reset"),
                              Response(503, {}, b""), ok())
    client = KubeClient(transport, retry=RetryPolicy(base=0.2, cap=5, jitter=0.0))
    client.get("/api")
    snapshot = client.counts.snapshot()
    assert snapshot["retried"] == {"429": 1, "503": 1, "no answer": 1}
    assert snapshot["waitedSeconds"] == pytest.approx(1.0 + 0.4 + 0.8)
    assert snapshot["lowestConcurrency"] == 1  # the 429 came with one request in flight


def full_rounds(throttle, answers: int) -> None:
    """`answers` successes, sent a full window at a time."""
    while answers > 0:
        tickets = [throttle.acquire() for _ in range(min(throttle.limit, answers))]
        for ticket in tickets:
            throttle.release(ticket, throttled=False)
        answers -= len(tickets)


def test_the_throttle_halves_requests_in_flight_on_429_and_adds_one_back_per_round(clock):
    """AIMD: a 429 halves the requests in flight (once per round: answers to requests sent
    before the last decrease do not count again); after a second without 429s, each round of
    answers that kept the window full adds one, up to the ceiling."""
    throttle = client_module.Throttle(ceiling=16)
    started = [throttle.acquire() for _ in range(8)]  # the callers' 8 threads, under the ceiling
    assert throttle.limit == 16
    assert throttle.release(started[0], throttled=True) == 4  # 8 in flight -> 4
    assert throttle.release(started[1], throttled=True) is None  # sent before the decrease: same overload
    for sent in started[2:]:
        throttle.release(sent, throttled=False)
    full_rounds(throttle, 8)
    assert throttle.limit == 4  # no second elapsed since the decrease
    tickets = [throttle.acquire() for _ in range(4)]
    assert throttle.release(tickets[0], throttled=True) == 2  # a 429 to a request sent after the decrease
    for ticket in tickets[1:]:
        throttle.release(ticket, throttled=False)
    client_module.time.sleep(1.0)
    full_rounds(throttle, 8)  # one round: 8 answers at least
    assert throttle.limit == 3
    full_rounds(throttle, 8)
    assert throttle.limit == 4
    one_at_a_time = throttle.acquire()
    throttle.release(one_at_a_time, throttled=False)
    full_rounds(throttle, 300)
    assert throttle.limit == 16  # the ceiling
    assert throttle.lowest == 2 and throttle.highest == 16


def test_the_throttle_follows_write_latency_only_once_adapting(clock):
    """Apply's mode: the window starts small, doubles per round while writes answer as fast as
    at first, and shrinks when their latency rises; reads never count as latency."""
    throttle = client_module.Throttle(ceiling=64)
    throttle.adapt(initial=8, ceiling=32)
    assert throttle.limit == 8

    def round_of(latency: float, write: bool = True) -> None:
        tickets = [throttle.acquire() for _ in range(max(throttle.limit, 8))]
        client_module.time.sleep(latency)
        for ticket in tickets:
            throttle.release(ticket, throttled=False, write=write)

    round_of(0.5)
    assert throttle.limit == 8  # the first round warms up (new connections)
    round_of(0.01)
    assert throttle.limit == 16  # slow start: doubled
    round_of(5.0, write=False)  # slow LISTs: not a signal
    assert throttle.limit == 16
    round_of(0.05)  # five times the first round's latency
    assert throttle.limit == 12 and throttle.state.slowed_rounds == 1


def test_the_throttle_makes_a_waiting_request_wait_for_a_free_slot():
    throttle = client_module.Throttle()
    first, second = throttle.acquire(), throttle.acquire()
    throttle.release(first, throttled=True)
    assert throttle.limit == 1  # two were in flight
    entered = threading.Event()

    def third():
        throttle.acquire()
        entered.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    assert not entered.wait(0.2)  # the second is still in flight
    throttle.release(second, throttled=False)
    assert entered.wait(5)
    waiter.join()


def test_dropped_connections_are_retried_until_the_budget_then_unreachable(clock):
    transport = FakeTransport(*[TransportError("ConnectionRefusedError")] * 50)
    client = KubeClient(transport, retry=RetryPolicy(base=1, cap=4, jitter=0.0, budget=10))
    with pytest.raises(Unreachable, match="no answer from https://fake:6443 after 5 attempt"):
        client.get("/api")
    assert sum(clock) == 10 and clock == [1, 2, 4, 3]  # the last wait is cut to the budget


def test_permanent_errors_are_not_retried_and_keep_the_servers_words(clock):
    client = KubeClient(FakeTransport(Response(404, {}, STATUS_404)))
    with pytest.raises(ApiError) as raised:
        client.get("/api/v1/namespaces/a/configmaps/x")
    assert raised.value.not_found and raised.value.reason == "NotFound"
    assert raised.value.message == 'configmaps "x" not found' and isinstance(raised.value, KubeError)
    assert clock == []


def test_no_retry_means_one_attempt(clock):
    client = KubeClient(FakeTransport(Response(503, {}, b"busy")), retry=NO_RETRY)
    with pytest.raises(ApiError, match="HTTP 503: busy"):
        client.get("/readyz")
    assert clock == []


def test_requests_carry_the_transports_credentials_and_dry_runs_are_counted_apart(clock):
    transport = FakeTransport(Response(201, {}, b"{}"), ok(b"{}"))
    client = KubeClient(transport)
    assert client.apply("/api/v1/namespaces/a/configmaps/x", {"kind": "ConfigMap"})[0] == 201
    client.apply("/api/v1/namespaces/a/configmaps/x", {"kind": "ConfigMap"}, dry_run=True, force=True)
    assert transport.sent[1] == ("PATCH",
                                 "/api/v1/namespaces/a/configmaps/x?fieldManager=tenantc&force=true&dryRun=All")
    assert client.counts.snapshot() == {"reads": 0, "writes": 1, "dryRuns": 1, "byVerb": {"PATCH": 2}}


def test_apply_without_the_result_returns_the_status_alone_and_still_retries(clock):
    transport = FakeTransport(Response(429, {"Retry-After": "1"}, b""), Response(201, {}, b"not even JSON"))
    client = KubeClient(transport, retry=RetryPolicy(base=0.2, cap=5, jitter=0.0))
    assert client.apply("/api/v1/namespaces/a", {"kind": "Namespace"}, result=False) == (201, {})
    assert [m for m, _ in transport.sent] == ["PATCH", "PATCH"] and client.counts.writes == 2


def test_the_throttle_reports_the_mean_requests_in_flight_over_time(clock):
    """From the first request to the last answer: 4 in flight for 1 s, then 1 for 3 s -> 1.75."""
    throttle = client_module.Throttle(ceiling=64)
    throttle.adapt(initial=8, ceiling=32)
    assert throttle.mean_in_flight == 0.0  # nothing sent yet
    tickets = [throttle.acquire() for _ in range(4)]
    client_module.time.sleep(1.0)
    for ticket in tickets[1:]:
        throttle.release(ticket, throttled=False)
    client_module.time.sleep(3.0)
    throttle.release(tickets[0], throttled=False)
    assert throttle.mean_in_flight == pytest.approx((4 * 1.0 + 1 * 3.0) / 4.0)
    throttle.adapt(initial=8, ceiling=32)
    assert throttle.mean_in_flight == 0.0  # counted anew from adapt()
