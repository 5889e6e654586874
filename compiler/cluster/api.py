"""A minimal HTTPS client for the few API calls `up` makes (readiness, CRD install).

Plain `http.client` with the admin client certificate: it starts in microseconds, where
importing the `kubernetes` package costs about a second of the start budget, and server-side
apply only needs a PATCH with a YAML/JSON body.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass


class ApiError(Exception):
    """A non-2xx answer; `status` and the server's message are kept for the caller's error."""

    def __init__(self, method: str, path: str, status: int, body: bytes):
        self.status = status
        try:
            message = json.loads(body).get("message", "")
        except ValueError:
            message = body.decode(errors="replace")[:500]
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to talk: host, port, CA file, and an optional client certificate."""

    host: str
    port: int
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def context(self) -> ssl.SSLContext:
        if self.ca_file:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        else:  # a component's self-signed health endpoint: only liveness is asked, no data
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class Client:
    """One keep-alive HTTPS connection; not thread-safe, so use one per thread."""

    def __init__(self, endpoint: Endpoint, timeout: float = 10.0):
        self._conn = http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=timeout,
                                                 context=endpoint.context())

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json") -> dict | str:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()  # the next request reconnects
            raise
        if not 200 <= response.status < 300:
            raise ApiError(method, path, response.status, data)
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(data)
        return data.decode(errors="replace")

    def get(self, path: str) -> dict | str:
        return self.request("GET", path)

    def watch(self, path: str):
        """Yield the events of a watch (`?watch=1` added) until the server ends the stream."""
        separator = "&" if "?" in path else "?"
        self._conn.request("GET", f"{path}{separator}watch=1", headers={"Accept": "application/json"})
        response = self._conn.getresponse()
        if response.status != 200:
            raise ApiError("WATCH", path, response.status, response.read())
        try:
            for line in response:  # one JSON event per line
                if line.strip():
                    yield json.loads(line)
        finally:
            self._conn.close()  # a watch connection is never reused

    def close(self) -> None:
        self._conn.close()

    def abort(self) -> None:
        """Wake a thread blocked in `watch` (close() alone does not interrupt a blocked read)."""
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
