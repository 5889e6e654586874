"""Review benchmark: `tenantc review` on a 1,000-tenant git repository with a one-tenant change.

Builds the synthetic repository of bench/compile_bench.py in a temporary folder, commits it
as the base, edits one tenant's quota in the working tree, then times `review()` in fresh
processes (as the CLI runs), each with its per-stage timings:

  cold   no snapshot cache: both revisions compiled (what a CI job without a kept cache pays)
  warm   the base's snapshot cached by tree key, the head compiled (CI with the cache kept,
         or a second review after another edit)
  again  both cached (the same review again, e.g. in another format)

Goal on a 2-core machine: under 2 s. Wall time depends on what else runs; the CPU seconds
printed beside it (this process, and the child that compiles the base in parallel) do not.

    .venv/bin/python bench/review_bench.py [--tenants N] [--keep] [--profile]

The upstream CRDs are read from ../shared/crds beside the checkout when present, as in CI.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo, parse_bench_args, tenant_spec  # noqa: E402  (the same synthetic tenants)

from compiler.load import yaml_io  # noqa: E402

GOAL = 2.0

# Runs in a fresh interpreter: imports, schema set-up and both compiles are all counted.
CHILD = """
import json, os, sys, time, cProfile, pstats, io
start = time.perf_counter()
from pathlib import Path
from compiler.review import review
root, crds = Path(sys.argv[1]), [Path(p) for p in json.loads(sys.argv[2])]
cache, profile = sys.argv[3] == "1", sys.argv[4] == "1"
profiler = cProfile.Profile() if profile else None
if profiler: profiler.enable()
r = review(root, "main", crd_dirs=crds, use_cache=cache)
if profiler:
    profiler.disable()
    out = io.StringIO(); pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    sys.stderr.write(out.getvalue())
t = os.times()
print(json.dumps({"seconds": time.perf_counter() - start, "timings": r.timings, "cached": r.cached,
                  "cpu": t.user + t.system, "cpu_children": t.children_user + t.children_system,
                  "changes": len(r.changes), "risks": len(r.risks)}))
"""


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def timed_review(root: Path, crd_dirs: list[Path], cache: bool, profile: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps([str(d) for d in crd_dirs]),
                           "1" if cache else "0", "1" if profile else "0"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"review failed:\n{proc.stderr}")
    if profile:
        print(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(label: str, run: dict) -> bool:
    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in run["timings"].items())
    verdict = "ok" if run["seconds"] < GOAL else f"OVER the {GOAL:g} s goal"
    print(f"{label}: {run['seconds']:.3f} s ({verdict}); CPU {run['cpu']:.2f} s here + {run['cpu_children']:.2f} s "
          f"in the forked compile; {run['changes']} object changes, {run['risks']} risks, cached: {run['cached']}")
    print(f"  stages: {stages}")
    return run["seconds"] < GOAL


def main() -> int:
    args, crd_dirs = parse_bench_args(__doc__, "cProfile the cold run; print the top functions")

    root = Path(tempfile.mkdtemp(prefix="tenantc-review-bench-"))
    try:
        names = make_repo(root, args.tenants)
        (root / ".gitignore").write_text(".tenantc-cache/\n")
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        changed = len(names) // 2
        (root / "tenants" / f"{names[changed]}.yaml").write_text(yaml_io.dump(tenant_spec(changed, names, cpu=48)))

        cold = timed_review(root, crd_dirs, cache=False, profile=args.profile)
        ok = show(f"cold review ({args.tenants} tenants, {names[changed]} changed, no cache)", cold)
        timed_review(root, crd_dirs, cache=True, profile=False)  # fills the cache with the base
        (root / "tenants" / f"{names[changed]}.yaml").write_text(yaml_io.dump(tenant_spec(changed, names, cpu=56)))
        warm = timed_review(root, crd_dirs, cache=True, profile=False)
        ok = show("warm review (base cached by tree key, head compiled)", warm) and ok
        again = timed_review(root, crd_dirs, cache=True, profile=False)
        show("repeated review (both cached)", again)
        if args.keep:
            print(f"repository kept at {root}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
