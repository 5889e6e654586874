"""Who a kubeconfig user is: bearer token, token file, exec plugin, client certificate, basic auth.

What kubectl does, as client-go's documentation and behaviour define it (docs/credentials.md
names the sources), with one deliberate difference:
a user that yields no credential is an error naming the context, never a request as
`system:anonymous` (kubectl would send it).

    token                        `Authorization: Bearer <token>`
    tokenFile                    read when the client is made and again at most every minute
                                 (client-go's cached file token source), and at once after a 401;
                                 a read that fails later keeps the last token. With `token` too,
                                 the file wins and `token` is the fallback, as in client-go.
    client-certificate(-data),   the TLS client certificate (files or inline PEM; giving both a
    client-key(-data)            file and data, or only one of certificate and key, is an error)
    username + password          HTTP basic auth (not with a token: client-go refuses both)
    exec                         a credential plugin (client.authentication.k8s.io/v1 or v1beta1):
                                 run with the user's `args`, the process environment plus `env`,
                                 KUBERNETES_EXEC_INFO (spec.interactive false, spec.cluster when
                                 provideClusterInfo), no standard input. Its ExecCredential gives a
                                 token and/or a client certificate; they are cached (per plugin
                                 configuration, shared by every client of the process) until
                                 status.expirationTimestamp, and the plugin runs again after a 401.
                                 `interactiveMode: Always` is refused: tenantc never gives a plugin
                                 a terminal. As in client-go, a static token, basic auth or client
                                 certificate in the same user takes precedence and the plugin is
                                 not run.
    auth-provider, as/as-*       refused with a message (client-go's auth-provider plugins are
                                 deprecated in favour of exec plugins; impersonation is not
                                 implemented, and ignoring it would act with the wrong rights)

Secrets never appear in a message or a repr.
"""
from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from compiler.kube.errors import ConfigError
from compiler.kube.kubeconfig import ClusterSettings, ContextSettings, Entry, decode_data
from compiler.kube.transport import ClientCert, Credentials

EXEC_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
TOKEN_FILE_PERIOD = 60.0  # seconds a token file's content is used before it is read again
EXEC_TIMEOUT = 180.0  # a plugin that has not answered by then will not (it has no terminal)
UNSUPPORTED_USER_KEYS = ("as", "as-uid", "as-groups", "as-user-extra")


# -- static -------------------------------------------------------------------------------------
class StaticCredentials:
    """A token, basic auth and/or a client certificate that never change."""

    lazy = False

    def __init__(self, kind: str, header: str | None = None, cert: ClientCert | None = None):
        self.kind, self._header, self._cert = kind, header, cert

    def authorization(self) -> str | None:
        return self._header

    def client_certificate(self) -> ClientCert | None:
        return self._cert

    def refresh(self, sent: str | None) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticCredentials({self.kind})"


class TokenFileCredentials:
    """A bearer token read from a file that may be rotated under us."""

    lazy = False

    def __init__(self, path: str, where: str, fallback: str | None = None, cert: ClientCert | None = None,
                 period: float = TOKEN_FILE_PERIOD):
        self.kind = "tokenFile"
        self.path, self._where, self._fallback, self._cert, self._period = path, where, fallback, cert, period
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._token: str | None = None
        with self._lock:
            self._reread(first=True)

    def _reread(self, first: bool = False) -> None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                token = fh.read().strip()
            if not token:
                raise ValueError("it is empty")
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            if first and not self._fallback:
                raise ConfigError(f"{self._where}: cannot read tokenFile {self.path}: {why}") from None
            self._token = self._token or self._fallback  # keep the last token: the file may be mid-rotation
            return
        finally:
            self._read_at = time.monotonic()
        self._token = token

    def authorization(self) -> str | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self._period:
                self._reread()
            return f"Bearer {self._token}" if self._token else None

    def client_certificate(self) -> ClientCert | None:
        return self._cert

    def refresh(self, sent: str | None) -> bool:
        with self._lock:
            self._reread()
            return sent != (f"Bearer {self._token}" if self._token else None)

    def __repr__(self) -> str:
        return f"TokenFileCredentials({self.path})"


