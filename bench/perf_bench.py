"""`make bench`: the performance goals of issue 17 measured side by side, one table at the end.

Every command runs as a user runs it, a fresh `tenantc` process from compiled byte code (wall
time, and its CPU time, which a busy shared machine inflates less than wall time), on the
synthetic tenants of bench/compile_bench.py:

  import      `python -X importtime -c 'import compiler.pipeline'`, the compile path (median of 5)
  compile     cold `tenantc compile` of N tenants, then one-tenant edits (median of --runs), each
              cold and with a `tenantc server` running (its own socket folder), interleaved
  review      `tenantc review --base main` of a one-tenant change in a fresh `git clone`
              (no cache at all), beside the full compile of both revisions it replaced and a
              cold `tenantc compile` of the same clone (the ratio the goal is stated in)
  check       `tenantc check` and `tenantc check --base main` in a fresh clone of a pull request
              (one tenant edited, rendered/ recompiled and committed)
  curve       cold compile in memory (no writes) at 100 / 1,000 tenants (and 10,000 with
              --big): CPU seconds and peak memory (the child's max RSS)
  apply       bench/apply_bench.py, when present, as a subprocess (--json): first apply of ~5,000
              objects as a rate beside a raw server-side-apply client and kubectl, the no-op
              apply's writes, diff beside `kubectl diff --server-side`; rows in the one table
  kapitan     bench/kapitan_bench.py as a subprocess: cold `tenantc compile` beside a pinned Kapitan
              (its own environment in the user cache, installed on first use) compiling the same
              tenants as Kapitan targets, 100 and 1,000 tenants, interleaved; ms per object and
              the ratio (a third of --runs each)

    python bench/perf_bench.py [--tenants N] [--runs R] [--big] [--skip apply] [--skip kapitan]

The repositories go to the system temp folder; TMPDIR=/dev/shm takes the disk out of the numbers.
"""
from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo, tenant_spec  # noqa: E402  (the same synthetic tenants)
from review_bench import git  # noqa: E402

from compiler.load import yaml_io  # noqa: E402

CLI = "import sys; from compiler.cli import console_main; sys.argv[0] = 'tenantc'; sys.exit(console_main())"
# As a user's installed tenantc runs: from byte code compiled once (main() compiles it first). An
# inherited PYTHONDONTWRITEBYTECODE would make every process compile each module from source.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
       "PYTHONPATH": str(REPO), "NO_COLOR": "1", "TENANTC_SERVER": "off"}  # cold unless said
GOALS = {"import": 0.15, "edit": 0.3, "review": 1.5, "check": 1.5, "cold_cpu_1000": 2.0, "rss_10000": 400.0}

# The review as it was before revisions shared units: both compiled in full, serially (with the
# snapshot cache written, as the CLI does by default).
FULL_REVIEW = """
import sys
from pathlib import Path
from compiler.review import review
review(Path(sys.argv[1]), "main", crd_dirs=[Path(p) for p in sys.argv[2:]], shared=False,
       parallel=False)
"""
# A cold compile in memory: every unit rendered, validated and serialized, nothing written.
IN_MEMORY = """
import sys
from pathlib import Path
from compiler.pipeline import compile_repo
compile_repo(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]], use_cache=False)
"""


def timed(args: list[str], cwd: Path, ok: tuple[int, ...] = (0,),
          env: dict | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s, max RSS MiB) of one child process (a served command's CPU is the server's
    child's, not counted here)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(args[:4])} exited {proc.returncode}:\n"
                         f"{err.decode()[-2000:]}\n{out.decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def tenantc(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


def crd_flags(crd_dirs: list[Path]) -> list[str]:
    return [flag for d in crd_dirs for flag in ("--crd-dir", str(d))]


def import_seconds() -> float:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import compiler.pipeline"], env=ENV,
                          capture_output=True, text=True, check=True)
    line = next(x for x in proc.stderr.splitlines() if re.search(r"\| compiler\.pipeline$", x))
    return int(line.split("|")[1]) / 1e6


def edit(root: Path, names: list[str], cpu: int) -> None:
    i = len(names) // 2
    (root / "tenants" / f"{names[i]}.yaml").write_text(yaml_io.dump(tenant_spec(i, names, cpu=cpu)))


