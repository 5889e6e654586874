"""A minimal Kubernetes API client over the standard library (http.client, ssl, json).

Why not the `kubernetes` package: the agent runs in every job pod and must reach its first
heartbeat in well under a second with a few MiB of memory; that client costs hundreds of
milliseconds and tens of MiB to import. The agent needs a handful of REST calls, so this
module gives exactly those: credentials (in-cluster service account or a kubeconfig), one
kept-alive HTTPS connection, JSON in and out, typed errors, and the retry policy of
`compiler.agent.retry` (capped, jittered backoff).
Tokens never appear in a message, a log line or a repr.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

# The retry policy (which statuses, the backoff curve, Retry-After) is the one the CLI's client
# uses too; Backoff is re-exported for the agent's commands.
from compiler.agent.retry import Backoff as Backoff
from compiler.agent.retry import is_transient_status, next_wait, parse_retry_after

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_REREAD_SECONDS = 60.0  # projected tokens rotate; client-go re-reads them on the same order
USER_AGENT = "tenantc-agent/0.1"

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # JSON is YAML, so the body stays JSON


class KubeError(Exception):
    """Base of every error this module raises; the commands catch only this."""


class ConfigError(KubeError):
    """Credentials or the kubeconfig cannot be used: a setup problem, not a passing one."""


class Unreachable(KubeError):
    """No HTTP answer at all (refused, reset, timed out, TLS failure): always worth a retry."""

    transient = True


class ApiError(KubeError):
    """The API server answered with an error status; `message` is its own explanation."""

    def __init__(self, status: int, method: str, path: str, message: str, retry_after: float | None = None):
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.retry_after = retry_after  # the server's Retry-After, in seconds
        super().__init__(f"{method} {path}: HTTP {status}: {message}")

    @property
    def transient(self) -> bool:
        """Server overload or restart, as opposed to a request that will never succeed."""
        return is_transient_status(self.status)


def is_transient(exc: BaseException) -> bool:
    return bool(getattr(exc, "transient", False))


# --------------------------------------------------------------------------- credentials


@dataclass
class ClusterConfig:
    """Where the API server is and how to prove who we are; secret fields hide from repr."""

    host: str
    port: int
    base_path: str = ""
    server_name: str | None = None  # TLS name to verify when it differs from `host`
    ca_file: str | None = None
    ca_data: str | bytes | None = field(default=None, repr=False)  # PEM text or DER bytes
    insecure: bool = False
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = field(default=None, repr=False)
    key_data: bytes | None = field(default=None, repr=False)
    namespace: str | None = None

    def use_token_file(self, path: str) -> None:
        """Make the token in `path` the only credential (the --token-file override)."""
        if not os.access(path, os.R_OK):
            raise ConfigError(f"token file {path} is not readable")
        self.token, self.token_file = None, path
        self.cert_file = self.key_file = None
        self.cert_data = self.key_data = None


def in_cluster_config(env: Mapping[str, str] | None = None, sa_dir: str | None = None) -> ClusterConfig:
    """The pod's own service account: the token is re-read from its file as it rotates."""
    env = os.environ if env is None else env
    sa_dir = sa_dir or SERVICE_ACCOUNT_DIR
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError(
            "not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig"
        )
    token_file = os.path.join(sa_dir, "token")
    if not os.path.exists(token_file):
        raise ConfigError(
            f"no service account token at {token_file} (is automountServiceAccountToken off?)"
        )
    ns_file = os.path.join(sa_dir, "namespace")
    namespace = _read_text(ns_file).strip() if os.path.exists(ns_file) else None
    ca_file = os.path.join(sa_dir, "ca.crt")
    return ClusterConfig(
        host=host.strip("[]"),
        port=_port(port, "KUBERNETES_SERVICE_PORT"),
        ca_file=ca_file if os.path.exists(ca_file) else None,
        token_file=token_file,
        namespace=namespace,
    )


def kubeconfig_config(path: str, context: str | None = None) -> ClusterConfig:
    """Read one kubeconfig file: token, tokenFile, client certificate, CA, by file or -data.

    Relative file names are taken from the kubeconfig's folder, as kubectl does. Exec and
    auth-provider plugins are refused with a clear message rather than half-supported.
    """
    doc = _read_kubeconfig(path)
    base = os.path.dirname(os.path.abspath(path))
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context; pass --context")
    ctx = _named(doc, "contexts", "context", name, path)
    cluster = _named(doc, "clusters", "cluster", ctx.get("cluster"), path)
    user = _named(doc, "users", "user", ctx["user"], path) if ctx.get("user") else {}
    cfg = _cluster_config(cluster, ctx, base, path)
    _add_user_credentials(cfg, user, ctx, base, path)
    return cfg


def _read_kubeconfig(path: str) -> dict:
    try:
        import yaml  # lazily: only outside a pod, and only here

        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return doc