# -- exec plugins --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecPlugin:
    """One exec credential plugin configuration, as the kubeconfig user gives it."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    api_version: str
    install_hint: str = ""
    cluster: dict | None = None  # spec.cluster, when provideClusterInfo

    def cache_key(self) -> str:
        return json.dumps([self.command, self.args, self.env, self.api_version, self.cluster], sort_keys=True)


@dataclass(frozen=True)
class _ExecResult:
    header: str | None = field(repr=False)
    cert: ClientCert | None
    expires: float | None  # epoch seconds; None: valid for the life of the process


class _ExecAuthenticator:
    """Runs one plugin configuration and caches what it returned; shared by every client using it."""

    def __init__(self, plugin: ExecPlugin):
        self.plugin = plugin
        self.runs = 0  # how often the plugin ran (tests read it)
        self._lock = threading.Lock()
        self._cached: _ExecResult | None = None

    def current(self, where: str) -> _ExecResult:
        with self._lock:
            cached = self._cached
            if cached is None or (cached.expires is not None and time.time() >= cached.expires):
                cached = self._cached = self._run(where)
            return cached

    def refresh(self, sent: str | None, where: str) -> bool:
        """Run the plugin again unless another request already did since `sent` was used."""
        with self._lock:
            cached = self._cached
            if cached is not None and cached.header != sent:
                return True  # rotated meanwhile
            old = cached
            self._cached = self._run(where)
            return old is None or self._cached.header != old.header or self._cached.cert != old.cert

    def _run(self, where: str) -> _ExecResult:
        plugin = self.plugin
        spec: dict = {"interactive": False}
        if plugin.cluster is not None:
            spec["cluster"] = plugin.cluster
        info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **dict(plugin.env), EXEC_INFO_ENV: json.dumps(info)}
        name = f"exec plugin {plugin.command}"
        self.runs += 1
        try:
            done = subprocess.run([plugin.command, *plugin.args], env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=EXEC_TIMEOUT)
        except FileNotFoundError:
            hint = f"; {plugin.install_hint.strip()}" if plugin.install_hint.strip() else ""
            raise ConfigError(f"{where}: {name}: executable not found{hint}") from None
        except PermissionError:
            raise ConfigError(f"{where}: {name}: not executable") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{where}: {name} gave no answer within {EXEC_TIMEOUT:.0f}s") from None
        except OSError as exc:
            raise ConfigError(f"{where}: {name} could not run: {exc.strerror or exc}") from None
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            last = stderr.strip().splitlines()[-3:]
            raise ConfigError(f"{where}: {name} failed with exit code {done.returncode}"
                              + (": " + " | ".join(last) if last else ""))
        if stderr:
            sys.stderr.write(stderr)  # a plugin's own notices, as kubectl passes them on
        return _parse_exec_credential(done.stdout, plugin.api_version, f"{where}: {name}")


def _parse_exec_credential(stdout: bytes, api_version: str, where: str) -> _ExecResult:
    try:
        doc = json.loads(stdout)
    except ValueError:
        raise ConfigError(f"{where}: its output is not an ExecCredential (not JSON)") from None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or kind != "ExecCredential":
        raise ConfigError(f"{where}: its output is not an ExecCredential (kind {kind!r})")
    if doc.get("apiVersion") != api_version:
        raise ConfigError(f"{where}: the plugin is configured for {api_version} but returned "
                          f"{doc.get('apiVersion')!r}")
    status = doc.get("status")
    if not isinstance(status, dict):
        raise ConfigError(f"{where}: the ExecCredential has no status")
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData") or None, status.get("clientKeyData") or None
    if bool(cert) != bool(key):
        raise ConfigError(f"{where}: the ExecCredential has a client certificate without its key, or a key "
                          "without its certificate")
    if not token and not cert:
        raise ConfigError(f"{where}: the ExecCredential has neither a token nor a client certificate")
    expires = None
    stamp = status.get("expirationTimestamp")
    if stamp:
        try:
            moment = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: expirationTimestamp {stamp!r} is not an RFC 3339 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        expires = moment.timestamp()
    return _ExecResult(f"Bearer {token}" if token else None,
                       ClientCert(str(cert).encode(), str(key).encode()) if cert else None, expires)


_AUTHENTICATORS: dict[str, _ExecAuthenticator] = {}
_AUTHENTICATORS_LOCK = threading.Lock()


def exec_authenticator(plugin: ExecPlugin) -> _ExecAuthenticator:
    """The process-wide authenticator of this plugin configuration (so its cache is shared)."""
    with _AUTHENTICATORS_LOCK:
        return _AUTHENTICATORS.setdefault(plugin.cache_key(), _ExecAuthenticator(plugin))


class ExecCredentials:
    """A user whose credential comes from an exec plugin (run at the first request, not before)."""

    lazy = True

    def __init__(self, plugin: ExecPlugin, where: str):
        self.kind = f"exec plugin {os.path.basename(plugin.command)}"
        self._auth = exec_authenticator(plugin)
        self._where = where

    @property
    def runs(self) -> int:
        return self._auth.runs

    def authorization(self) -> str | None:
        return self._auth.current(self._where).header

    def client_certificate(self) -> ClientCert | None:
        return self._auth.current(self._where).cert

    def refresh(self, sent: str | None) -> bool:
        return self._auth.refresh(sent, self._where)

    def __repr__(self) -> str:
        return f"ExecCredentials({self._auth.plugin.command})"


# -- from a kubeconfig user --------------------------------------------------------------------------
def credentials_for(settings: ContextSettings) -> Credentials:
    """The credentials of a context's user; ConfigError (naming the context and user) when none."""
    user = settings.user
    body = user.body
    where = f"context '{settings.context}' (user '{user.name}')"
    _refuse_unsupported(body, where)
    static = _static_credentials(user, where)
    if static is not None:
        return static
    if body.get("exec"):
        return ExecCredentials(exec_plugin(body["exec"], user, settings.cluster, where), where)
    keys = ", ".join(sorted(body)) or "none"
    raise ConfigError(f"{where}: no credentials (token, tokenFile, client-certificate/client-key, exec or "
                      f"username/password; keys found: {keys}); tenantc never sends requests as system:anonymous")


