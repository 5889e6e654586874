"""YAML load benchmark: yaml_io.load (tenantc's builder over libyaml's events) against PyYAML's
CSafeLoader on the spec files of the 1,000-tenant benchmark repository (a script, not a test).

Three sets of files: the synthetic tenants of bench/compile_bench.py with and without the
workloads layer (block style, as `tenantc` writes them), and the example repository's
hand-written tenant files (flow collections, quotes, comments), each read 200 times. Both
loaders read each set in turn, alternating which goes first, --rounds times; the median of
each and their ratio are printed. The fast loader's cache of plain scalars is emptied before
each of its rounds, so every round costs what one compile costs.

    .venv/bin/python bench/yaml_bench.py [--tenants 1000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from compile_bench import make_repo  # noqa: E402  (the same synthetic tenants)

from compiler.load import yaml_io  # noqa: E402


def spec_files(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((root / "tenants").glob("*.yaml"))]


def fast_load_cold(texts: list[bytes]) -> None:
    yaml_io._PLAIN_VALUES.clear()
    for text in texts:
        yaml_io.load(text)


def pyyaml_load(texts: list[bytes]) -> None:
    for text in texts:
        yaml_io.load_pyyaml(text)


def seconds(work: Callable[[list[bytes]], None], texts: list[bytes]) -> float:
    start = time.perf_counter()
    work(texts)
    return time.perf_counter() - start


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"PyYAML {yaml_io.yaml.__version__} ({yaml_io.ENGINE}); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="tenantc-yaml-bench-") as folder:
        for label, workloads in (("tenancy tenants", False), ("tenants with workloads", True)):
            root = Path(folder) / label.replace(" ", "-")
            make_repo(root, args.tenants, workloads)
            compare(label, spec_files(root), args.rounds)
    compare("example tenant files x200", spec_files(REPO) * 200, args.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
