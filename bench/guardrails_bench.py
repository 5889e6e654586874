"""Admission overhead of the guardrails: pods admitted per second on a local API server with
and without the ValidatingAdmissionPolicies (a script, not a test).

The pod is the worker of the example's vision/resnet50-ddp Volcano job as tenantc renders it
(agent sidecar, wait-for-data init container, GPU request pinned to the A100 pool, toleration,
dataset and project claims, priority class): every pod rule has something to read. Rounds:

  none      no policies on the cluster at all (first, before anything is installed)
  outside   policies installed, pods in a namespace they do not select (the match test only)
  guarded   policies installed, pods in the tenant's namespace (every validation runs)

`outside` and `guarded` alternate, so drift on a shared machine hits both alike. Each round
creates --pods pods with --workers threads (real creates, stored in etcd, never scheduled) and
deletes them afterwards. Policies are never deleted and re-created during the run (see
docs/guardrails.md, "Operating").

    .venv/bin/python bench/guardrails_bench.py [--pods 300] [--workers 8] [--rounds 3] [--kubeconfig K]

Without --kubeconfig a throwaway local control plane (compiler.cluster) is started, with the
upstream CRDs from ../shared/crds when they are there, and stopped again.
"""
from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CRDS = REPO.parent / "shared" / "crds"
TENANT, OUTSIDE = "vision", "bench-outside"


def compile_example(workdir: Path):
    from compiler.pipeline import compile_repo

    shutil.copytree(REPO / "tenants", workdir / "tenants")
    return compile_repo(workdir, [CRDS] if CRDS.is_dir() else [], serialize=False)


def worker_pod(result) -> dict:
    job = result.objects["gpu-east/vision/job.batch.volcano.sh-resnet50-ddp.yaml"]
    task = next(t for t in job["spec"]["tasks"] if t["name"] == "worker")
    spec = copy.deepcopy(task["template"]["spec"])
    spec["priorityClassName"] = job["spec"]["priorityClassName"]
    spec["schedulerName"] = "volcano"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": dict(task["template"]["metadata"]["labels"])},
            "spec": spec}


def apply(api, objects: list[dict]) -> None:
    from kubernetes import dynamic

    client = dynamic.DynamicClient(api)
    for obj in objects:
        resource = client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        client.server_side_apply(resource, body=obj, name=obj["metadata"]["name"],
                                 namespace=obj["metadata"].get("namespace"), field_manager="tenantc",
                                 force_conflicts=True)


def install(api, result) -> None:
    """The tenant's namespace, accounts and parameters, then the cluster's policies."""
    objects = {p: o for p, o in result.objects.items() if p.startswith("gpu-east/")}
    tenancy = [o for p, o in sorted(objects.items()) if p.startswith(f"gpu-east/{TENANT}/")
               and o["kind"] in ("Namespace", "ServiceAccount", "ConfigMap")]
    apply(api, sorted(tenancy, key=lambda o: o["kind"] != "Namespace"))
    apply(api, [o for p, o in sorted(objects.items()) if "/_platform/" in p and o["kind"].startswith("Validating")])


def prepare(api) -> None:
    apply(api, [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": n}, "value": 100}
                for n in ("batch-low", "training-normal", "production-high")])
    apply(api, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OUTSIDE}},
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "tenantc-agent", "namespace": OUTSIDE}},
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": OUTSIDE}}])


def wait_enforced(core, pod: dict) -> None:
    bad = copy.deepcopy(pod)
    bad["metadata"]["name"] = "bench-probe"
    bad["spec"]["containers"][0]["image"] = "docker.io/library/busybox:1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            core.create_namespaced_pod(TENANT, bad, dry_run="All")
        except Exception as exc:  # noqa: BLE001 - the denial is what we wait for
            if "denied request" in str(exc):
                return
        time.sleep(0.5)
    raise SystemExit("guardrails were not enforced within 60 s")