def _refuse_unsupported(body: dict, where: str) -> None:
    provider = body.get("auth-provider")
    if provider:
        name = provider.get("name", "?") if isinstance(provider, dict) else "?"
        raise ConfigError(f"{where}: auth-provider '{name}' is not supported by tenantc (client-go deprecated "
                          "auth-provider plugins for exec plugins): use an exec plugin, e.g. kubelogin for OIDC "
                          "or gke-gcloud-auth-plugin for GKE")
    impersonation = [k for k in UNSUPPORTED_USER_KEYS if body.get(k)]
    if impersonation:
        raise ConfigError(f"{where}: impersonation ({', '.join(impersonation)}) is not supported by tenantc; "
                          "use a context whose user has the rights itself")


def _static_credentials(user: Entry, where: str) -> Credentials | None:
    """Token, token file, basic auth and/or client certificate; None when the user has none (an
    exec plugin then), as client-go prefers these over a plugin."""
    body = user.body
    cert = _client_cert(user, where)
    token = str(body.get("token") or "") or None
    token_file = user.path("tokenFile")
    basic = body.get("username") or body.get("password")
    if (token or token_file) and basic:
        raise ConfigError(f"{where}: more than one authentication method (token and username/password); "
                          "only one is allowed")
    if token_file:
        return TokenFileCredentials(token_file, where, fallback=token, cert=cert)
    if token:
        return StaticCredentials("token" + (" + client certificate" if cert else ""), f"Bearer {token}", cert)
    if basic:
        pair = f"{body.get('username') or ''}:{body.get('password') or ''}".encode()
        return StaticCredentials("username/password", "Basic " + base64.b64encode(pair).decode(), cert)
    if cert:
        return StaticCredentials("client certificate", None, cert)
    return None


