"""How requests reach an API server: two transports behind the one client (client.py).

PoolTransport   the urllib3 pool the `kubernetes` package builds from a kubeconfig context:
                TLS, client certificates, proxies, bearer tokens and their refresh hooks (exec
                plugins, OIDC). Thread-safe. What diff, apply, status and review use
                (through config.connect).
HttpsTransport  the standard library's http.client, one keep-alive connection per thread,
                built from an Endpoint: a server URL, a CA file and a client certificate.
                Building and importing it costs neither the `kubernetes` package (about a
                second of imports) nor urllib3, which is why `tenantc cluster up` uses it for
                its readiness probes, CRD install and watch within its start budget.

Both answer `send` with a Response for any HTTP answer (error statuses included) and raise
TransportError when there is none; the client decides what is retried and what is an error.
"""
from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, dropped, timed out, TLS failure."""


class Headers(Protocol):
    """Response headers, looked up without regard to case (http.client's and urllib3's both are)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class Response:
    """One HTTP answer, its body read."""

    status: int
    headers: Headers
    data: bytes


class Stream(Protocol):
    """An open 200 response read line by line (a watch), which another thread may abort."""

    def __iter__(self) -> Iterator[bytes]: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """What the client needs from a transport."""

    host: str  # the server URL, for messages and reports

    def send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
             timeout: float) -> Response: ...

    def open_stream(self, target: str, headers: dict[str, str], timeout: float) -> tuple[Response, Stream | None]:
        """GET `target`; a Stream when the answer is 200, else the Response with its body."""
        ...

    def authorization(self) -> str | None: ...

    def close(self) -> None: ...


# -- the standard library's ----------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to talk: a server URL, a CA file and an optional client certificate.

    Without a CA the server is not verified: only for a component's self-signed health
    endpoint, where liveness is all that is asked and no data is sent."""

    server: str  # https://host:port
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        if self.ca_file:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class HttpsTransport:
    """http.client over TLS: one kept-alive connection per thread, re-opened when it drops."""

    def __init__(self, endpoint: Endpoint):
        url = urlsplit(endpoint.server)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"server {endpoint.server!r} must be an https:// URL")
        self.host = endpoint.server.rstrip("/")
        self._hostname, self._port, self._base = url.hostname, url.port or 443, url.path.rstrip("/")
        self._ssl = endpoint.ssl_context()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPSConnection] = []

    def _connection(self, timeout: float) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection(timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        else:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def _new_connection(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self._hostname, self._port, timeout=timeout, context=self._ssl)

    def send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
             timeout: float) -> Response:
        conn = self._connection(timeout)
        try:
            conn.request(method, self._base + target, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # the next request reconnects
            raise TransportError(_describe(exc)) from exc
        return Response(response.status, response.headers, data)

    def open_stream(self, target: str, headers: dict[str, str], timeout: float) -> tuple[Response, Stream | None]:
        conn = self._new_connection(timeout)  # a watch connection is never reused
        try:
            conn.request("GET", self._base + target, headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                answer = Response(response.status, response.headers, response.read())
                conn.close()
                return answer, None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise TransportError(_describe(exc)) from exc
        return Response(200, response.headers, b""), _HttpStream(conn, response)

    def authorization(self) -> str | None:
        return None  # the client certificate is the credential

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


class _HttpStream:
    def __init__(self, conn: http.client.HTTPSConnection, response: http.client.HTTPResponse):
        self._conn, self._response = conn, response

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response  # one line at a time, from the buffered socket file
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise TransportError(_describe(exc)) from exc

    def abort(self) -> None:
        """Wake a thread blocked reading (close() alone does not interrupt a blocked read)."""
        _shutdown(self._conn.sock)

    def close(self) -> None:
        self._conn.close()


# -- the kubernetes package's -----------------------------------------------------------------
class PoolTransport:
    """The urllib3 pool of the `kubernetes` package's REST client for one Configuration.

    Why not the generated API classes on top: building model objects for thousands of items
    costs more than the requests themselves, and tenantc needs a handful of verbs on arbitrary
    kinds. The connection setup is the package's own, so every kubeconfig it can use works."""

    def __init__(self, configuration: Any, pool_size: int = 8):
        import urllib3
        from kubernetes.client.rest import RESTClientObject

        configuration.connection_pool_maxsize = max(pool_size, 1)
        configuration.retries = False  # the client retries, with backoff and a budget
        self.configuration = configuration
        self.host = configuration.host.rstrip("/")
        self._pool = RESTClientObject(configuration).pool_manager
        self._urllib3 = urllib3

    def _timeout(self, timeout: float) -> Any:
        return self._urllib3.Timeout(connect=min(10.0, timeout), read=timeout)

    def send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
             timeout: float) -> Response:
        try:
            response = self._pool.request(method, self.host + target, body=body, headers=headers,
                                          timeout=self._timeout(timeout), retries=False, redirect=False,
                                          preload_content=True)
        except (self._urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(type(exc).__name__) from exc
        return Response(response.status, response.headers, response.data)

    def open_stream(self, target: str, headers: dict[str, str], timeout: float) -> tuple[Response, Stream | None]:
        try:
            response = self._pool.request("GET", self.host + target, headers=headers, timeout=self._timeout(timeout),
                                          retries=False, redirect=False, preload_content=False)
        except (self._urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(type(exc).__name__) from exc
        if response.status != 200:
            answer = Response(response.status, response.headers, response.data)
            response.release_conn()
            return answer, None
        return Response(200, response.headers, b""), _PoolStream(response, self._urllib3)

    def authorization(self) -> str | None:
        return self.configuration.get_api_key_with_prefix("authorization")  # runs refresh hooks

    def close(self) -> None:
        self._pool.clear()


class _PoolStream:
    def __init__(self, response: Any, urllib3: Any):
        self._response, self._urllib3 = response, urllib3

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        try:
            for chunk in self._response.stream(65536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                yield from lines
        except (self._urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(type(exc).__name__) from exc
        if pending:
            yield pending

    def abort(self) -> None:
        shutdown = getattr(self._response, "shutdown", None)  # urllib3 >= 2.3
        if shutdown is not None:
            shutdown()
        else:
            _shutdown(getattr(getattr(self._response, "connection", None), "sock", None))

    def close(self) -> None:
        self._response.release_conn()


def _shutdown(sock: Any) -> None:
    import socket

    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"