def _cluster_config(cluster: dict, ctx: dict, base: str, path: str) -> ClusterConfig:
    """Server, TLS name and CA of the context's cluster entry."""
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server")
    url = urlsplit(server)
    if url.scheme != "https" or not url.hostname:
        raise ConfigError(f"kubeconfig {path}: server {server!r} must be an https:// URL")
    cfg = ClusterConfig(
        host=url.hostname,
        port=url.port or 443,
        base_path=url.path.rstrip("/"),
        server_name=cluster.get("tls-server-name"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=ctx.get("namespace"),
    )
    cfg.ca_file = _rel(base, cluster.get("certificate-authority"))
    if cluster.get("certificate-authority-data"):
        ca = _b64(cluster["certificate-authority-data"], "certificate-authority-data", path)
        cfg.ca_data = ca.decode("ascii") if ca.lstrip().startswith(b"-----") else ca
    return cfg


def _add_user_credentials(cfg: ClusterConfig, user: dict, ctx: dict, base: str, path: str) -> None:
    """Token, token file or client certificate of the context's user entry."""
    if user.get("exec") or user.get("auth-provider"):
        raise ConfigError(
            f"kubeconfig {path}: user {ctx.get('user')!r} uses an exec/auth-provider plugin, "
            "which tenantc-agent does not run; use a token, tokenFile or client certificate"
        )
    cfg.token = user.get("token") or None
    cfg.token_file = _rel(base, user.get("tokenFile"))
    cfg.cert_file = _rel(base, user.get("client-certificate"))
    cfg.key_file = _rel(base, user.get("client-key"))
    if user.get("client-certificate-data"):
        cfg.cert_data = _b64(user["client-certificate-data"], "client-certificate-data", path)
    if user.get("client-key-data"):
        cfg.key_data = _b64(user["client-key-data"], "client-key-data", path)
    if bool(cfg.cert_file or cfg.cert_data) != bool(cfg.key_file or cfg.key_data):
        raise ConfigError(f"kubeconfig {path}: client certificate and client key must be given together")


def load_config(
    kubeconfig: str | None = None,
    context: str | None = None,
    token_file: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ClusterConfig:
    """--kubeconfig first, then the pod's service account, then $KUBECONFIG's first file."""
    env = os.environ if env is None else env
    if kubeconfig:
        cfg = kubeconfig_config(kubeconfig, context)
    elif env.get("KUBERNETES_SERVICE_HOST"):
        cfg = in_cluster_config(env)
    elif env.get("KUBECONFIG"):
        first = next((p for p in env["KUBECONFIG"].split(os.pathsep) if p), "")
        cfg = kubeconfig_config(first, context)
    else:
        raise ConfigError("no cluster to talk to: not in a pod and no --kubeconfig given")
    if token_file:
        cfg.use_token_file(token_file)
    return cfg


def ssl_context(cfg: ClusterConfig) -> ssl.SSLContext:
    """TLS as kubectl does it: verify the server against the CA, present a client cert if any.

    Client certificate/key given as -data are written to 0600 temporary files only for the
    time `load_cert_chain` reads them (ssl takes no in-memory key), then removed.
    """
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file, cadata=cfg.ca_data)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the cluster CA: {exc}") from None
    if cfg.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.cert_file or cfg.cert_data:
        temps: list[str] = []
        try:
            cert = cfg.cert_file or _secret_temp(cfg.cert_data, temps)
            key = cfg.key_file or _secret_temp(cfg.key_data, temps)
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the client certificate: {exc}") from None
        finally:
            for name in temps:
                os.unlink(name)
    return ctx


# --------------------------------------------------------------------------- the client


class _Connection(http.client.HTTPSConnection):
    """HTTPSConnection that verifies a TLS name other than the host (tls-server-name)."""

    def __init__(self, host, port, context, server_name, timeout):
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name or self.host)


