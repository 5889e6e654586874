"""The one client tenantc uses to talk to an API server: JSON verbs, retries, request counts.

Over either transport (transport.py): a kubeconfig context's (config.connect) or an
Endpoint's (KubeClient.for_endpoint, for `tenantc cluster up`). Retries follow
compiler.agent.retry, the policy the agent shares: no answer, 408, 429 and 5xx are retried
with capped, jittered exponential backoff (at least the server's Retry-After) until the
client's budget is spent. Every verb tenantc sends is safe to repeat: server-side apply is
idempotent and deletes carry uid and resourceVersion preconditions. Counts of reads, writes
and dry-runs let tests and reports prove what was sent, with the retries by cause and the
seconds spent waiting before them.

429 also lowers how many requests the client keeps in flight (`Throttle`): API Priority and
Fairness answers 429 when the concurrency of the user's priority level is used up (with
`limitResponse: Reject`), and callers run up to --concurrency requests at once. Retrying
each one after its Retry-After alone keeps them colliding on the few seats the level has;
halving the requests in flight on a 429 and adding one back per round of successes (AIMD,
as TCP does) settles near what the server grants. Apply also lets the latency of its writes
steer (`Throttle.adapt`): more requests in flight while latency holds, fewer when it rises,
before APF's queues fill up (the controller: window.py).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from compiler.agent.retry import (
    NO_RETRY,
    RetryPolicy,
    is_transient_status,
    next_wait,
    parse_retry_after,
)
from compiler.kinds import FIELD_MANAGER
from compiler.kube import window
from compiler.kube.errors import ApiError, Unreachable
from compiler.kube.transport import (
    Endpoint,
    HttpsTransport,
    Response,
    Stream,
    Transport,
    TransportError,
)

APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML, so the body stays JSON
JSON = "application/json"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_RETRY = RetryPolicy()  # 0.2 s doubling to 5 s, for up to a minute per request


@dataclass
class RequestCounts:
    """What a client sent, attempt by attempt (retries count). Thread-safe."""

    reads: int = 0
    writes: int = 0  # mutating requests that were not dry-runs
    dry_runs: int = 0
    by_verb: Counter = field(default_factory=Counter)
    retried: Counter = field(default_factory=Counter)  # retries by cause: "429", "503", ..., "no answer"
    waited: float = 0.0  # seconds slept before those retries
    lowest_concurrency: int | None = None  # the lowest in-flight limit 429s drove the client to
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, method: str, dry_run: bool) -> None:
        with self._lock:
            self.by_verb[method] += 1
            if method not in WRITE_METHODS:
                self.reads += 1
            elif dry_run:
                self.dry_runs += 1
            else:
                self.writes += 1

    def record_retry(self, cause: str, delay: float) -> None:
        with self._lock:
            self.retried[cause] += 1
            self.waited += delay

    def record_limit(self, limit: int) -> None:
        with self._lock:
            if self.lowest_concurrency is None or limit < self.lowest_concurrency:
                self.lowest_concurrency = limit

    def snapshot(self) -> dict:
        with self._lock:
            out = {"reads": self.reads, "writes": self.writes, "dryRuns": self.dry_runs,
                   "byVerb": dict(sorted(self.by_verb.items()))}
            if self.retried:
                out.update(retried=dict(sorted(self.retried.items())), waitedSeconds=round(self.waited, 3))
            if self.lowest_concurrency is not None:
                out["lowestConcurrency"] = self.lowest_concurrency
            return out


@dataclass(frozen=True)
class Ticket:
    """One attempt's slot: when it was sent, and the controller's epoch then."""

    sent: float
    epoch: int


class Throttle:
    """How many requests may be in flight: compiler.kube.window's controller, fed by every attempt.

    By default only 429s drive it (the window starts at `ceiling`, which the callers' own
    thread pools keep it under): a 429 halves the requests in flight, rounds of successes
    add one back (AIMD). `adapt(initial, ceiling)` (apply) also lets the latency of writes
    drive it: the window starts at `initial`, grows while their latency holds and shrinks
    when it rises (see window.py). Reads never count as latency: a LIST's time says how big
    the collection is, not how busy the server is."""

    def __init__(self, ceiling: int = 64):
        self.state = window.start(ceiling, ceiling)
        self.adaptive = False
        self.highest = self.lowest = self.state.window
        self._in_flight = 0
        self._cond = threading.Condition()
        self._busy = _Busy()

    @property
    def limit(self) -> int:
        return self.state.window

    def adapt(self, initial: int, ceiling: int, floor: int = 1) -> None:
        """From now on: start at `initial` requests in flight and follow writes' latency too
        (down to `floor`; 429s down to one)."""
        with self._cond:
            self.state = window.start(initial, ceiling, floor)
            self.adaptive = True
            self.highest = self.lowest = self.state.window
            self._busy = _Busy()
            self._cond.notify_all()

    @property
    def mean_in_flight(self) -> float:
        """Requests in flight on average since adapt() (or since the first request), counted from
        the first request sent to the last answer: what the window let the server work on."""
        return self._busy.mean()

    def acquire(self) -> Ticket:
        """Wait for a free slot; the ticket goes back to release."""
        with self._cond:
            while self._in_flight >= self.state.window:
                self._cond.wait()
            now = time.monotonic()
            self._busy.add(now, self._in_flight)
            self._in_flight += 1
            return Ticket(now, self.state.epoch)

    def release(self, ticket: Ticket, throttled: bool, write: bool = True) -> int | None:
        """The attempt of `ticket` ended (429 or not); returns the new window when a 429 lowered it."""
        with self._cond:
            now = time.monotonic()
            before = self.state
            if throttled or (write or not self.adaptive):
                latency = now - ticket.sent if self.adaptive else 0.0  # 0: only 429s and rounds count
                self.state = window.next_window(before, window.Sample(latency, throttled, ticket.epoch,
                                                                      self._in_flight, now))
            self._busy.add(now, self._in_flight)
            self._in_flight -= 1
            limit = self.state.window
            self.highest, self.lowest = max(self.highest, limit), min(self.lowest, limit)
            free = limit - self._in_flight
            if free > 0:
                self._cond.notify(free)
            return limit if throttled and self.state.epoch > before.epoch else None


class _Busy:
    """The integral of requests in flight over time, from the first request to the last answer."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.area = 0.0

    def add(self, now: float, in_flight: int) -> None:
        """`in_flight` requests were in flight since the previous change, until `now`."""
        if self.first is None:
            self.first = now
        else:
            self.area += in_flight * (now - self.last)
        self.last = now

    def mean(self) -> float:
        span = self.last - self.first if self.first is not None else 0.0
        return self.area / span if span > 0 else 0.0


