"""Kubeconfig files as kubectl reads them: which files, how they merge, one context resolved.

The reference is client-go's clientcmd, as the Kubernetes documentation describes it
("Organizing Cluster Access Using kubeconfig Files", "kubeconfig (v1)"):

- `--kubeconfig PATH` names the files (tenantc also takes a `os.pathsep` list there), else
  `$KUBECONFIG` (a list), else `~/.kube/config`. In a list, empty entries and files that do
  not exist are skipped; a single named file that does not exist is an error.
- Merging: the first file to set a cluster, user or context name wins, later files never
  change it; `current-context` comes from the first file that sets one.
- Relative file names in an entry (certificate-authority, client-certificate, client-key,
  tokenFile, and an exec command that contains a path separator) are relative to the folder
  of the file that holds the entry.
- A context must name a cluster and a user that exist; a cluster needs a server.

`resolve(config, context)` turns one context into the settings a transport needs (server,
TLS, proxy) and the user's credential entry, with every error naming the context. What the
credentials do is compiler/kube/credentials.py.
"""
from __future__ import annotations

import base64
import ipaddress
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from compiler.kube.errors import ConfigError

DEFAULT_KUBECONFIG = "~/.kube/config"
SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


@dataclass(frozen=True)
class Entry:
    """A named cluster, user or context, and the folder its relative file names start from."""

    name: str
    body: dict
    folder: str

    def path(self, key: str) -> str | None:
        """The entry's file name under `key`, made absolute from the folder of its kubeconfig."""
        value = self.body.get(key)
        if not value:
            return None
        return os.path.join(self.folder, os.path.expanduser(str(value)))


@dataclass(frozen=True)
class MergedConfig:
    """The clusters, users and contexts of one or more kubeconfig files, merged as kubectl does."""

    files: tuple[str, ...]
    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)  # in the order the files list them
    current: str | None = None


def kubeconfig_files(path: str | None, env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(the os.pathsep list of files to read, whether it came from $KUBECONFIG or the default)."""
    env = os.environ if env is None else env
    if path:
        return path, False
    return env.get("KUBECONFIG") or DEFAULT_KUBECONFIG, True


def load(path: str | None, env: Mapping[str, str] | None = None) -> MergedConfig:
    """Read and merge the kubeconfig files (see the module docstring); ConfigError when unusable."""
    spec, _ = kubeconfig_files(path, env)
    names = [str(Path(p).expanduser()) for p in spec.split(os.pathsep) if p]
    if not names:
        raise ConfigError(f"cannot read kubeconfig {spec!r}: no file named")
    existing = [n for n in names if os.path.exists(n)]
    if len(names) == 1 and not existing:
        raise ConfigError(f"cannot read kubeconfig {spec}: no such file")
    if not existing:
        raise ConfigError(f"cannot read kubeconfig {spec}: none of its files exists")
    merged = MergedConfig(tuple(existing))
    current = None
    for name in existing:
        doc = _read(name)
        folder = os.path.dirname(os.path.abspath(name))
        for section, key in SECTIONS.items():
            entries = getattr(merged, section)
            for i, item in enumerate(doc.get(section) or []):
                if not isinstance(item, dict) or not item.get("name"):
                    raise ConfigError(f"kubeconfig {name}: {section}[{i}] has no name")
                body = item.get(key) or {}
                if not isinstance(body, dict):
                    raise ConfigError(f"kubeconfig {name}: {section}[{i}] ({item['name']}): "
                                      f"'{key}' must be a mapping")
                entries.setdefault(str(item["name"]), Entry(str(item["name"]), body, folder))
        current = current or doc.get("current-context") or None
    return MergedConfig(merged.files, merged.clusters, merged.users, merged.contexts, current)


def _read(name: str) -> dict:
    import yaml  # the CLI imports PyYAML anyway; kept lazy like the rest of this package

    try:
        with open(name, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {name}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {name} is not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {name} is not a mapping")
    return doc


# -- one context ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterSettings:
    """Where a context's API server is and how its certificate is checked."""

    server: str
    ca_file: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)  # PEM
    insecure: bool = False
    tls_server_name: str | None = None
    proxy: str | None = None  # http://[user:pass@]host:port, from proxy-url or the environment
    proxy_url: str | None = None  # the kubeconfig's own proxy-url (given to exec plugins)
    exec_config: object = None  # the cluster's extension client.authentication.k8s.io/exec

    def ca_pem(self) -> bytes | None:
        """The CA as PEM bytes (data, else the file's content), for exec plugins' cluster info."""
        if self.ca_data:
            return self.ca_data
        if self.ca_file:
            with open(self.ca_file, "rb") as fh:
                return fh.read()
        return None


