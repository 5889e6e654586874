"""`tenantc status` through API server faults, on the real server: it says clearly (exit code 2 and
a message naming the server and the reason) when the server stays away, it waits for a server
that is coming back (until /readyz is ok, so a half-started server's partial discovery never
shows as n/a), and a crash in the middle of its reads is ridden out. Timings are printed
(`-s`) for the record.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from compiler.cluster import APISERVER
from compiler.kube.config import Target, connect, read_kubeconfig
from compiler.live.status import cluster_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))
from live_support import write_repo  # noqa: E402

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def repo(control_plane, tmp_path_factory):
    """A platform whose one cluster uses the session cluster's context (status needs nothing else)."""
    return write_repo(tmp_path_factory.mktemp("status-faults"), "faults", control_plane.name, ["faulty"], "faults-q")


def status(repo, plane, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "compiler.cli", "status", "--root", str(repo), "--kubeconfig",
                             plane.kubeconfig_path, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def api_server_back(control_plane):
    """Whatever a test does to the API server, it runs again afterwards."""
    yield
    if not control_plane.status()["components"][APISERVER]["running"]:
        control_plane.start_component(APISERVER)


def test_status_says_clearly_when_the_api_server_stays_away(control_plane, repo, api_server_back):
    control_plane.stop_component(APISERVER)
    started = time.monotonic()
    out, err = status(repo, control_plane, "--retry-for", "3", "-o", "json").communicate(timeout=120)
    took = time.monotonic() - started
    report = json.loads(out)
    [cluster] = report["clusters"]
    [error] = cluster["errors"]
    assert cluster["server"] == control_plane.server and cluster["context"] == control_plane.name
    assert f"the API server at {control_plane.server} was not ready within 3s" in error
    assert "Connection refused" in error and "is it running?" in error
    assert "Traceback" not in err
    text = status(repo, control_plane, "--retry-for", "1")
    text_out, _ = text.communicate(timeout=120)
    assert text.returncode == 2
    assert f"cluster faults (context {control_plane.name}, {control_plane.server})" in text_out
    assert "error: the API server at" in text_out
    print(f"\nstatus with the API server down: exit 2 after {took:.1f}s (--retry-for 3)")


def test_status_started_while_the_server_is_down_finishes_once_it_is_ready(control_plane, repo, api_server_back):
    control_plane.stop_component(APISERVER)
    running = status(repo, control_plane, "--retry-for", "180", "-o", "json")
    time.sleep(1.0)
    restart = time.monotonic()
    control_plane.start_component(APISERVER)  # returns once /readyz is ok
    ready = time.monotonic()
    out, err = running.communicate(timeout=240)
    done = time.monotonic()
    assert running.returncode == 0, out + err
    [cluster] = json.loads(out)["clusters"]
    assert cluster["errors"] == []
    assert cluster["unavailable"] == []  # every CRD group was served: discovery waited for readiness
    print(f"\nstatus across a restart: server ready {ready - restart:.1f}s after start, "
          f"status done {done - ready:.1f}s after ready")


def test_a_crash_in_the_middle_of_status_is_ridden_out(control_plane, api_server_back):
    """The API server is killed (SIGKILL) right before status's first LIST, after discovery, and
    restarted; the report comes out complete."""
    crashed = threading.Event()
    restarted: dict[str, float] = {}
    restarter: list[threading.Thread] = []

    def restart() -> None:
        restarted["start"] = time.monotonic()
        control_plane.start_component(APISERVER)
        restarted["ready"] = time.monotonic()

    def crash_before_the_first_list(method: str, path: str) -> None:
        if crashed.is_set() or method != "GET" or not path.endswith(("/namespaces", "/leases", "/resourcequotas")):
            return
        crashed.set()
        pid = control_plane.status()["components"][APISERVER]["pid"]
        os.kill(pid, signal.SIGKILL)
        while control_plane.status()["components"][APISERVER]["running"]:
            time.sleep(0.05)
        restarter.append(threading.Thread(target=restart, daemon=True))
        restarter[0].start()

    client = connect(Target("faults", control_plane.name), read_kubeconfig(control_plane.kubeconfig_path),
                     retry_for=180)
    client.observer = crash_before_the_first_list
    started = time.monotonic()
    try:
        report = cluster_status(client, Target("faults", control_plane.name))
    finally:
        client.close()
    done = time.monotonic()
    assert crashed.is_set()
    assert report["errors"] == [] and report["unavailable"] == []
    # The client may get its answer while `start_component` still waits for its own readiness
    # checks: the restart's timing is read once that has returned too.
    restarter[0].join(timeout=180)
    assert "ready" in restarted, "the API server did not come back within 180 s"
    print(f"\nstatus across a crash: {done - started:.1f}s in all; server restarted and ready after "
          f"{restarted['ready'] - restarted['start']:.1f}s; status done {done - restarted['ready']:.1f}s after ready")
