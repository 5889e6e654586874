"""How requests reach an API server: the standard library's http.client, for every client tenantc has.

HttpsTransport  one kept-alive connection per thread (thread-safe), built from an Endpoint
                (server URL; CA file or data, or the system's roots, or no verification;
                tls-server-name; an http:// proxy tunnelled with CONNECT; a static client
                certificate) and optional Credentials (compiler/kube/credentials.py: the
                Authorization header, a client certificate that may rotate, a refresh after
                401). diff, apply, status and review get one from a kubeconfig context
                (config.connect); `tenantc cluster up` from the admin certificate files.
                Importing it costs no third-party package, which keeps `tenantc cluster up`
                and the CLI's start fast.

`send` answers with a Response for any HTTP answer (error statuses included) and raises
TransportError when there is none; the client decides what is retried and what is an error.
Two answers are the transport's own: a server certificate that fails verification raises
ConfigError at once (retrying cannot fix it), and a 401 is sent once more when the
credentials had a newer one to offer (an exec plugin run again, a token file re-read), as
client-go refreshes exec credentials after a 401.
"""
from __future__ import annotations

import base64
import http.client
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from compiler.kube.errors import ConfigError


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, dropped, timed out, TLS failure."""


class Headers(Protocol):
    """Response headers, looked up without regard to case (http.client's are)."""

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


@dataclass(frozen=True)
class ClientCert:
    """A TLS client certificate and its key: PEM in memory, or files."""

    cert_pem: bytes | None = field(default=None, repr=False)
    key_pem: bytes | None = field(default=None, repr=False)
    cert_file: str | None = None
    key_file: str | None = None


class Credentials(Protocol):
    """What a transport asks of a user's credentials (implementations: compiler/kube/credentials.py)."""

    kind: str  # for messages: "token", "tokenFile", "exec plugin NAME", "client certificate", ...
    lazy: bool  # True when asking may run a plugin (so it is not asked before the first request)

    def authorization(self) -> str | None:
        """The Authorization header value; ConfigError when there is none to be had."""
        ...

    def client_certificate(self) -> ClientCert | None: ...

    def refresh(self, sent: str | None) -> bool:
        """After a 401 to a request sent with `sent`: True when a different credential is ready."""
        ...


# -- where, and how it is verified -------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """Where to talk and how the server is checked, as a kubeconfig cluster says it.

    The server is verified against `ca_file`/`ca_data` when given, else against the system's
    trusted roots (as kubectl does); `insecure` turns verification off (a component's
    self-signed health endpoint, or insecure-skip-tls-verify). `cert_file`/`key_file` is a
    static client certificate (Credentials may supply one instead)."""

    server: str  # https://host:port[/path] (http:// too, without TLS)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)  # PEM (or DER)
    insecure: bool = False
    tls_server_name: str | None = None  # the name to check the certificate against (and SNI)
    proxy: str | None = None  # http://[user:password@]host:port

    def ssl_context(self, cert: ClientCert | None = None) -> ssl.SSLContext:
        """TLS settings with `cert` (else the endpoint's own certificate files) as client certificate."""
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            cadata: str | bytes | None = None
            if self.ca_data:
                cadata = self.ca_data.decode("ascii", "replace") if self.ca_data.lstrip().startswith(b"-----") \
                    else self.ca_data
            try:
                ctx = ssl.create_default_context(cafile=self.ca_file, cadata=cadata)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise ConfigError(f"cannot load the certificate authority of {self.server}: {exc}") from None
        if cert is None and self.cert_file:
            cert = ClientCert(cert_file=self.cert_file, key_file=self.key_file)
        if cert is not None:
            load_client_cert(ctx, cert, self.server)
        return ctx


def load_client_cert(ctx: ssl.SSLContext, cert: ClientCert, server: str) -> None:
    """Load a client certificate; PEM in memory goes through 0600 files in a private folder that
    exist only while `ssl` reads them (it takes no in-memory key)."""
    folder = None
    try:
        cert_file, key_file = cert.cert_file, cert.key_file
        if cert.cert_pem is not None or cert.key_pem is not None:
            folder = tempfile.mkdtemp(prefix="tenantc-cert-")  # mode 0700
            if cert.cert_pem is not None:
                cert_file = _private_file(folder, "cert.pem", cert.cert_pem)
            if cert.key_pem is not None:
                key_file = _private_file(folder, "key.pem", cert.key_pem)
        if cert_file is None:
            raise ConfigError(f"a client key without its certificate for {server}")
        ctx.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the client certificate for {server}: {exc}") from None
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _private_file(folder: str, name: str, data: bytes) -> str:
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


# -- the transport ----------------------------------------------------------------------------------
class _TlsConnection(http.client.HTTPSConnection):
    """HTTPSConnection that checks the certificate against tls-server-name when one is set (through
    a proxy tunnel too: TLS starts after CONNECT, with the API server's name)."""

    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext, server_name: str | None):
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls_context = context
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and the CONNECT tunnel when set
        name = self._server_name or getattr(self, "_tunnel_host", None) or self.host
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=name)


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpsTransport:
    """http.client: one kept-alive connection per thread, re-opened when it drops or the client
    certificate changes."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials | None = None, label: str = ""):
        url = urlsplit(endpoint.server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError(f"server {endpoint.server!r} must be an https:// URL")
        self.host = endpoint.server.rstrip("/")
        self.endpoint = endpoint
        self.credentials = credentials
        self._label = label  # e.g. "context 'prod'", for messages
        self._tls = url.scheme == "https"
        self._hostname, self._base = url.hostname, url.path.rstrip("/")
        self._port = url.port or (443 if self._tls else 80)
        self._proxy = _proxy_parts(endpoint.proxy) if endpoint.proxy else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        # (TLS settings, the client certificate they hold, generation): replaced whole, so a
        # request reads it without the lock
        self._tls_now: tuple[ssl.SSLContext | None, ClientCert | None, int] = (None, None, 0)
        if self._tls:  # a CA or client certificate that cannot be loaded fails here, not at the first request
            static = credentials.client_certificate() if credentials and not credentials.lazy else None
            self._tls_now = (endpoint.ssl_context(static), static, 0)

    # -- connections
    def _context(self) -> tuple[ssl.SSLContext | None, int]:
        if not self._tls:
            return None, 0
        cert = self.credentials.client_certificate() if self.credentials else None
        context, held, generation = self._tls_now
        if context is not None and cert is held:  # the usual case: no lock taken per request
            return context, generation
        with self._lock:
            context, held, generation = self._tls_now
            if context is None or cert != held:
                context, generation = self.endpoint.ssl_context(cert), generation + 1
                self._tls_now = (context, cert, generation)
            return context, generation

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        context, generation = self._context()
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "generation", None) != generation:
            conn.close()  # made with another client certificate
            conn = None
        if conn is None:
            conn = self._new_connection(timeout, context)
            self._local.conn, self._local.generation = conn, generation
            with self._lock:
                self._connections.append(conn)
        elif conn.timeout != timeout:  # the socket was made with conn.timeout
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
        return conn

    def _new_connection(self, timeout: float, context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
        if context is None and self._tls:
            context = self._context()[0]
        host, port = (self._proxy[0], self._proxy[1]) if self._proxy else (self._hostname, self._port)
        conn: http.client.HTTPConnection
        if self._tls:
            assert context is not None
            conn = _TlsConnection(host, port, timeout, context, self.endpoint.tls_server_name)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        if self._proxy:
            conn.set_tunnel(self._hostname, self._port, headers=self._proxy[2])
        return conn

    # -- requests
    def send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
             timeout: float) -> Response:
        response = self._exchange(method, target, body, headers, timeout)
        if response.status == 401 and self.credentials is not None:
            sent = headers.get("Authorization")
            if self.credentials.refresh(sent):  # a rotated token or a plugin run again: one more try
                fresh = {k: v for k, v in headers.items() if k != "Authorization"}
                header = self.credentials.authorization()
                if header:
                    fresh["Authorization"] = header
                response = self._exchange(method, target, body, fresh, timeout)
        return response

    def _exchange(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
                  timeout: float) -> Response:
        for attempt in (1, 2):
            conn = self._connection(timeout)
            reused = conn.sock is not None
            try:
                conn.request(method, self._base + target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except ssl.SSLCertVerificationError as exc:
                conn.close()
                raise ConfigError(self._untrusted(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # the next request reconnects
                if attempt == 1 and reused and isinstance(exc, _STALE):
                    continue  # a kept-alive connection the server had closed: once more, on a new one
                raise TransportError(_describe(exc)) from exc
            return Response(response.status, response.headers, data)
        raise AssertionError("unreachable")

    def open_stream(self, target: str, headers: dict[str, str], timeout: float) -> tuple[Response, Stream | None]:
        conn = self._new_connection(timeout)  # a watch connection is never reused
        try:
            conn.request("GET", self._base + target, headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                answer = Response(response.status, response.headers, response.read())
                conn.close()
                if answer.status == 401 and self.credentials is not None:
                    self.credentials.refresh(headers.get("Authorization"))  # the next request gets a fresh one
                return answer, None
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise ConfigError(self._untrusted(exc)) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise TransportError(_describe(exc)) from exc
        return Response(200, response.headers, b""), _HttpStream(conn, response)

    def authorization(self) -> str | None:
        return self.credentials.authorization() if self.credentials else None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> str:
        name = self.endpoint.tls_server_name or self._hostname
        where = f"{self._label}: " if self._label else ""
        return (f"{where}the certificate of {self.host} is not trusted for the name {name}: "
                f"{exc.verify_message or exc} (check the cluster's certificate-authority(-data), server "
                "and tls-server-name)")


def _proxy_parts(proxy: str) -> tuple[str, int, dict[str, str]]:
    url = urlsplit(proxy)
    headers = {}
    if url.username is not None:
        pair = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return url.hostname or "", url.port or 80, headers


class _HttpStream:
    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse):
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
