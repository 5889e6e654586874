"""Waiting until components answer their health endpoints, while watching them for crashes.

A component that dies during start would otherwise look like a slow one until the
timeout; checking the recorded processes on every poll turns that into an immediate
error that names the component and shows its log.
"""
from __future__ import annotations

import http.client
import time
from collections.abc import Callable

from compiler.cluster.errors import ComponentError
from compiler.cluster.process import ProcessRecord, is_running, log_tail
from compiler.kube.client import KubeClient
from compiler.kube.errors import KubeError
from compiler.kube.transport import Endpoint

POLL_SECONDS = 0.1


def http_ok(host: str, port: int, path: str) -> Callable[[], bool]:
    """A probe for a plain-HTTP health endpoint (etcd's client port on loopback)."""

    def probe() -> bool:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status == 200
        finally:
            conn.close()

    return probe


def https_ok(endpoint: Endpoint, path: str) -> Callable[[], bool]:
    """A probe for an HTTPS health endpoint answering `ok` (/readyz, /healthz); not retried: the
    caller polls."""

    def probe() -> bool:
        client = KubeClient.for_endpoint(endpoint, timeout=5)
        try:
            return client.get_text(path).strip() == "ok"
        finally:
            client.close()

    return probe


def wait_ready(component: str, probe: Callable[[], bool], watched: dict[str, ProcessRecord],
               timeout: float) -> None:
    """Poll `probe` until it succeeds; raise ComponentError when a watched process exits or on timeout.

    `watched` maps component names to their records: a crash of any of them (etcd dying
    while the API server waits for it) is reported under the crashed component's name.
    """
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        for name, record in watched.items():
            if not is_running(record):
                raise ComponentError(name, "exited while starting", record.log, log_tail(record), exited=True)
        try:
            if probe():
                return
        except (OSError, http.client.HTTPException, KubeError) as exc:
            last_error = str(exc)
        if time.monotonic() > deadline:
            record = watched[component]
            why = f"was not ready after {timeout:.0f}s" + (f" ({last_error})" if last_error else "")
            raise ComponentError(component, why, record.log, log_tail(record))
        time.sleep(POLL_SECONDS)