class KubeClient:
    """JSON requests to one API server. Thread-safe.

    `observer(method, path)` is called before every attempt; tests use it to count or to
    stop the API server at a chosen moment.
    """

    def __init__(self, transport: Transport, *, retry: RetryPolicy = DEFAULT_RETRY, timeout: float = 60.0,
                 observer: Callable[[str, str], None] | None = None):
        self.transport = transport
        self.retry = retry
        self.timeout = timeout
        self.observer = observer
        self.counts = RequestCounts()
        self.throttle = Throttle()

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint, *, timeout: float = 10.0, retry: RetryPolicy = NO_RETRY) -> KubeClient:
        """A client that needs no kubeconfig and no `kubernetes` import (see transport.py)."""
        return cls(HttpsTransport(endpoint), retry=retry, timeout=timeout)

    @property
    def host(self) -> str:
        return self.transport.host

    # -- verbs -------------------------------------------------------------------------
    def get(self, path: str, query: dict | None = None) -> dict:
        return self.request("GET", path, query)

    def get_text(self, path: str) -> str:
        """A plain-text endpoint such as /readyz or /healthz."""
        return self._send("GET", path, None, None, None, "text/plain, */*").data.decode(errors="replace")

    def list(self, path: str, label_selector: str | None = None) -> list[dict]:
        """Every item of a collection; follows `continue` tokens should the server page."""
        items: list[dict] = []
        query: dict = {"labelSelector": label_selector} if label_selector else {}
        while True:
            page = self.request("GET", path, query)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query = {**query, "continue": token}

    def apply(self, path: str, obj: dict, *, dry_run: bool = False, force: bool = False,
              field_manager: str = FIELD_MANAGER, result: bool = True) -> tuple[int, dict]:
        """Server-side apply; returns (HTTP status, resulting object). 201 means created.
        `result=False`: the object is not parsed ({} instead), for callers that need the status
        alone (parsing thousands of answers costs CPU the API server may be short of)."""
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        body = json.dumps(obj, separators=(",", ":")).encode()  # compact, as kubectl sends it
        if not result:
            return self._send("PATCH", path, query, body, APPLY_PATCH, JSON).status, {}
        return self.request_status("PATCH", path, query, body, APPLY_PATCH)

    def delete(self, path: str, *, uid: str | None = None, resource_version: str | None = None,
               dry_run: bool = False) -> dict:
        """Delete with preconditions, so what is deleted is exactly what was decided on."""
        body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            body["preconditions"] = preconditions
        query = {"dryRun": "All"} if dry_run else None
        return self.request("DELETE", path, query, json.dumps(body).encode(), JSON)

    def watch(self, path: str, query: dict | None = None, *, timeout: float | None = None) -> Watch:
        """The events of a watch (`watch=1` added), opened when first iterated; not retried."""
        return Watch(self, path, {**(query or {}), "watch": "1"}, self.timeout if timeout is None else timeout)

    # -- transport ---------------------------------------------------------------------
    def request(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
                content_type: str | None = None, accept: str = JSON) -> dict:
        return self.request_status(method, path, query, body, content_type, accept)[1]

    def request_status(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
                       content_type: str | None = None, accept: str = JSON) -> tuple[int, dict]:
        response = self._send(method, path, query, body, content_type, accept)
        return response.status, (json.loads(response.data) if response.data else {})

    def _send(self, method: str, path: str, query: dict | None, body: bytes | None, content_type: str | None,
              accept: str) -> Response:
        """One request, retried per the policy; a successful answer, else ApiError or Unreachable."""
        target = path + ("?" + urlencode(query) if query else "")
        dry_run = bool(query and query.get("dryRun"))
        started = time.monotonic()
        backoff = self.retry.backoff()
        attempt = 0
        while True:
            attempt += 1
            headers = self._headers(content_type, accept)
            if self.observer:
                self.observer(method, path)
            self.counts.record(method, dry_run)
            ticket = self.throttle.acquire()
            response = None
            try:
                response = self.transport.send(method, target, body, headers, self.timeout)
            except TransportError as exc:
                delay = next_wait(backoff, self.retry.budget - (time.monotonic() - started))
                if delay is None:
                    raise Unreachable(f"{method} {path}: no answer from {self.host} "
                                      f"after {attempt} attempt(s): {exc}") from None
                self._wait("no answer", delay)
                continue
            finally:
                lowered = self.throttle.release(ticket, response is not None and response.status == 429,
                                                write=method in WRITE_METHODS)
                if lowered is not None:
                    self.counts.record_limit(lowered)
            if response.status < 400:
                return response
            if is_transient_status(response.status):
                remaining = self.retry.budget - (time.monotonic() - started)
                delay = next_wait(backoff, remaining, parse_retry_after(response.headers.get("Retry-After")))
                if delay is not None:
                    self._wait(str(response.status), delay)
                    continue
            raise ApiError.from_response(response.status, method, path, response.data)

    def _wait(self, cause: str, delay: float) -> None:
        self.counts.record_retry(cause, delay)
        time.sleep(delay)

    def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "tenantc"}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.transport.authorization()
        if token:
            headers["Authorization"] = token
        return headers

    def close(self) -> None:
        self.transport.close()


