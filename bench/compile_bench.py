"""Compile benchmark: 1,000 synthetic tenants on 2 clusters (about 25k objects).

Times a cold compile+write (fresh repository, fresh cache folder) and a one-tenant change
(one tenant file's quota edited, compile+write again), with the per-stage timings of each.
Goal on a 2-core machine: cold under 5 s, one-tenant change under 0.5 s.

    .venv/bin/python bench/compile_bench.py [--tenants N] [--keep] [--profile]

The upstream CRDs are read from ../shared/crds beside the checkout when present (the Queue
objects are validated against them, as in CI); pass --crd-dir to use others.

The repository goes to the system temp folder; TMPDIR=/dev/shm puts it on tmpfs, which
separates the compiler's own time from the disk's (creating 27k small files is seconds on a
busy virtual disk). The load average is printed too: on a shared 2-core machine it explains
most of the variation between runs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compiler.load import yaml_io  # noqa: E402
from compiler.pipeline import compile_repo, write_rendered  # noqa: E402

CLUSTERS = ("gpu-east", "cpu-west")
GOAL_COLD, GOAL_CHANGE = 5.0, 0.5


WORKLOAD_PLATFORM = {
    "agentImage": "registry.example.com/platform/tenantc-agent:0.1.0",
    "allowedRegistries": ["registry.example.com/"],
    "storage": {"classes": ["ssd-rwo", "nas-rwx"], "homeClass": "ssd-rwo", "projectClass": "nas-rwx"},
    "templates": [{"name": "cpu-batch", "maxRetry": 2, "roles": [
        {"name": "worker", "replicas": 2, "pool": "cpu", "image": "registry.example.com/ml/batch:1.0",
         "resources": {"cpu": "2", "memory": "4Gi"}}]}],
    "notebooks": {"images": {"jupyter": "registry.example.com/platform/jupyter:1.0"},
                  "sizes": {"small": {"cpu": "2", "memory": "8Gi"}}},
    "serving": {"templates": [{"name": "generic-http", "image": "registry.example.com/ml/server:1.0", "port": 8080,
                               "readiness": {"path": "/ready"}, "liveness": {"path": "/healthz"},
                               "resources": {"cpu": "1", "memory": "2Gi"}}]},
}


def workload_spec(i: int) -> dict:
    """What a tenant runs and reads: a project volume, a cached OSS dataset with preload, a job
    waiting for it, its owner's notebook (with a home volume), (every fourth tenant) a nightly
    schedule, (every second) a served model and (every fifth) two projects."""
    spec: dict = {
        "storage": {"project": {"size": "100Gi"}, "home": {"size": "10Gi"}},
        "notebookDefaults": {"image": "jupyter", "cluster": "cpu-west"},
        "notebooks": [{"user": f"owner{i}@example.com"}],
        "datasets": [{"name": "data", "clusters": ["cpu-west"],
                      "mounts": [{"uri": f"oss://bench-data/t{i}/",
                                  "secrets": {"fs.oss.accessKeyId": {"name": "oss", "key": "id"}}}],
                      "runtime": {"type": "jindo", "tiers": [{"medium": "SSD", "path": "/mnt/ssd", "quota": "100Gi"}]},
                      "preload": {"paths": ["/"]}}],
        "jobs": [{"name": "train", "template": "cpu-batch", "cluster": "cpu-west", "datasets": ["data"],
                  "waitForData": {"minCachedPercent": 90}, "volumes": ["project"]}],
    }
    if i % 4 == 0:
        spec["schedules"] = [{"name": "nightly", "schedule": "0 2 * * *",
                              "job": {"template": "cpu-batch", "cluster": "cpu-west"}}]
    if i % 5 == 0:  # projects: namespaces, leaf queues and a split of the quota of their own
        spec["ownShare"] = {"weight": 4}
        spec["projects"] = [{"name": p, "share": {"weight": 1}, "members": [{"user": f"{p}{i}@example.com",
                                                                              "role": "edit"}]}
                            for p in ("alpha", "beta")]
    if i % 2 == 0:  # a served model: Deployment, Service, HPA, PDB (and an Ingress for every fourth)
        spec["servings"] = [{"name": "model", "template": "generic-http", "cluster": "cpu-west",
                             "replicas": {"min": 1, "max": 3}, "ingress": i % 4 == 0}]
    return spec


def platform_spec(tenants: int, workloads: bool = False) -> dict:
    """Two clusters with room for every synthetic tenant (each asks at most the amounts below)."""
    def cluster(name: str, version: str, gpu_model: str) -> dict:
        return {
            "name": name, "kubernetesVersion": version, "context": name,
            "capacity": {"cpu": str(64 * tenants), "memory": f"{256 * tenants}Gi",
                         "nvidia.com/gpu": str(8 * tenants), "pods": str(500 * tenants),
                         "persistentvolumeclaims": str(40 * tenants), "storage": f"{4 * tenants}Ti"},
            "nodePools": [{"name": "cpu-general", "role": "cpu", "labels": {"pool": "cpu-general"},
                           "cacheCapacity": {"SSD": f"{tenants}Ti"}},
                          {"name": f"gpu-{gpu_model.lower()}", "role": "gpu", "gpuModel": gpu_model}],
        }
    return {**(WORKLOAD_PLATFORM if workloads else {}),
        "name": "bench", "owners": ["platform@example.com"],
        "allowedRegistries": ["registry.example.com/"],  # none would admit every registry (refused, issue 14)
        "clusters": [cluster("gpu-east", "1.37", "A100"), cluster("cpu-west", "1.36", "A10")],
        "defaults": {"limitRange": {"default": {"cpu": "2", "memory": "8Gi"},
                                    "defaultRequest": {"cpu": "500m", "memory": "2Gi"},
                                    "max": {"cpu": "96", "memory": "768Gi"}}},
        "queues": [{"name": "research", "weight": 2}, {"name": "production", "weight": 3}],
    }


def tenant_spec(i: int, names: list[str], cpu: int = 32, workloads: bool = False) -> dict:
    """A tenant of the tenancy features, varied: two thirds on both clusters (one third of
    those with A100s), some with view members, egress rules or other tenants allowed in."""
    name = names[i]
    both = i % 3 != 2
    members = [{"user": f"owner{i}@example.com", "role": "admin"}, {"group": f"{name}-eng", "role": "edit"}]
    if i % 4 == 0:
        members.append({"group": f"{name}-auditors", "role": "view"})
    network: dict = {}
    if i % 2 == 0:
        network["egress"] = [{"cidr": f"10.{i % 200}.0.0/16", "ports": [{"port": 443}]}]
    if i % 3 == 0:
        network["allowFromTenants"] = [names[(i + 1) % len(names)]]
    return {
        "name": name, "displayName": f"Tenant {i}", "owner": f"owner{i}@example.com",
        "members": members,
        "quota": {"cpu": str(cpu), "memory": "128Gi", "pods": 300, "pvcs": 30, "storage": "2048Gi",
                  "gpu": {"A100": 4} if both and i % 3 == 0 else {}},
        "placement": {"gpu-east": {"weight": 1}, "cpu-west": {"weight": 1 + i % 3}} if both
        else {"cpu-west": {"weight": 1}},
        "queue": {"weight": 1 + i % 4, "parent": "research" if i % 2 else "production",
                  "guarantee": {"cpu": str(cpu // 4)}},
        "network": network,
        **(workload_spec(i) if workloads else {}),
    }


def make_repo(root: Path, tenants: int, workloads: bool = False) -> list[str]:
    names = [f"team-{i:04d}" for i in range(tenants)]
    folder = root / "tenants"
    folder.mkdir(parents=True)
    (folder / "platform.yaml").write_text(yaml_io.dump(platform_spec(tenants, workloads)))
    for i in range(tenants):
        (folder / f"{names[i]}.yaml").write_text(yaml_io.dump(tenant_spec(i, names, workloads=workloads)))
    return names


def run(root: Path, crd_dirs: list[Path]) -> tuple[float, dict, object]:
    start = time.perf_counter()
    result = compile_repo(root, crd_dirs)
    written = write_rendered(root, result)
    return time.perf_counter() - start, result, written


def show(label: str, seconds: float, result, written, goal: float) -> None:
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items())
    verdict = "ok" if seconds < goal else f"OVER the {goal:g} s goal"
    print(f"{label}: {seconds:.3f} s ({verdict}); {len(result.objects)} objects, {result.validated} validated; "
          f"{len(written.written_units)} folder(s) written, {written.files_written} files")
    print(f"  stages: {stages}")


def parse_bench_args(doc: str, profile_help: str) -> tuple[argparse.Namespace, list[Path]]:
    """Flags the repository benchmarks share, and the CRD folders to validate against."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--crd-dir", type=Path, action="append", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated repository and print its path")
    parser.add_argument("--profile", action="store_true", help=profile_help)
    parser.add_argument("--workloads", action="store_true",
                        help="give every tenant storage, a cached dataset and jobs (the workloads layer)")
    args = parser.parse_args()
    shared = REPO.parent / "shared" / "crds"
    return args, (args.crd_dir if args.crd_dir is not None else [shared] if shared.is_dir() else [])


def main() -> int:
    args, crd_dirs = parse_bench_args(__doc__, "cProfile both runs; print the top functions")
    if not crd_dirs:
        print("note: no CRDs found beside the checkout; Queue objects are not validated", file=sys.stderr)

    root = Path(tempfile.mkdtemp(prefix="tenantc-bench-"))
    print(f"repository in {Path(tempfile.gettempdir())}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    try:
        names = make_repo(root, args.tenants, args.workloads)
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cold, result, written = run(root, crd_dirs)
        show(f"cold compile+write ({args.tenants} tenants)", cold, result, written, GOAL_COLD)

        changed = names[len(names) // 2]
        (root / "tenants" / f"{changed}.yaml").write_text(
            yaml_io.dump(tenant_spec(len(names) // 2, names, cpu=48, workloads=args.workloads)))
        warm, result, written = run(root, crd_dirs)
        show(f"one-tenant change ({changed})", warm, result, written, GOAL_CHANGE)
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        if args.keep:
            print(f"repository kept at {root}")
        return 0 if cold < GOAL_COLD and warm < GOAL_CHANGE else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
