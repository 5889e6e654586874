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
