"""The compile pipeline as one library call: load -> model -> plan -> render -> validate.

The CLI, tests, `review` and the benchmarks all call `compile_repo`; nothing here touches
rendered/ until `write_rendered`, and that only after every check has passed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import Problems
from compiler.gc_pause import collector_paused
from compiler.kinds import BUILTIN_GROUPS, group_of
from compiler.load.sources import read_sources
from compiler.model import Specs, build_specs
from compiler.plan import Plan, make_plan
from compiler.render import RenderCollision, render_all
from compiler.validate import ValidationReport, validate_objects
from compiler.validate.crds import CrdSet, load_crds
from compiler.write import serialize_all
from compiler.write.tree import Staleness, TreeWriter, WriteResult

RENDERED_DIR = "rendered"
CACHE_DIR = ".tenantc-cache"


@dataclass
class CompileResult:
    specs: Specs
    plan: Plan
    objects: dict[str, dict]  # 'cluster/tenant/file.yaml' -> object
    files: dict[str, bytes]  # same keys -> YAML bytes
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    validated: int = 0

    def counts(self) -> dict[tuple[str, str], int]:
        """(cluster, tenant or _platform) -> number of objects, for the summary table.
        Folders outside clusters (rendered/_argocd/) are keyed ('_argocd', '')."""
        out: dict[tuple[str, str], int] = {}
        for path in self.objects:
            parts = path.split("/")
            key = (parts[0], parts[1]) if len(parts) == 3 else (parts[0], "")
            out[key] = out.get(key, 0) + 1
        return out


def compile_repo(root: Path, crd_dirs: list[Path] | None = None, crds: CrdSet | None = None,
                 schema_engine: str | None = None, serialize: bool = True) -> CompileResult:
    """Compile the specs under `root`; raises CompileError with every problem found."""
    with collector_paused():
        return _compile(root, crd_dirs, crds, schema_engine, serialize)


def _compile(root: Path, crd_dirs: list[Path] | None, crds: CrdSet | None,
             schema_engine: str | None, serialize: bool) -> CompileResult:
    """`serialize=False` skips the YAML bytes (`files` stays empty) for callers that only
    compare objects, such as review."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    problems = Problems()
    sources = read_sources(root, problems, cache_dir=root / CACHE_DIR)
    lap("load")
    specs = build_specs(sources, problems)
    lap("model")
    problems.raise_if_any()
    assert specs is not None
    plan = make_plan(specs, problems)
    lap("plan")
    problems.raise_if_any()
    try:
        objects = render_all(plan)
    except RenderCollision as exc:
        problems.add("tenants/", "", str(exc), "rename one of the objects")
        problems.raise_if_any()
    lap("render")
    if crds is None and crd_dirs:
        custom = {o["kind"] for o in objects.values() if group_of(o["apiVersion"]) not in BUILTIN_GROUPS}
        crds = load_crds(list(crd_dirs), root / CACHE_DIR, kinds=custom)
    report: ValidationReport = validate_objects(objects, specs.platform, crds, problems, schema_engine)
    lap("validate")
    problems.raise_if_any()
    files = serialize_all(objects) if serialize else {}
    lap("serialize")
    return CompileResult(specs, plan, objects, files, report.warnings, timings, report.checked)


def writer_for(root: Path, out: Path | None = None) -> TreeWriter:
    return TreeWriter(out or root / RENDERED_DIR, root / CACHE_DIR)


def write_rendered(root: Path, result: CompileResult, out: Path | None = None) -> WriteResult:
    start = time.perf_counter()
    with collector_paused():  # the manifest of a big tree is tens of thousands of small lists
        written = writer_for(root, out).write(result.files)
    result.timings["write"] = time.perf_counter() - start
    return written


def check_rendered(root: Path, result: CompileResult, out: Path | None = None) -> Staleness:
    with collector_paused():
        return writer_for(root, out).compare(result.files)
