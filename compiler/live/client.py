"""Thin JSON access to one API server, with retries and request counts.

Why not the generated `kubernetes` API classes: building model objects for thousands of
items costs more than the requests themselves, and tenantc needs only a handful of verbs
on arbitrary kinds. The connection setup (TLS, client certificates, proxies, tokens and
their refresh hooks) is the `kubernetes` package's own: we take the urllib3 pool that its
REST client builds from a `kubernetes.client.Configuration`.

Transient failures (429, 5xx, refused or dropped connections) are retried with capped,
jittered exponential backoff for up to `retry_for` seconds. Every verb tenantc sends is
safe to repeat: server-side apply is idempotent and deletes carry a uid precondition.
Counts of reads, writes and dry-runs let tests and `--verbose` prove what was sent.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import urllib3
from kubernetes.client import Configuration
from kubernetes.client.rest import RESTClientObject

from compiler.kinds import FIELD_MANAGER

APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML, so the body stays JSON
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class KubeError(Exception):
    """Base of the errors this module raises."""


class Unreachable(KubeError):
    """No HTTP answer (refused, reset, timed out) even after retrying."""


class ApiError(KubeError):
    """The API server answered with an error status; `message` is its own explanation."""

    def __init__(self, status: int, method: str, path: str, body: dict | None, text: str = ""):
        self.status = status
        self.method = method
        self.path = path
        self.body = body or {}
        self.reason = self.body.get("reason", "")
        self.message = self.body.get("message") or text[:300] or f"HTTP {status}"
        super().__init__(f"{method} {path}: HTTP {status}: {self.message}")

    @property
    def causes(self) -> list[dict]:
        return list((self.body.get("details") or {}).get("causes") or [])

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """A server-side apply conflict: fields owned by another manager (409)."""
        return self.status == 409

    @property
    def immutable(self) -> bool:
        return self.status == 422 and "field is immutable" in self.message

    def missing_namespace(self) -> bool:
        details = self.body.get("details") or {}
        return self.status == 404 and details.get("kind") == "namespaces"


@dataclass
class RequestCounts:
    """What a client sent, attempt by attempt (retries count). Thread-safe."""

    reads: int = 0
    writes: int = 0  # mutating requests that were not dry-runs
    dry_runs: int = 0
    by_verb: Counter = field(default_factory=Counter)
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

    def snapshot(self) -> dict:
        with self._lock:
            return {"reads": self.reads, "writes": self.writes, "dryRuns": self.dry_runs,
                    "byVerb": dict(sorted(self.by_verb.items()))}


class KubeClient:
    """JSON requests to one API server.

    `observer(method, path)` is called before every attempt; tests use it to count or to
    stop the API server at a chosen moment.
    """

    def __init__(self, configuration: Configuration, *, pool_size: int = 8, timeout: float = 60.0,
                 retry_for: float = 60.0, backoff: float = 0.2, max_backoff: float = 5.0,
                 observer: Callable[[str, str], None] | None = None):
        configuration.connection_pool_maxsize = max(pool_size, 1)
        configuration.retries = False  # we retry ourselves, with backoff and a budget
        self.configuration = configuration
        self.host = configuration.host.rstrip("/")
        self._pool = RESTClientObject(configuration).pool_manager
        self.timeout = urllib3.Timeout(connect=min(10.0, timeout), read=timeout)
        self.retry_for = retry_for
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.observer = observer
        self.counts = RequestCounts()

    # -- verbs -------------------------------------------------------------------------
    def get(self, path: str, query: dict | None = None) -> dict:
        return self.request("GET", path, query)

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
              field_manager: str = FIELD_MANAGER) -> tuple[int, dict]:
        """Server-side apply; returns (HTTP status, resulting object). 201 means created."""
        query = {"fieldManager": field_manager}
        if force:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        return self.request_status("PATCH", path, query, json.dumps(obj).encode(), APPLY_PATCH)

    def delete(self, path: str, *, uid: str | None = None, resource_version: str | None = None,
               dry_run: bool = False) -> dict:
        """Delete with preconditions, so what is deleted is exactly what was decided on."""
        body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            body["preconditions"] = preconditions
        query = {"dryRun": "All"} if dry_run else None
        return self.request("DELETE", path, query, json.dumps(body).encode(), "application/json")

    # -- transport ---------------------------------------------------------------------
    def request(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
                content_type: str | None = None, accept: str = "application/json") -> dict:
        return self.request_status(method, path, query, body, content_type, accept)[1]

    def request_status(self, method: str, path: str, query: dict | None = None, body: bytes | None = None,
                       content_type: str | None = None, accept: str = "application/json") -> tuple[int, dict]:
        url = self.host + path + ("?" + urlencode(query) if query else "")
        dry_run = bool(query and query.get("dryRun"))
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            headers = self._headers(content_type, accept)
            if self.observer:
                self.observer(method, path)
            self.counts.record(method, dry_run)
            try:
                response = self._pool.request(method, url, body=body, headers=headers, timeout=self.timeout,
                                              retries=False, redirect=False, preload_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                delay = self._delay(attempt, started, None)
                if delay is None:
                    raise Unreachable(f"{method} {path}: no answer from {self.host} "
                                      f"after {attempt} attempt(s): {type(exc).__name__}") from None
                time.sleep(delay)
                continue
            status, data = response.status, response.data
            if status < 400:
                return status, (json.loads(data) if data else {})
            if status in TRANSIENT_STATUSES:
                delay = self._delay(attempt, started, response.headers.get("Retry-After"))
                if delay is not None:
                    time.sleep(delay)
                    continue
            raise ApiError(status, method, path, _json_or_none(data), data.decode(errors="replace"))

    def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": "tenantc"}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.configuration.get_api_key_with_prefix("authorization")  # runs refresh hooks
        if token:
            headers["Authorization"] = token
        return headers

    def _delay(self, attempt: int, started: float, retry_after: str | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the retry budget is spent."""
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        if time.monotonic() - started + delay > self.retry_for:
            return None
        return delay

    def close(self) -> None:
        self._pool.clear()


def _json_or_none(data: bytes) -> dict | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
