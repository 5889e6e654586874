"""Plain helpers of the agent tests (imported by name; fixtures live in conftest.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml


def agent_argv(*args: str) -> list[str]:
    """The installed `tenantc-agent` console script (what pods run), else `python -m`."""
    script = Path(sys.executable).with_name("tenantc-agent")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "compiler.agent.main", *args]


def write_kubeconfig(path: Path, server: str, *, ca_data: str | None = None, insecure: bool = False,
                     user: dict | None = None, extra_contexts: int = 0) -> Path:
    """A kubeconfig with one cluster and context (plus decoys); `user` None means no credential."""
    cluster = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user or {}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "tenant-a"}}],
        "current-context": "ctx",
    }
    for i in range(extra_contexts):
        doc["clusters"].append({"name": f"decoy{i}", "cluster": {"server": f"https://decoy{i}.invalid:1"}})
        doc["contexts"].append({"name": f"decoy{i}", "context": {"cluster": f"decoy{i}"}})
    path.write_text(yaml.safe_dump(doc))
    return path


def run_agent(*args: str, env: dict | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run one short-lived agent command to its end."""
    return subprocess.run(agent_argv(*args), env=env, capture_output=True, text=True, timeout=timeout)


def agent_env(**extra: str) -> dict:
    """The test's environment without in-cluster variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    env.pop("KUBECONFIG", None)
    env.update(extra)
    return env


class AgentProcess:
    """A long-running agent (the sidecar) whose stderr is collected line by line.

    Reading on a thread keeps the pipe drained, so the agent never blocks on its own logs,
    and lets a test wait for a given line with a deadline instead of sleeping blindly.
    """

    def __init__(self, *args: str, env: dict):
        self.proc = subprocess.Popen(agent_argv(*args), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30.0, start: int = 0) -> int:
        """Index of the first line from `start` on containing `text`; fails with the log."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for i in range(start, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line with {text!r} in the agent's output:\n{self.output}")
                self._changed.wait(min(left, 0.5))

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM, then (exit code, seconds it took to exit)."""
        start = time.monotonic()
        self.proc.terminate()
        code = self.proc.wait(timeout=timeout)
        elapsed = time.monotonic() - start
        self._reader.join(timeout=5)
        return code, elapsed

    def kill(self) -> None:
        """Cleanup for a test that failed early: never leave an agent behind."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def write_status(path: Path, doc: dict) -> None:
    """Write a status file the way the docs tell programs to: temporary file, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def eventually(probe, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):
    """Poll `probe()` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {value!r})")
        time.sleep(interval)