class KubeClient:
    """JSON requests to one API server over a kept-alive connection, re-opened when it drops.

    Not thread-safe: give each thread its own client (they are cheap; the TLS context is
    shared).
    """

    def __init__(self, cfg: ClusterConfig, timeout: float = 10.0, context: ssl.SSLContext | None = None):
        self.cfg = cfg
        self.timeout = timeout
        self.ssl = context or ssl_context(cfg)
        self._conn: _Connection | None = None
        self._token: str | None = cfg.token
        self._token_read_at = float("-inf")

    def clone(self) -> KubeClient:
        """A client with its own connection, for another thread."""
        return KubeClient(self.cfg, self.timeout, self.ssl)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- verbs
    def get(self, path: str, timeout: float | None = None) -> dict:
        return self.request("GET", path, timeout=timeout)

    def list_items(self, path: str, label_selector: str | None = None, timeout: float | None = None) -> list[dict]:
        """The items of a collection, one page (what the agent lists is a handful of objects)."""
        query = {"labelSelector": label_selector} if label_selector else None
        return list(self.request("GET", path, query=query, timeout=timeout).get("items") or [])

    def delete(self, path: str, propagation: str = "Background", timeout: float | None = None) -> dict:
        """Delete one object; its dependents go by garbage collection (`propagation`)."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        return self.request("DELETE", path, body, timeout=timeout)

    def create(self, path: str, obj: dict, timeout: float | None = None) -> dict:
        return self.request("POST", path, obj, timeout=timeout)

    def replace(self, path: str, obj: dict, timeout: float | None = None) -> dict:
        return self.request("PUT", path, obj, timeout=timeout)

    def merge_patch(self, path: str, patch: dict, timeout: float | None = None) -> dict:
        return self.request("PATCH", path, patch, content_type=MERGE_PATCH, timeout=timeout)

    def apply(self, path: str, obj: dict, field_manager: str, force: bool = True,
              timeout: float | None = None) -> dict:
        """Server-side apply: the server merges by field ownership, so writers never clash."""
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        return self.request("PATCH", path, obj, content_type=APPLY_PATCH, query=query, timeout=timeout)

    # -- transport
    def request(self, method: str, path: str, body: dict | None = None, *,
                content_type: str = JSON, query: dict | None = None,
                timeout: float | None = None) -> dict:
        """One call; raises Unreachable or ApiError, returns the decoded JSON body."""
        url = self.cfg.base_path + path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": JSON, "User-Agent": USER_AGENT}
        token = self._bearer()
        if token:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            reused = self._conn is not None and self._conn.sock is not None
            conn = self._connection(self.timeout if timeout is None else timeout)
            try:
                conn.request(method, url, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                # A kept-alive connection the server closed meanwhile: one fresh try.
                if attempt == 1 and reused and isinstance(
                    exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                ):
                    continue
                raise Unreachable(f"{method} {path}: {_describe(exc)}") from None
            break
        if resp.will_close:
            self.close()
        try:
            obj = json.loads(raw) if raw else {}
        except ValueError:
            obj = {"message": raw[:200].decode("utf-8", "replace")}
        if resp.status >= 400:
            message = obj.get("message") if isinstance(obj, dict) else None
            raise ApiError(resp.status, method, path, message or resp.reason,
                           parse_retry_after(resp.getheader("Retry-After")))
        return obj

    def _connection(self, timeout: float) -> _Connection:
        if self._conn is None:
            self._conn = _Connection(self.cfg.host, self.cfg.port, self.ssl, self.cfg.server_name, timeout)
        else:
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
        return self._conn

    def _bearer(self) -> str | None:
        if self.cfg.token_file and time.monotonic() - self._token_read_at > TOKEN_REREAD_SECONDS:
            try:
                self._token = _read_text(self.cfg.token_file).strip() or None
                self._token_read_at = time.monotonic()
            except OSError as exc:  # keep the last token; the file may be mid-rotation
                if self._token is None:
                    raise ConfigError(f"cannot read token file {self.cfg.token_file}: {exc.strerror}") from None
        return self._token


# --------------------------------------------------------------------------- paths


def object_path(group: str, version: str, plural: str, namespace: str, name: str | None = None) -> str:
    """REST path of a namespaced resource (core group when `group` is empty)."""
    prefix = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    path = f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"
    return path + (f"/{quote(name, safe='')}" if name is not None else "")


# --------------------------------------------------------------------------- retry


def retry_transient(call, deadline: float, backoff: Backoff | None = None, wait=time.sleep,
                    clock=time.monotonic):
    """Run `call()` until it returns, retrying transient errors until the monotonic deadline.

    A permanent error (403, 404, 422, ...) or the deadline re-raises the last error; waits
    follow compiler.agent.retry (a server's Retry-After is honoured within the deadline).
    """
    backoff = backoff or Backoff()
    while True:
        try:
            return call()
        except KubeError as exc:
            delay = next_wait(backoff, deadline - clock(), getattr(exc, "retry_after", None))
            if not is_transient(exc) or delay is None:
                raise
            wait(delay)


# --------------------------------------------------------------------------- helpers


def _named(doc: dict, section: str, key: str, name, path: str) -> dict:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(key) or {}
    raise ConfigError(f"kubeconfig {path}: no {key} named {name!r} in {section}")


def _rel(base: str, name: str | None) -> str | None:
    return os.path.join(base, os.path.expanduser(name)) if name else None


def _b64(value: str, what: str, path: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        raise ConfigError(f"kubeconfig {path}: {what} is not base64") from None


def _secret_temp(data: bytes | None, made: list[str]) -> str:
    fd, name = tempfile.mkstemp(prefix="tenantc-agent-")  # mkstemp creates it 0600
    made.append(name)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data or b"")
    return name


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _port(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{what}={value!r} is not a port number") from None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"
