"""Helpers of the credential tests: kubeconfig documents and a small exec credential plugin.

The plugin is a Python script written into the test's folder. It does what the Kubernetes
documentation asks of a client-go credential plugin ("client-go credential plugins",
client.authentication.k8s.io v1/v1beta1): read KUBERNETES_EXEC_INFO, print one
ExecCredential on stdout, exit 0. It logs every run (argv, the exec info, its PLUGIN_*
environment, whether stdin was a terminal or readable) as one JSON line to $PLUGIN_LOG, so a
test sees how often and how it ran. What it returns is chosen by its environment:

    PLUGIN_TOKEN          the token
    PLUGIN_TOKENS         comma-separated tokens, one per run (the last repeats)
    PLUGIN_CERT_FILE/PLUGIN_KEY_FILE    a client certificate (clientCertificateData, clientKeyData)
    PLUGIN_EXPIRES_IN     seconds until status.expirationTimestamp (none when unset)
    PLUGIN_ANSWER_VERSION    the apiVersion to answer with (default: the one in KUBERNETES_EXEC_INFO)
    PLUGIN_EXIT           exit with this code after writing PLUGIN_STDERR to stderr
    PLUGIN_OUTPUT         print this instead of an ExecCredential
"""
from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import yaml

PLUGIN = '''\
import datetime, json, os, sys
env = os.environ
info = json.loads(env.get("KUBERNETES_EXEC_INFO") or "null")
try:
    stdin_data = sys.stdin.read()
except (OSError, ValueError):
    stdin_data = None
log = env.get("PLUGIN_LOG")
runs = 0
if log:
    if os.path.exists(log):
        with open(log) as fh:
            runs = sum(1 for _ in fh)
    with open(log, "a") as fh:
        fh.write(json.dumps({"argv": sys.argv[1:], "info": info, "stdin_tty": sys.stdin.isatty(),
                             "stdin": stdin_data,
                             "env": {k: v for k, v in env.items() if k.startswith("PLUGIN_")}}) + "\\n")
if env.get("PLUGIN_EXIT"):
    sys.stderr.write(env.get("PLUGIN_STDERR", "") + "\\n")
    sys.exit(int(env["PLUGIN_EXIT"]))
if env.get("PLUGIN_OUTPUT") is not None:
    print(env["PLUGIN_OUTPUT"])
    sys.exit(0)
status = {}
if env.get("PLUGIN_TOKENS"):
    tokens = env["PLUGIN_TOKENS"].split(",")
    status["token"] = tokens[min(runs, len(tokens) - 1)]
elif env.get("PLUGIN_TOKEN"):
    status["token"] = env["PLUGIN_TOKEN"]
if env.get("PLUGIN_CERT_FILE"):
    status["clientCertificateData"] = open(env["PLUGIN_CERT_FILE"]).read()
    status["clientKeyData"] = open(env["PLUGIN_KEY_FILE"]).read()
if env.get("PLUGIN_EXPIRES_IN"):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(env["PLUGIN_EXPIRES_IN"]))
    status["expirationTimestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
version = env.get("PLUGIN_ANSWER_VERSION") or (info or {}).get("apiVersion")
print(json.dumps({"apiVersion": version, "kind": "ExecCredential", "status": status}))
'''

V1 = "client.authentication.k8s.io/v1"
V1BETA1 = "client.authentication.k8s.io/v1beta1"


def write_plugin(folder: Path, name: str = "plugin.py") -> Path:
    """The test plugin, executable, run by this test's Python."""
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + PLUGIN)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def exec_user(command: str, log: Path, api_version: str = V1, interactive: str | None = "Never",
              args: list[str] | None = None, **env: str) -> dict:
    """A kubeconfig user whose credential comes from the plugin; `env` becomes PLUGIN_* variables."""
    config: dict = {"apiVersion": api_version, "command": command, "args": args or [],
                    "env": [{"name": "PLUGIN_LOG", "value": str(log)},
                            *({"name": f"PLUGIN_{k.upper()}", "value": str(v)} for k, v in env.items())]}
    if interactive is not None:
        config["interactiveMode"] = interactive
    return {"exec": config}


def plugin_runs(log: Path) -> list[dict]:
    """Every run of the plugin so far, oldest first."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig_doc(server: str, user: dict, *, context: str = "ctx", cluster: dict | None = None,
                   ca_pem: bytes | None = None) -> dict:
    """One cluster, one user, one context `context` (current)."""
    entry = {"server": server, **(cluster or {})}
    if ca_pem is not None:
        entry["certificate-authority-data"] = b64(ca_pem)
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": f"{context}-cluster", "cluster": entry}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"}}]}


def write_doc(path: Path, doc: dict) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return path


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT), as a corporate egress proxy does,
    standard library only. It records every tunnel it opened, so a test can count them, and
    `route` maps the requested host:port to where it really connects (a name that does not
    resolve on this machine reaches the local API server only through the proxy)."""

    def __init__(self, route=None, credentials: str | None = None):
        import socketserver
        import threading

        self.tunnels: list[tuple[str, int]] = []
        self.refused = 0
        self._lock = threading.Lock()
        route = route or (lambda host, port: (host, port))
        proxy = self
        expected = "Basic " + b64(credentials.encode()) if credentials else None

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                import socket

                request = self.rfile.readline().decode("latin-1").split()
                headers = {}
                while True:
                    line = self.rfile.readline().decode("latin-1").strip()
                    if not line:
                        break
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if len(request) < 2 or request[0] != "CONNECT":
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                if expected and headers.get("proxy-authorization") != expected:
                    with proxy._lock:
                        proxy.refused += 1
                    self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                    return
                host, _, port = request[1].rpartition(":")
                with proxy._lock:
                    proxy.tunnels.append((host, int(port)))
                upstream = socket.create_connection(route(host, int(port)), timeout=30)
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
                _pump(self.connection, upstream)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pump(client, upstream) -> None:
    """Copy bytes both ways until either side closes."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(client, selectors.EVENT_READ, upstream)
    selector.register(upstream, selectors.EVENT_READ, client)
    try:
        while True:
            for key, _ in selector.select(timeout=60):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        selector.close()
        upstream.close()
