"""Kubeconfig files for the local control plane.

Certificates are embedded (`*-data`) rather than referenced by path, so a kubeconfig keeps
working when copied, and `kubectl`, the `kubernetes` client and tenantc all read it the same
way. Tests reuse `write_kubeconfig` with a token user to act as a ServiceAccount.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def cert_user(cert_file: Path, key_file: Path) -> dict:
    """A kubeconfig user authenticated by a client certificate."""
    return {"client-certificate-data": _b64(cert_file), "client-key-data": _b64(key_file)}


def token_user(token: str) -> dict:
    """A kubeconfig user authenticated by a bearer token (a ServiceAccount TokenRequest token)."""
    return {"token": token}


def build_kubeconfig(name: str, server: str, ca_file: Path, user: dict, user_name: str | None = None) -> dict:
    """One cluster, one user, one context named `name`, selected as current."""
    user_name = user_name or f"{name}-admin"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server,
                                                  "certificate-authority-data": _b64(ca_file)}}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user_name}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict) -> Path:
    """Write atomically with mode 0600 (it holds a private key or a token)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    os.replace(tmp, path)
    return path
