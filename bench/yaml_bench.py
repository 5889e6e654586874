"""YAML benchmark (a script, not a test). Load: yaml_io.load (tenantc's builder over libyaml's
events) against PyYAML's CSafeLoader on the spec files of the 1,000-tenant benchmark repository.
Dump: yaml_io.dump against the dump of another revision (--baseline, main by default) on every
object that repository renders.

Three sets of files: the synthetic tenants of bench/compile_bench.py with and without the
workloads layer (block style, as `tenantc` writes them), and the example repository's
hand-written tenant files (flow collections, quotes, comments), each read 200 times. Both
loaders read each set in turn, alternating which goes first, --rounds times; the median of
each (CPU time) and their ratio are printed. The fast loader's cache of plain scalars is emptied before
each of its rounds, so every round costs what one compile costs.

The dump section renders both repositories once (without YAML), checks that both revisions
write the same bytes for every object, then times dumping them all the same way, the dump
caches of both emptied before each round.

    .venv/bin/python bench/yaml_bench.py [--tenants 1000] [--rounds 5] [--baseline main]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo  # noqa: E402  (the same synthetic tenants)

from compiler.load import yaml_io  # noqa: E402
from compiler.pipeline import compile_repo  # noqa: E402


def spec_files(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((root / "tenants").glob("*.yaml"))]


def fast_load_cold(texts: list[bytes]) -> None:
    yaml_io._PLAIN_VALUES.clear()
    for text in texts:
        yaml_io.load(text)


def pyyaml_load(texts: list[bytes]) -> None:
    for text in texts:
        yaml_io.load_pyyaml(text)


def seconds(work: Callable[[list[Any]], None], items: list[Any]) -> float:
    """CPU seconds of `work(items)`: single-threaded, so the wall time less what the other
    processes on a shared machine take from it."""
    start = time.process_time()
    work(items)
    return time.process_time() - start


def compare(label: str, texts: list[bytes], rounds: int) -> None:
    refused = 0
    for text in texts:
        assert yaml_io.load(text) == yaml_io.load_pyyaml(text)
        try:
            yaml_io._load_fast(text)
        except Exception:  # left to PyYAML: correct, but as slow as before
            refused += 1
    times: dict[str, list[float]] = {"pyyaml": [], "fast": []}
    for round_ in range(rounds):
        order: list[tuple[str, Any]] = [("pyyaml", pyyaml_load), ("fast", fast_load_cold)]
        for name, work in order if round_ % 2 == 0 else reversed(order):
            times[name].append(seconds(work, texts))
    pyyaml, fast = statistics.median(times["pyyaml"]), statistics.median(times["fast"])
    print(f"{label}: {len(texts)} files, {sum(map(len, texts)) / 1024:.0f} KiB, {refused} left to PyYAML; "
          f"CSafeLoader {pyyaml * 1000:.0f} ms, yaml_io.load {fast * 1000:.0f} ms, {pyyaml / fast:.2f}x "
          f"(medians of {rounds})")


def baseline_module(revision: str) -> ModuleType:
    """yaml_io as it is in `revision` of this repository, imported under another name."""
    source = subprocess.run(["git", "show", f"{revision}:compiler/load/yaml_io.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    module = ModuleType(f"yaml_io_{revision}")
    exec(compile(source, f"{revision}:compiler/load/yaml_io.py", "exec"), module.__dict__)  # noqa: S102
    return module


def rendered_objects(root: Path) -> list[dict]:
    return list(compile_repo(root, [], serialize=False).objects.values())


def dump_cold(module: ModuleType) -> Callable[[list[dict]], None]:
    """Dumps every object with `module`, its dump caches emptied first (as in a fresh compile)."""
    def work(objects: list[dict]) -> None:
        forget = getattr(module, "_forget_dump_caches", None) or module._SCALARS.clear  # older: one cache
        forget()
        for obj in objects:
            module.dump(obj)
    return work


def compare_dump(label: str, objects: list[dict], baseline: ModuleType, rounds: int) -> None:
    refused = 0
    for obj in objects:
        assert yaml_io.dump(obj) == baseline.dump(obj)
        try:
            yaml_io._fast_document(obj)
        except Exception:  # left to PyYAML: correct, but slow
            refused += 1
    times: dict[str, list[float]] = {"baseline": [], "dump": []}
    for round_ in range(rounds):
        order = [("baseline", dump_cold(baseline)), ("dump", dump_cold(yaml_io))]
        for name, work in order if round_ % 2 == 0 else reversed(order):
            times[name].append(seconds(work, objects))
    before, after = statistics.median(times["baseline"]), statistics.median(times["dump"])
    print(f"{label}: {len(objects)} objects, {refused} left to PyYAML; {baseline.__name__}.dump "
          f"{before * 1000:.0f} ms, yaml_io.dump {after * 1000:.0f} ms, {before / after:.2f}x (medians of {rounds})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default="main", help="the git revision whose dump is compared")
    parser.add_argument("--only", choices=("load", "dump"), help="run one section")
    args = parser.parse_args()
    baseline = baseline_module(args.baseline)
    print(f"PyYAML {yaml_io.yaml.__version__} ({yaml_io.ENGINE}); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="tenantc-yaml-bench-") as folder:
        for label, workloads in (("tenancy tenants", False), ("tenants with workloads", True)):
            root = Path(folder) / label.replace(" ", "-")
            make_repo(root, args.tenants, workloads)
            if args.only != "dump":
                compare(label, spec_files(root), args.rounds)
            if args.only != "load":
                compare_dump(f"dump of {label}", rendered_objects(root), baseline, args.rounds)
    if args.only != "dump":
        compare("example tenant files x200", spec_files(REPO) * 200, args.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