@dataclass(frozen=True)
class ContextSettings:
    """Everything one context says: its cluster's settings and its user's entry."""

    context: str
    cluster_name: str
    cluster: ClusterSettings
    user: Entry


def resolve(config: MergedConfig, context: str, env: Mapping[str, str] | None = None) -> ContextSettings:
    """The settings of `context`; ConfigError naming the context when it cannot be used."""
    where = f"context '{context}'"
    entry = config.contexts.get(context)
    if entry is None:
        raise ConfigError(f"{where} is not in the kubeconfig ({', '.join(config.files)})")
    cluster_name, user_name = entry.body.get("cluster"), entry.body.get("user")
    if not cluster_name:
        raise ConfigError(f"{where}: no cluster specified")
    if cluster_name not in config.clusters:
        raise ConfigError(f"{where}: cluster '{cluster_name}' is not in the kubeconfig")
    if not user_name:
        raise ConfigError(f"{where}: no user specified, so no credentials; tenantc never sends "
                          "requests as system:anonymous")
    if user_name not in config.users:
        raise ConfigError(f"{where}: user '{user_name}' is not in the kubeconfig")
    cluster = _cluster_settings(config.clusters[cluster_name], f"{where} (cluster '{cluster_name}')", env)
    return ContextSettings(context, str(cluster_name), cluster, config.users[user_name])


def _cluster_settings(entry: Entry, where: str, env: Mapping[str, str] | None) -> ClusterSettings:
    body = entry.body
    server = str(body.get("server") or "")
    if not server:
        raise ConfigError(f"{where}: no server")
    url = urlsplit(server)
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ConfigError(f"{where}: server {server!r} must be an https:// (or http://) URL")
    ca_file = entry.path("certificate-authority")
    ca_data = decode_data(body.get("certificate-authority-data"), "certificate-authority-data", where)
    if ca_file and not ca_data:  # data wins over a file, as in client-go
        _check_readable(ca_file, "certificate-authority", where)
    else:
        ca_file = None
    insecure = _flag(body.get("insecure-skip-tls-verify"), "insecure-skip-tls-verify", where)
    if insecure and (ca_file or ca_data):
        raise ConfigError(f"{where}: insecure-skip-tls-verify and a certificate-authority cannot both be set "
                          "(kubectl refuses this too); drop one")
    proxy_url = str(body.get("proxy-url") or "") or None
    proxy = check_proxy(proxy_url, f"{where}: proxy-url") if proxy_url else environment_proxy(url, env)
    extension = None
    for item in body.get("extensions") or []:
        if isinstance(item, dict) and item.get("name") == "client.authentication.k8s.io/exec":
            extension = item.get("extension")
    return ClusterSettings(server.rstrip("/"), ca_file, ca_data, insecure, body.get("tls-server-name") or None,
                           proxy, proxy_url, extension)


def check_proxy(value: str, where: str) -> str:
    """An http:// proxy URL as given; https:// and socks5:// proxies are refused by name."""
    url = urlsplit(value)
    if url.scheme in ("https", "socks5"):
        raise ConfigError(f"{where} {_without_password(value)}: {url.scheme} proxies are not supported by tenantc "
                          "(only http:// proxies, which tunnel with CONNECT)")
    if url.scheme != "http" or not url.hostname:
        raise ConfigError(f"{where} {_without_password(value)}: must be an http://host:port URL")
    try:
        url.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{where} {_without_password(value)}: bad port") from None
    return value


def environment_proxy(server, env: Mapping[str, str] | None) -> str | None:
    """The proxy the environment names for `server` (HTTPS_PROXY/HTTP_PROXY minus NO_PROXY), as Go's
    ProxyFromEnvironment chooses it: never for localhost or a loopback address."""
    host = server.hostname or ""
    if host == "localhost" or _loopback(host):
        return None
    env = os.environ if env is None else env
    names = ("HTTPS_PROXY", "https_proxy") if server.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    value = next((env[n] for n in names if env.get(n)), None)
    if not value:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - not in typeshed
    if no_proxy and bypass(host, {"no": no_proxy}):
        return None
    if "://" not in value:
        value = "http://" + value  # Go reads a bare host:port as an http proxy
    return check_proxy(value, f"environment proxy ({names[0]})")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_password(value: str) -> str:
    url = urlsplit(value)
    if url.password is None:
        return value
    return value.replace(f":{url.password}@", ":***@", 1)


def decode_data(value, key: str, where: str) -> bytes | None:
    """A `*-data` field: base64 of the PEM, as kubectl writes it."""
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: {key} is not valid base64") from None


def _flag(value, key: str, where: str) -> bool:
    if value in (None, False, "false", ""):
        return False
    if value in (True, "true"):
        return True
    raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")


def _check_readable(path: str, key: str, where: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {key} {path}: {exc.strerror or exc}") from None