def admission_metrics(api) -> tuple[float, float]:
    """(seconds, count) of the ValidatingAdmissionPolicy admission plugin on admitted creates, from
    the API server's /metrics (apiserver_admission_controller_admission_duration_seconds)."""
    response = api.call_api("GET", api.configuration.host + "/metrics")
    response.read()
    total = count = 0.0
    for line in response.data.decode().splitlines():
        if line.startswith("apiserver_admission_controller_admission_duration_seconds_") \
                and 'name="ValidatingAdmissionPolicy"' in line and 'operation="CREATE"' in line \
                and 'rejected="false"' in line:
            if "_sum{" in line:
                total += float(line.rsplit(" ", 1)[1])
            elif "_count{" in line:
                count += float(line.rsplit(" ", 1)[1])
    return total, count


PLUGIN: dict[str, list[float]] = {}  # round kind -> [seconds, creates] in the admission plugin


def measured(api, kind: str, run) -> float:
    before = admission_metrics(api)
    rate = run()
    after = admission_metrics(api)
    totals = PLUGIN.setdefault(kind, [0.0, 0.0])
    totals[0] += after[0] - before[0]
    totals[1] += after[1] - before[1]
    return rate


def round_(core, namespace: str, pod: dict, count: int, workers: int, tag: str) -> float:
    def create(i: int) -> None:
        body = copy.deepcopy(pod)
        body["metadata"]["name"] = f"bench-{tag}-{i}"
        core.create_namespaced_pod(namespace, body)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - start
    core.delete_collection_namespaced_pod(namespace, label_selector="tenantc.io/job", grace_period_seconds=0)
    deadline = time.monotonic() + 120
    while core.list_namespaced_pod(namespace, label_selector="tenantc.io/job").items and time.monotonic() < deadline:
        time.sleep(0.5)
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kubeconfig")
    args = parser.parse_args()
    from kubernetes import client, config

    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp:
        result = compile_example(Path(tmp) / "repo")
        plane = None
        kubeconfig = args.kubeconfig
        if kubeconfig is None:
            from compiler.cluster import ControlPlane

            plane = ControlPlane(Path(tmp) / "cp", crd_dirs=[CRDS] if CRDS.is_dir() else [], name="bench").up()
            kubeconfig = plane.kubeconfig_path
        try:
            api = config.new_client_from_config(config_file=kubeconfig)
            api.configuration.connection_pool_maxsize = args.workers
            core = client.CoreV1Api(api)
            pod = worker_pod(result)
            prepare(api)
            apply(api, [o for p, o in sorted(result.objects.items()) if p.startswith(f"gpu-east/{TENANT}/")
                        and o["kind"] in ("Namespace", "ServiceAccount")])
            rates: dict[str, list[float]] = {"none": [], "outside": [], "guarded": []}
            round_(core, TENANT, pod, min(50, args.pods), args.workers, "warm")  # connections, caches
            for r in range(args.rounds):
                rates["none"].append(measured(api, "none", lambda r=r: round_(
                    core, TENANT, pod, args.pods, args.workers, f"n{r}")))
            install(api, result)
            wait_enforced(core, pod)
            round_(core, TENANT, pod, min(50, args.pods), args.workers, "warm2")  # first evaluations
            for r in range(args.rounds):
                rates["outside"].append(measured(api, "outside", lambda r=r: round_(
                    core, OUTSIDE, pod, args.pods, args.workers, f"o{r}")))
                rates["guarded"].append(measured(api, "guarded", lambda r=r: round_(
                    core, TENANT, pod, args.pods, args.workers, f"g{r}")))
            print(f"{args.pods} pods x {args.rounds} rounds, {args.workers} workers (pods admitted per second, median)")
            medians = {k: statistics.median(v) for k, v in rates.items()}
            for name, values in rates.items():
                print(f"  {name:8} {medians[name]:7.1f}/s   rounds: {', '.join(f'{v:.1f}' for v in values)}")
            overhead = 100 * (1 - medians["guarded"] / medians["none"])
            print(f"  guarded vs none: {overhead:+.1f}% pods per second lost")
            print("  in the API server, ValidatingAdmissionPolicy plugin per admitted create (mean): " + ", ".join(
                f"{kind} {1000 * t / n:.3f} ms" for kind, (t, n) in PLUGIN.items() if n))
        finally:
            if plane is not None:
                plane.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
