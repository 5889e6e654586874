"""Local control plane benchmark: how long `up` and `down` take with cached binaries.

Goal on a 2-core machine: a fresh `up` (new state dir, certificates, every upstream CRD
installed and Established) under 15 s. Each run measures, through the library API that
`tenantc cluster` uses:

  fresh    new state dir -> etcd, API server and controller manager ready, CRDs Established
  again    `up` on the running cluster (must return at once)
  down     SIGTERM ... all processes gone
  resume   `up` on the stopped state dir (certificates, etcd data and CRDs kept)

plus the per-step timings of the fresh start (seconds since processes began starting) and
the CPU time the three processes used for it, which stays comparable when other work
shares the machine (wall time then mostly measures waiting for a core).

    .venv/bin/python bench/cluster_up_bench.py [--runs N] [--crd-dir DIR]... [--no-crds]

The upstream CRDs are read from ../shared/crds beside the checkout when present.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compiler.cluster import ControlPlane, find_binaries  # noqa: E402

GOAL_FRESH = 15.0
SHARED_CRDS = REPO.parent / "shared" / "crds"


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(root: Path, binaries: Path, crd_dirs: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    plane = ControlPlane(root / "cluster", crd_dirs=crd_dirs, binaries=binaries, bind_to_parent=True)
    try:
        times = {"fresh": timed(plane.up)}
        steps = {**plane.timings, **{f"{name} CPU": round(cpu_seconds(c["pid"]), 2)
                                     for name, c in plane.status()["components"].items()}}
        times["again"] = timed(plane.up)
        times["down"] = timed(plane.down)
        times["resume"] = timed(plane.up)
        return times, steps
    finally:
        plane.down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--crd-dir", action="append", default=[])
    parser.add_argument("--no-crds", action="store_true", help="start without any CRDs")
    args = parser.parse_args()
    crd_dirs = [] if args.no_crds else args.crd_dir or ([str(SHARED_CRDS)] if SHARED_CRDS.is_dir() else [])
    binaries = find_binaries(build=False)  # a benchmark of `up`, not of the Go build
    print(f"binaries: {binaries}\nCRD folders: {crd_dirs or 'none'}\n")
    results: list[dict[str, float]] = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="tenantc-cluster-bench-") as tmp:
            times, steps = one_run(Path(tmp), binaries, crd_dirs)
        results.append(times)
        print(f"run {run}: " + "  ".join(f"{k} {v:5.2f}s" for k, v in times.items()))
        print("        fresh: " + ", ".join(f"{k} {v:.2f}s" for k, v in steps.items()))
    print()
    for key in results[0]:
        values = [r[key] for r in results]
        print(f"{key:<7} median {statistics.median(values):5.2f}s  min {min(values):5.2f}s  max {max(values):5.2f}s")
    worst = max(r["fresh"] for r in results)
    verdict = "meets" if worst < GOAL_FRESH else "MISSES"
    print(f"\nfresh up: worst {worst:.2f}s, {verdict} the {GOAL_FRESH:.0f}s goal")
    return 0 if worst < GOAL_FRESH else 1


if __name__ == "__main__":
    sys.exit(main())