def median_of(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, value: str, goal: str = "", verdict: str = "") -> None:
        self.rows.append((what, value, goal, verdict))
        print(f"  {what}: {value} {goal} {verdict}".rstrip(), flush=True)

    def show(self) -> None:
        widths = [max(len(r[i]) for r in [("measure", "median", "goal", "")] + self.rows) for i in range(4)]
        print()
        for row in [("measure", "median", "goal", ""), tuple("-" * w for w in widths)] + self.rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def verdict(value: float, goal: float) -> str:
    return "ok" if value < goal else "OVER"


def at_least(value: float, goal: float) -> str:
    return "ok" if value >= goal else "BELOW"


def bench_compile(table: Table, root: Path, names: list[str], crd_dirs: list[Path], runs: int) -> float:
    """Cold compile, then one-tenant edits: cold and through a `tenantc server`, interleaved."""
    wall, cpu, rss = timed(tenantc("compile", *crd_flags(crd_dirs)), root)
    table.add(f"compile cold, {len(names)} tenants (CLI)", f"{wall:.2f} s wall, {cpu:.2f} s CPU, {rss:.0f} MiB")
    edits, served = [], []
    with warm_server() as served_env:
        for i in range(runs):
            edit(root, names, 48 + 8 * (i % 2))
            edits.append(timed(tenantc("compile", *crd_flags(crd_dirs)), root))
            edit(root, names, 48 + 8 * ((i + 1) % 2))
            served.append(timed(tenantc("compile", *crd_flags(crd_dirs)), root, env=served_env)[0])
            time.sleep(1.0)  # a pause between edits, as at a keyboard: the server warms (compiler.warm) alone
    wall, cpu, _ = median_of(edits)
    table.add("compile one-tenant edit (CLI)", f"{wall:.2f} s wall, {cpu:.2f} s CPU", f"< {GOALS['edit']} s",
              verdict(wall, GOALS["edit"]))
    served_wall = statistics.median(served)
    table.add("  the same, with `tenantc server` running", f"{served_wall:.2f} s wall", f"< {GOALS['edit']} s",
              verdict(served_wall, GOALS["edit"]) + f", {wall / served_wall:.1f}x sooner than cold")
    return wall