def _client_cert(user: Entry, where: str) -> ClientCert | None:
    body = user.body
    pair = {}
    for part in ("certificate", "key"):
        key = f"client-{part}"
        path, data = user.path(key), decode_data(body.get(f"{key}-data"), f"{key}-data", where)
        if path and data:
            raise ConfigError(f"{where}: {key} and {key}-data are both set; give one")
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read {key} {path}: {exc.strerror or exc}") from None
        pair[part] = (path, data)
    (cert_file, cert_data), (key_file, key_data) = pair["certificate"], pair["key"]
    has_cert, has_key = bool(cert_file or cert_data), bool(key_file or key_data)
    if has_cert != has_key:
        missing = "client-key or client-key-data" if has_cert else "client-certificate or client-certificate-data"
        raise ConfigError(f"{where}: {missing} is missing (a client certificate needs both)")
    if not has_cert:
        return None
    return ClientCert(cert_data, key_data, cert_file, key_file)


def exec_plugin(config, user: Entry, cluster: ClusterSettings, where: str) -> ExecPlugin:
    """The plugin configuration of a user's `exec`, checked as client-go checks it."""
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: exec must be a mapping")
    command = str(config.get("command") or "")
    if not command:
        raise ConfigError(f"{where}: exec has no command")
    api_version = _exec_api_version(config, where)
    mode = config.get("interactiveMode") or ("IfAvailable" if api_version != EXEC_VERSIONS[0] else None)
    if not mode:
        raise ConfigError(f"{where}: exec interactiveMode must be set for {api_version} "
                          f"({', '.join(INTERACTIVE_MODES)})")
    if mode not in INTERACTIVE_MODES:
        raise ConfigError(f"{where}: exec interactiveMode {mode!r} is not one of {', '.join(INTERACTIVE_MODES)}")
    if mode == "Always":
        raise ConfigError(f"{where}: the exec plugin {command} asks for interactiveMode Always, but tenantc runs "
                          "plugins without a terminal (no standard input): log in with the plugin first so it has "
                          "a cached credential, or set interactiveMode: IfAvailable or Never")
    env = []
    for i, item in enumerate(config.get("env") or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"{where}: exec env[{i}] has no name")
        env.append((str(item["name"]), "" if item.get("value") is None else str(item["value"])))
    if os.sep in command and not os.path.isabs(command):
        command = os.path.join(user.folder, command)  # relative to the kubeconfig, as in client-go
    args = tuple(str(a) for a in config.get("args") or [])
    info = _cluster_info(cluster, where) if config.get("provideClusterInfo") else None
    return ExecPlugin(command, args, tuple(env), api_version, str(config.get("installHint") or ""), info)


def _exec_api_version(config: dict, where: str) -> str:
    api_version = str(config.get("apiVersion") or "")
    if not api_version:
        raise ConfigError(f"{where}: exec has no apiVersion (use {EXEC_VERSIONS[0]})")
    if api_version not in EXEC_VERSIONS:
        raise ConfigError(f"{where}: exec apiVersion {api_version} is not supported; use one of "
                          f"{', '.join(EXEC_VERSIONS)} (v1alpha1 was removed in Kubernetes 1.24)")
    return api_version


def _cluster_info(cluster: ClusterSettings, where: str) -> dict:
    """spec.cluster of the ExecCredential (client.authentication.k8s.io Cluster)."""
    info: dict = {"server": cluster.server}
    if cluster.tls_server_name:
        info["tls-server-name"] = cluster.tls_server_name
    if cluster.insecure:
        info["insecure-skip-tls-verify"] = True
    try:
        ca = cluster.ca_pem()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read certificate-authority: {exc.strerror or exc}") from None
    if ca:
        info["certificate-authority-data"] = base64.b64encode(ca).decode()
    if cluster.proxy_url:
        info["proxy-url"] = cluster.proxy_url
    if cluster.exec_config is not None:
        info["config"] = cluster.exec_config
    return info