class Watch:
    """Events of one watch request; `abort()` from another thread ends a blocked iteration quietly."""

    def __init__(self, client: KubeClient, path: str, query: dict, timeout: float):
        self._client, self._path, self._query, self._timeout = client, path, query, timeout
        self._stream: Stream | None = None
        self._aborted = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[dict]:
        client = self._client
        if client.observer:
            client.observer("GET", self._path)
        client.counts.record("GET", False)
        try:
            answer, stream = client.transport.open_stream(self._path + "?" + urlencode(self._query),
                                                          client._headers(None, JSON), self._timeout)
        except TransportError as exc:
            raise Unreachable(f"WATCH {self._path}: no answer from {client.host}: {exc}") from None
        if stream is None:
            raise ApiError.from_response(answer.status, "WATCH", self._path, answer.data)
        with self._lock:
            self._stream = stream
            aborted = self._aborted
        try:
            if aborted:
                return
            for line in stream:  # one JSON event per line
                if line.strip():
                    yield json.loads(line)
        except (TransportError, ValueError) as exc:  # ValueError: a partial line when aborted
            if self._aborted:
                return  # what abort() is for: the iteration just ends
            if isinstance(exc, ValueError):
                raise
            raise Unreachable(f"WATCH {self._path}: {exc}") from None
        finally:
            stream.close()

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            if self._stream is not None:
                self._stream.abort()