@contextlib.contextmanager
def warm_server() -> Iterator[dict]:
    """A `tenantc server run` on a private socket folder; yields the environment that uses it."""
    from compiler.serve import protocol
    from compiler.serve.server import status

    folder = tempfile.mkdtemp(prefix="tc-")  # short: a socket's path holds about 100 bytes
    env = {**ENV, "TENANTC_SERVER": "", protocol.DIR_ENV: folder}
    server = subprocess.Popen(tenantc("server", "run", "--idle", "30m"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while status(protocol.socket_path(folder)) is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tenantc server did not start")
            time.sleep(0.05)
        yield env
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_clone(origin: Path, into: Path, branch: str = "main") -> Path:
    shutil.rmtree(into, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--no-local", "-b", branch, str(origin), str(into)], check=True,
                   capture_output=True)
    if branch != "main":
        subprocess.run(["git", "branch", "-q", "main", "origin/main"], cwd=into, check=True, capture_output=True)
    return into


def bench_review_check(table: Table, origin: Path, names: list[str], crd_dirs: list[Path], runs: int) -> None:
    """Each command in its own fresh clone: `main` holds the tenants with rendered/ fresh,
    branch `pr` one tenant's edit with rendered/ recompiled, as a pull request would."""
    scratch = origin.parent / "clones"
    flags = crd_flags(crd_dirs)
    measured: dict[str, list] = {k: [] for k in ("review", "full", "compile", "check", "since")}
    for _ in range(runs):
        clone = fresh_clone(origin, scratch / "review")
        edit(clone, names, 40)
        measured["review"].append(timed(tenantc("review", "--base", "main", *flags), clone))
        clone = fresh_clone(origin, scratch / "full")
        edit(clone, names, 40)
        measured["full"].append(timed([sys.executable, "-c", FULL_REVIEW, str(clone), *map(str, crd_dirs)], clone))
        clone = fresh_clone(origin, scratch / "compile")
        measured["compile"].append(timed(tenantc("compile", *flags), clone))
        clone = fresh_clone(origin, scratch / "check", "pr")
        measured["check"].append(timed(tenantc("check", *flags), clone))
        clone = fresh_clone(origin, scratch / "since", "pr")
        measured["since"].append(timed(tenantc("check", "--base", "main", *flags), clone))
    (r_wall, r_cpu, _), (f_wall, f_cpu, _) = median_of(measured["review"]), median_of(measured["full"])
    (c_wall, c_cpu, _), (k_wall, k_cpu, _) = median_of(measured["compile"]), median_of(measured["check"])
    s_wall, s_cpu, _ = median_of(measured["since"])
    table.add("review one-tenant change, fresh clone", f"{r_wall:.2f} s wall, {r_cpu:.2f} s CPU",
              f"< {GOALS['review']} s", verdict(r_wall, GOALS["review"]))
    table.add("  same review, each revision compiled in full", f"{f_wall:.2f} s wall, {f_cpu:.2f} s CPU",
              "", f"review now {f_cpu / r_cpu:.1f}x less CPU")
    table.add("  full compile of the clone (CLI)", f"{c_wall:.2f} s wall, {c_cpu:.2f} s CPU",
              "review < 0.1x", f"review = {r_wall / c_wall:.2f}x")
    table.add("check of the change, fresh clone", f"{k_wall:.2f} s wall, {k_cpu:.2f} s CPU", f"< {GOALS['check']} s",
              verdict(k_wall, GOALS["check"]))
    table.add("check --base main, fresh clone", f"{s_wall:.2f} s wall, {s_cpu:.2f} s CPU", f"< {GOALS['check']} s",
              verdict(s_wall, GOALS["check"]) + f", {k_cpu / s_cpu:.1f}x less CPU than check")


def bench_curve(table: Table, sizes: list[int], crd_dirs: list[Path], scratch: Path) -> None:
    for n in sizes:
        root = scratch / f"curve-{n}"
        make_repo(root, n)
        wall, cpu, rss = timed([sys.executable, "-c", IN_MEMORY, str(root), *map(str, crd_dirs)], root)
        goal = {1000: f"CPU < {GOALS['cold_cpu_1000']} s", 10000: f"< {GOALS['rss_10000']:.0f} MiB"}.get(n, "")
        ok = {1000: verdict(cpu, GOALS["cold_cpu_1000"]), 10000: verdict(rss, GOALS["rss_10000"])}.get(n, "")
        table.add(f"cold compile in memory, {n} tenants", f"{cpu:.2f} s CPU ({cpu / n * 1000:.2f} ms/tenant), "
                  f"{rss:.0f} MiB peak", goal, ok)
        shutil.rmtree(root, ignore_errors=True)


def bench_apply(table: Table) -> None:
    """bench/apply_bench.py as a subprocess (--json): first apply of ~5,000 objects beside a raw
    server-side-apply client (the limit) and kubectl, the no-op apply's writes and diff beside
    `kubectl diff --server-side`, on fresh local control planes; its progress goes to stderr."""
    script = REPO / "bench" / "apply_bench.py"
    if not script.is_file():
        table.add("apply", "bench/apply_bench.py not present", "", "skipped")
        return
    proc = subprocess.run([sys.executable, str(script), "--json"], env=ENV, cwd=REPO, stdout=subprocess.PIPE,
                          text=True, check=False)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        table.add("apply (bench/apply_bench.py)", f"exit {proc.returncode}", "", "no result; its output is above")
        return
    rates, ratios, goals = result["objectsPerSecond"], result["ratios"], result["goals"]
    first = "first apply: tenantc / raw SSA rate"
    table.add(f"first apply, {result['objects']} objects ({result['rounds']} rounds)",
              f"tenantc {rates['first apply: tenantc']:.0f} obj/s, raw SSA {rates['first apply: raw SSA']:.0f}, "
              f"kubectl {rates['first apply: kubectl apply --server-side']:.0f}",
              f">= {goals[first]:.0%} of raw", f"{ratios[first]:.0%} of raw " + at_least(ratios[first], goals[first]))
    for name, label in (("first apply: tenantc vs kubectl", "first apply beside kubectl"),
                        ("diff: tenantc vs kubectl diff --server-side", "diff beside kubectl diff --server-side")):
        table.add(label, f"{ratios[name]:.1f}x", f">= {goals[name]:g}x", at_least(ratios[name], goals[name]))
    writes = result["noOpApplyWrites"]
    table.add("no-op apply: write requests", " ".join(map(str, writes)), "0", "ok" if not any(writes) else "OVER")


def bench_kapitan(table: Table, crd_dirs: list[Path], runs: int) -> None:
    """bench/kapitan_bench.py as a subprocess (--json): cold compile beside a pinned Kapitan at
    100 and 1,000 tenants, per object; 'not run' with its reason when Kapitan is unavailable."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "kapitan_bench.py"), "--json", "--runs", str(runs),
                           *crd_flags(crd_dirs)], env=ENV, cwd=REPO, capture_output=True, text=True, check=False)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        result = {"error": f"bench/kapitan_bench.py exited {proc.returncode}: {' / '.join(lines[-2:])}"}
    if result.get("error"):
        table.add("Kapitan side by side", "not run:", "", result["error"])
        return
    for size in result["sizes"]:
        ours = size["tenantc"]
        for kapitan in size["kapitan"]:
            table.add(f"compile cold beside Kapitan ({kapitan['variant']}), {size['tenants']} tenants",
                      f"tenantc {ours['wall_ms_per_object']:.2f} ms/object, Kapitan "
                      f"{kapitan['wall_ms_per_object']:.2f} ms/object (wall)", "",
                      f"Kapitan {kapitan['ratio_wall']:.1f}x wall, {kapitan['ratio_cpu']:.1f}x CPU per object; "
                      f"{ours['objects']} vs {kapitan['objects']} objects, {size['comparison']['identical']} identical")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10, help="one-tenant edits timed (review/check: a third)")
    parser.add_argument("--big", action="store_true", help="also the 10,000-tenant point of the memory curve")
    parser.add_argument("--crd-dir", type=Path, action="append", default=None)
    parser.add_argument("--skip", action="append", default=[], choices=["apply", "kapitan"],
                        help="leave out the apply benchmark or Kapitan (the long parts; repeatable)")
    args = parser.parse_args()
    shared = REPO.parent / "shared" / "crds"
    crd_dirs = args.crd_dir if args.crd_dir is not None else [shared] if shared.is_dir() else []
    table = Table()
    scratch = Path(tempfile.mkdtemp(prefix="tenantc-perf-"))
    print(f"in {scratch.parent}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    compileall.compile_dir(REPO / "compiler", quiet=1)
    try:
        seconds = statistics.median(import_seconds() for _ in range(5))
        table.add("import compiler.pipeline", f"{seconds:.3f} s", f"< {GOALS['import']} s",
                  verdict(seconds, GOALS["import"]))
        origin = scratch / "origin"
        names = make_repo(origin, args.tenants)
        (origin / ".gitignore").write_text(".tenantc-cache/\n")
        bench_compile(table, origin, names, crd_dirs, args.runs)
        edit(origin, names, 32)  # back to the generated spec, then rendered/ to match, committed
        timed(tenantc("compile", *crd_flags(crd_dirs)), origin)
        timed(tenantc("schema"), origin)
        git(origin, "init", "-q", "-b", "main")
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "base")
        git(origin, "checkout", "-q", "-b", "pr")  # a pull request: one tenant edited, rendered/ recompiled
        edit(origin, names, 40)
        timed(tenantc("compile", *crd_flags(crd_dirs)), origin)
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "one tenant")
        git(origin, "checkout", "-q", "main")
        bench_review_check(table, origin, names, crd_dirs, max(1, args.runs // 3))
        shutil.rmtree(scratch / "clones", ignore_errors=True)
        bench_curve(table, [100, 1000] + ([10000] if args.big else []), crd_dirs, scratch)
        if "apply" not in args.skip:
            bench_apply(table)
        if "kapitan" not in args.skip:
            bench_kapitan(table, crd_dirs, max(1, args.runs // 3))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table.show()
    print(f"load average at the end {os.getloadavg()[0]:.1f}; medians of {args.runs} edits, "
          f"{max(1, args.runs // 3)} clones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
