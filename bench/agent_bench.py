"""tenantc-agent sidecar benchmark: time to first heartbeat and peak memory.

The agent runs in every job pod, so what it costs there is what matters: how long after the
process starts its Lease exists (goal: under 300 ms) and its peak resident memory (goal:
under 40 MiB). Each run starts the real `tenantc-agent sidecar` against a real API server and
measures, from outside the process:

  lease    process start -> the Lease's acquireTime (set by the agent in its create request)
  logged   process start -> the agent's "first heartbeat" log line reaching the bench
  VmHWM    peak resident set (/proc/<pid>/status) after a few heartbeats and a status write
  stop     SIGTERM -> exit (final status written)

    .venv/bin/python bench/agent_bench.py [--runs N] [--kubeconfig ADMIN_KUBECONFIG] [--namespace NS]

Without --kubeconfig a throwaway local control plane (compiler.cluster) is started and
stopped again. The agent uses that admin kubeconfig (client certificate given as -data).
"""
from __future__ import annotations

import argparse
import calendar
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compiler.agent.kubeapi import ApiError, KubeClient, load_config, object_path  # noqa: E402

GOAL_START_MS, GOAL_RSS_MIB = 300, 40
HEARTBEATS = 4  # rounds before memory is sampled, so renewals and a status write are included


def agent_command() -> list[str]:
    script = Path(sys.executable).with_name("tenantc-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "compiler.agent.main"]


def proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def parse_micro_time(text: str) -> float:
    whole, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def one_run(kubeconfig: str, namespace: str, workdir: Path, interval: float, admin: KubeClient) -> dict:
    pod = f"bench-{uuid.uuid4().hex[:8]}"
    status = workdir / f"{pod}.json"
    status.write_text(json.dumps({"phase": "Running", "progress": 0.5, "metrics": {"loss": 0.1}}))
    env = {**os.environ, "POD_NAME": pod, "POD_NAMESPACE": namespace, "TENANTC_JOB": "agent-bench",
           "TENANTC_TASK": "worker"}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    wall0, mono0 = time.time(), time.monotonic()
    proc = subprocess.Popen([*agent_command(), "sidecar", "--kubeconfig", kubeconfig, "--interval", str(interval),
                             "--status-file", str(status)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        logged = None
        for line in proc.stderr:
            if "first heartbeat" in line:
                logged = time.monotonic() - mono0
                break
        if logged is None:
            raise SystemExit(f"the agent exited ({proc.wait()}) before its first heartbeat")
        lease_path = object_path("coordination.k8s.io", "v1", "leases", namespace, pod)
        lease = admin.get(lease_path)
        acquired = parse_micro_time(lease["spec"]["acquireTime"]) - wall0
        time.sleep(HEARTBEATS * interval)
        hwm, rss = proc_status_kib(proc.pid, "VmHWM"), proc_status_kib(proc.pid, "VmRSS")
        stop0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        stopped = time.monotonic() - stop0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    admin.request("DELETE", lease_path)
    return {"lease_ms": acquired * 1000, "logged_ms": logged * 1000, "hwm_mib": hwm / 1024,
            "rss_mib": rss / 1024, "stop_ms": stopped * 1000, "exit": code}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kubeconfig", help="admin kubeconfig of a running cluster (default: start one)")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()

    plane = None
    with tempfile.TemporaryDirectory(prefix="agent-bench-") as tmp:
        kubeconfig = args.kubeconfig
        if not kubeconfig:
            from compiler.cluster.controlplane import ControlPlane

            print("starting a local control plane ...", file=sys.stderr, flush=True)
            plane = ControlPlane(Path(tmp) / "cluster", bind_to_parent=True).up()
            kubeconfig = plane.kubeconfig_path
        try:
            admin = KubeClient(load_config(kubeconfig))
            runs = [one_run(kubeconfig, args.namespace, Path(tmp), args.interval, admin) for _ in range(args.runs)]
            status_map = object_path("", "v1", "configmaps", args.namespace, "tenantc-status-agent-bench")
            try:
                admin.request("DELETE", status_map)
            except ApiError:
                pass
        finally:
            if plane is not None:
                plane.down()
    report(runs)
    return 0


def report(runs: list[dict]) -> None:
    print(f"tenantc-agent sidecar, {len(runs)} runs (python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"{'run':>4} {'lease ms':>9} {'logged ms':>10} {'VmHWM MiB':>10} {'VmRSS MiB':>10} "
          f"{'stop ms':>8} {'exit':>5}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>4} {r['lease_ms']:>9.0f} {r['logged_ms']:>10.0f} {r['hwm_mib']:>10.1f} {r['rss_mib']:>10.1f} "
              f"{r['stop_ms']:>8.0f} {r['exit']:>5}")
    lease = statistics.median(r["lease_ms"] for r in runs)
    hwm = max(r["hwm_mib"] for r in runs)
    verdict = {True: "ok", False: "MISSED"}
    print(f"median start->lease {lease:.0f} ms (goal < {GOAL_START_MS} ms: {verdict[lease < GOAL_START_MS]}); "
          f"max VmHWM {hwm:.1f} MiB (goal < {GOAL_RSS_MIB} MiB: {verdict[hwm < GOAL_RSS_MIB]})")


if __name__ == "__main__":
    sys.exit(main())
