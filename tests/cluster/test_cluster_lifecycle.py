"""Lifecycle of the local control plane: CRDs served, idempotent up, status, restarts, down, failures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from compiler.cluster import APISERVER, ComponentError, ControlPlane

pytestmark = pytest.mark.cluster
SHARED_CRDS = Path(__file__).resolve().parents[2].parent / "shared" / "crds"


def _tenantc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", "cluster", *args],
                          capture_output=True, text=True, timeout=300)


def _crd_names_in_files() -> set[str]:
    """Read the CRD names independently of compiler.cluster, as the expectation."""
    names = set()
    for path in SHARED_CRDS.rglob("*.yaml"):
        for doc in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                names.add(doc["metadata"]["name"])
    return names


def _alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie only waits for its parent's wait())."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (e.g. a state dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and text in cmdline and _alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not SHARED_CRDS.is_dir(), reason="../shared/crds is not beside the checkout")
def test_every_shared_crd_is_established(control_plane, kubectl):
    expected = _crd_names_in_files()
    served = json.loads(kubectl("get", "crd", "-o", "json").stdout)["items"]
    established = {c["metadata"]["name"] for c in served
                   if any(cond["type"] == "Established" and cond["status"] == "True"
                          for cond in c["status"].get("conditions", []))}
    assert len(expected) >= 20  # Volcano + Fluid + Argo CD
    assert expected - established == set()


def test_up_again_returns_at_once_with_the_same_processes(control_plane):
    before = control_plane.status()
    started = time.monotonic()
    control_plane.up()
    assert time.monotonic() - started < 1.0
    after = control_plane.status()
    assert after["state"] == "running"
    assert {n: c["pid"] for n, c in after["components"].items()} == \
        {n: c["pid"] for n, c in before["components"].items()}


def test_cli_status_reports_what_runs_where(control_plane, kubectl):
    result = _tenantc("status", "--state-dir", str(control_plane.state_dir), "-o", "json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["state"] == "running"
    assert status["server"] == control_plane.server
    assert status["kubeconfig"] == control_plane.kubeconfig_path
    assert status["components"][APISERVER]["ports"]["apiserver"] == int(control_plane.server.rsplit(":", 1)[1])
    for component in status["components"].values():
        assert Path(f"/proc/{component['pid']}").exists()
    # The kubeconfig it names reaches that server under the cluster's name.
    config = json.loads(kubectl("config", "view", "--raw", "-o", "json").stdout)
    assert config["current-context"] == control_plane.name
    assert config["clusters"][0]["cluster"]["server"] == control_plane.server
    kubectl("get", "--raw", "/readyz")


def test_two_clusters_run_side_by_side(control_plane, second_control_plane, kubectl):
    assert control_plane.server != second_control_plane.server
    assert control_plane.name != second_control_plane.name
    ports = [set(p.status()["ports"].values()) for p in (control_plane, second_control_plane)]
    assert ports[0].isdisjoint(ports[1])
    namespace = f"only-in-primary-{os.getpid()}"
    kubectl("create", "namespace", namespace)
    try:
        assert kubectl("get", "namespace", namespace).returncode == 0
        other = kubectl("get", "namespace", namespace, kubeconfig=second_control_plane.kubeconfig_path,
                        check=False)
        assert other.returncode != 0 and "NotFound" in other.stderr
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")


def test_api_server_restarts_on_the_same_port(control_plane, kubectl):
    server = control_plane.server
    control_plane.stop_component(APISERVER)
    try:
        down = kubectl("get", "--raw", "/readyz", "--request-timeout=5s", check=False)
        assert down.returncode != 0
        assert control_plane.status()["components"][APISERVER]["running"] is False
    finally:
        control_plane.start_component(APISERVER)
    assert control_plane.server == server
    assert kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_cli_up_survives_the_cli_and_down_leaves_no_process(tmp_path, control_plane_binaries):
    state_dir = tmp_path / "cli-cluster"
    env_binaries = {**os.environ, "TENANTC_CONTROLPLANE_BIN": str(control_plane_binaries)}
    up = subprocess.run([sys.executable, "-m", "compiler.cli", "cluster", "up", "--state-dir", str(state_dir)],
                        capture_output=True, text=True, timeout=300, env=env_binaries)
    try:
        assert up.returncode == 0, up.stderr
        assert "export KUBECONFIG=" in up.stdout
        # The CLI has exited; its processes must still run and be the recorded ones.
        recorded = json.loads((state_dir / "state.json").read_text())["processes"]
        pids = sorted(p["pid"] for p in recorded.values())
        assert len(pids) == 3
        assert sorted(_processes_mentioning(str(state_dir))) == pids
        assert _tenantc("status", "--state-dir", str(state_dir)).returncode == 0
    finally:
        down = _tenantc("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    assert _processes_mentioning(str(state_dir)) == []
    status = _tenantc("status", "--state-dir", str(state_dir), "-o", "json")
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "stopped"


def test_a_component_that_fails_to_start_is_named_with_its_log(tmp_path, control_plane_binaries):
    plane = ControlPlane(tmp_path / "broken", binaries=control_plane_binaries,
                         extra_args={APISERVER: ["--no-such-flag"]})
    with pytest.raises(ComponentError) as failure:
        plane.up()
    assert failure.value.component == APISERVER
    message = str(failure.value)
    assert message.startswith(f"{APISERVER} exited while starting")
    assert "unknown flag: --no-such-flag" in message  # kube-apiserver's own words, from its log
    assert len(message.splitlines()) <= 22
    assert _processes_mentioning(str(tmp_path / "broken")) == []  # etcd was stopped again
    assert plane.status()["state"] == "stopped"
