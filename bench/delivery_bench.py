"""Delivery benchmark: tenantc diff/apply vs kubectl on a local API server, ~5,000 objects.

Generates a repository of synthetic tenants (bench/compile_bench.py's generator; every
tenant is placed on cluster cpu-west), compiles it, and on a fresh local control plane
(compiler.cluster.ControlPlane in a temporary state folder) times, in one run:

    tenantc apply (first)            vs  kubectl apply --server-side (first, fresh cluster)
    tenantc apply (nothing to do)    vs  kubectl apply --server-side (again)
    tenantc diff (unchanged cluster) vs  kubectl diff --server-side
                                     vs  kubectl diff --server-side --concurrency 8

kubectl gets the same files, in apply-stage order (it does not order by kind itself), and
the same field manager. Its first apply runs on a second fresh control plane, so both
first applies create everything. Goals: diff >= 10x plain kubectl diff and >= 3x with
--concurrency 8; apply >= 3x.

    .venv/bin/python bench/delivery_bench.py [--tenants 310] [--keep]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo  # noqa: E402

from compiler.cluster import ControlPlane  # noqa: E402
from compiler.kinds import stage_of  # noqa: E402
from compiler.pipeline import compile_repo, write_rendered  # noqa: E402

CLUSTER = "cpu-west"  # every synthetic tenant is placed there
GOALS = {"diff vs kubectl diff": 10.0, "diff vs kubectl diff --concurrency 8": 3.0,
         "first apply vs kubectl apply": 3.0, "no-op apply vs kubectl apply": 3.0}


def timed(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:4])} ... exited {result.returncode}: {result.stderr[-2000:]}")
    return seconds


def start_plane(state: Path, crd_dirs: list[Path]) -> ControlPlane:
    started = time.perf_counter()
    plane = ControlPlane(state, crd_dirs=crd_dirs, name=CLUSTER, bind_to_parent=True).up()
    print(f"control plane up in {time.perf_counter() - started:.1f} s ({state.name})", flush=True)
    return plane


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=310,
                        help="synthetic tenants (310 put about 5,000 objects on the one cluster)")
    parser.add_argument("--crd-dir", type=Path, action="append", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()
    crd_dirs = args.crd_dir if args.crd_dir is not None else [REPO.parent / "shared" / "crds"]
    bin_dir = Path(sys.executable).parent
    tenantc, kubectl = str(bin_dir / "tenantc"), str(bin_dir / "kubectl")
    work = Path(tempfile.mkdtemp(prefix="tenantc-delivery-"))
    planes: list[ControlPlane] = []
    try:
        root = work / "repo"
        make_repo(root, args.tenants)
        result = compile_repo(root, crd_dirs)
        write_rendered(root, result)
        ours = {p: o for p, o in result.objects.items() if p.startswith(f"{CLUSTER}/")}
        files = [str(root / "rendered" / p) for p, _ in sorted(ours.items(), key=lambda i: (stage_of(i[1]), i[0]))]
        print(f"{args.tenants} tenants, {len(ours)} objects on {CLUSTER}", flush=True)
        crd_flags = [x for d in crd_dirs for x in ("--crd-dir", str(d))]
        tenantc_flags = ["--root", str(root), *crd_flags, "--cluster", CLUSTER]
        file_flags = [x for f in files for x in ("-f", f)]

        plane = start_plane(work / "plane-tenantc", crd_dirs)
        planes.append(plane)
        kube = ["--kubeconfig", plane.kubeconfig_path]
        times = {
            "tenantc apply (first)": timed([tenantc, "apply", *tenantc_flags, *kube]),
            "tenantc apply (no-op)": timed([tenantc, "apply", *tenantc_flags, *kube]),
            "tenantc diff": timed([tenantc, "diff", *tenantc_flags, *kube]),
            "kubectl diff --server-side": timed([kubectl, *kube, "diff", "--server-side",
                                                 "--field-manager=tenantc", *file_flags]),
            "kubectl diff --server-side --concurrency 8": timed([kubectl, *kube, "diff", "--server-side",
                                                                 "--field-manager=tenantc", "--concurrency", "8",
                                                                 *file_flags]),
        }
        plane.down()
        plane = start_plane(work / "plane-kubectl", crd_dirs)
        planes.append(plane)
        kube = ["--kubeconfig", plane.kubeconfig_path]
        apply_argv = [kubectl, *kube, "apply", "--server-side", "--field-manager=tenantc", *file_flags]
        times["kubectl apply --server-side (first)"] = timed(apply_argv)
        times["kubectl apply --server-side (no-op)"] = timed(apply_argv)
        times["tenantc diff (after kubectl apply)"] = timed([tenantc, "diff", *tenantc_flags, *kube])
        plane.down()

        for label, seconds in times.items():
            print(f"  {label:<45} {seconds:8.2f} s")
        ratios = {
            "diff vs kubectl diff": times["kubectl diff --server-side"] / times["tenantc diff"],
            "diff vs kubectl diff --concurrency 8":
                times["kubectl diff --server-side --concurrency 8"] / times["tenantc diff"],
            "first apply vs kubectl apply":
                times["kubectl apply --server-side (first)"] / times["tenantc apply (first)"],
            "no-op apply vs kubectl apply":
                times["kubectl apply --server-side (no-op)"] / times["tenantc apply (no-op)"],
        }
        met = True
        for label, ratio in ratios.items():
            verdict = "ok" if ratio >= GOALS[label] else f"BELOW the {GOALS[label]:g}x goal"
            met &= ratio >= GOALS[label]
            print(f"  {label:<45} {ratio:8.1f}x ({verdict})")
        if args.keep:
            print(f"kept {work}")
        return 0 if met else 1
    finally:
        for plane in planes:
            plane.down()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
