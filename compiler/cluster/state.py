"""The state directory: where each file lives, `state.json`, and the lock around changes.

Everything a cluster owns sits under one folder, so several clusters never share a file
and `down`/`status` can run from another process (the CLI exits after `up`) by reading
`state.json`. A file lock serialises concurrent `up`/`down` on the same folder.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_VERSION = 1


@dataclass(frozen=True)
class Layout:
    """Paths inside a state directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    @property
    def audit_policy(self) -> Path:
        return self.config / "audit-policy.yaml"

    @property
    def token_auth_file(self) -> Path:
        return self.config / "tokens.csv"

    @property
    def controller_manager_kubeconfig(self) -> Path:
        return self.config / "controller-manager.kubeconfig"

    @property
    def scheduler_kubeconfig(self) -> Path:
        return self.config / "scheduler.kubeconfig"

    @property
    def kwok_kubeconfig(self) -> Path:
        return self.config / "kwok.kubeconfig"

    @property
    def kwok_config(self) -> Path:
        return self.config / "kwok.yaml"


def load_state(layout: Layout) -> dict:
    """The recorded state, or {} when the folder never ran a cluster."""
    try:
        data = json.loads(layout.state_file.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        return {}  # a torn write cannot happen (atomic replace); treat garbage as "nothing recorded"
    return data if data.get("version") == STATE_VERSION else {}


def save_state(layout: Layout, state: dict) -> None:
    """Replace state.json atomically so a reader never sees half a file."""
    state = {"version": STATE_VERSION, **state}
    tmp = layout.state_file.with_name(".state.json.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, layout.state_file)


def ensure_token_file(layout: Layout) -> Path:
    """The API server's static token file (--token-auth-file), made empty and 0600 when missing."""
    path = layout.token_auth_file
    if not path.exists():
        layout.config.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return path


@contextlib.contextmanager
def locked(layout: Layout):
    """Hold an exclusive lock on the state dir while changing what runs in it."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
