"""The compile pipeline as one library call: load -> model -> plan -> render -> validate.

The CLI, tests, `review` and the benchmarks all call `compile_repo`; nothing here touches
rendered/ until `write_rendered`, and that only after every check has passed.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import Problems
from compiler.gc_pause import collector_paused
from compiler.kinds import BUILTIN_GROUPS, group_of
from compiler.load.sources import read_sources
from compiler.model import Specs, build_specs
from compiler.plan import Plan, make_plan
from compiler.render import (
    PLATFORM_DIR,
    RenderCollision,
    render_all,
    render_platform_cluster,
    render_tenant,
    tenant_contexts,
    tenants_read_by,
)
from compiler.render.argocd import render_argocd, summaries_of
from compiler.render.unit_cache import UnitCache, UnitMeta, unit_key
from compiler.render.units import Unit, UnitTree
from compiler.validate import ValidationReport, unchecked_warnings, validate_objects
from compiler.validate.crds import CrdSet, crd_digest, load_crds
from compiler.validate.engine import default_engine
from compiler.write import serialize_all
from compiler.write.tree import Staleness, TreeWriter, WriteResult, digest

RENDERED_DIR = "rendered"
CACHE_DIR = ".tenantc-cache"


@dataclass
class CompileResult:
    specs: Specs
    plan: Plan
    objects: Mapping[str, dict]  # 'cluster/tenant/file.yaml' -> object (lazy over units)
    files: Mapping[str, bytes]  # same keys -> YAML bytes
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    validated: int = 0
    units_rendered: int = 0  # units rendered in this compile (the rest came from the cache)

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
                 schema_engine: str | None = None, serialize: bool = True,
                 use_cache: bool = True) -> CompileResult:
    """Compile the specs under `root`; raises CompileError with every problem found.

    Units (one tenant on one cluster) whose inputs are unchanged come from the unit cache in
    `.tenantc-cache/` unread; `use_cache=False` renders everything. `serialize=False` skips
    the YAML bytes (`files` stays empty, nothing is cached) for callers that only compare
    objects, such as review of a revision checked out to a temporary folder."""
    with collector_paused():
        if not serialize:
            return _compile_uncached(root, crd_dirs, crds, schema_engine)
        return _compile(root, crd_dirs, crds, schema_engine, use_cache)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._last
        self._last = now


def _plan(root: Path, problems: Problems, clock: _Clock) -> tuple[Specs, Plan]:
    """Load -> model -> plan, raising with every problem of a stage before the next."""
    sources = read_sources(root, problems, cache_dir=root / CACHE_DIR)
    clock.lap("load")
    specs = build_specs(sources, problems)
    clock.lap("model")
    problems.raise_if_any()
    assert specs is not None
    plan = make_plan(specs, problems)
    clock.lap("plan")
    problems.raise_if_any()
    return specs, plan


def _compile_uncached(root: Path, crd_dirs: list[Path] | None, crds: CrdSet | None,
                      schema_engine: str | None) -> CompileResult:
    clock, problems = _Clock(), Problems()
    specs, plan = _plan(root, problems, clock)
    try:
        objects = render_all(plan)
    except RenderCollision as exc:
        problems.add("tenants/", "", str(exc), "rename one of the objects")
        problems.raise_if_any()
    clock.lap("render")
    if crds is None and crd_dirs:
        crds = load_crds(list(crd_dirs), root / CACHE_DIR, kinds=_custom_kinds(objects.values()))
    report: ValidationReport = validate_objects(objects, specs.platform, crds, problems, schema_engine)
    clock.lap("validate")
    problems.raise_if_any()
    return CompileResult(specs, plan, objects, {}, report.warnings, clock.timings, report.checked,
                         units_rendered=len({p.rpartition("/")[0] for p in objects}))


def _custom_kinds(objects) -> set[str]:
    return {o["kind"] for o in objects if group_of(o["apiVersion"]) not in BUILTIN_GROUPS}


def _spec_digest(source) -> str:
    """Digest of what a spec file evaluates to (a Jsonnet file's imports change its data
    without changing its bytes) and of its path (rendered objects name their source file)."""
    if source.path.endswith(".jsonnet"):
        return source.path + ":" + hashlib.sha256(json.dumps(source.data, sort_keys=True).encode()).hexdigest()
    return source.path + ":" + source.digest


def _unit_jobs(plan: Plan, schema_key: str) -> list[tuple[str, str, Callable[[], dict[str, dict]]]]:
    """(unit path, cache key, render function) for every cluster/_platform and cluster/tenant."""
    platform_digest = _spec_digest(plan.specs.platform_source)
    digests = {t.tenant.name: _spec_digest(t.source) for t in plan.specs.tenants}
    jobs = []
    for cluster in plan.specs.platform.clusters:
        jobs.append((f"{cluster.name}/{PLATFORM_DIR}", unit_key("platform", platform_digest, cluster.name, schema_key),
                     lambda cluster=cluster: render_platform_cluster(plan, cluster)))
    for ctx in tenant_contexts(plan):
        tenant = ctx.tenant.name
        deps = [f"{d}={digests.get(d, '')}" for d in tenants_read_by(plan, tenant)]
        key = unit_key("tenant", platform_digest, digests[tenant], ctx.cluster.name, schema_key, *deps)
        jobs.append((f"{ctx.cluster.name}/{tenant}", key, lambda ctx=ctx: render_tenant(ctx)))
    return jobs


def _compile(root: Path, crd_dirs: list[Path] | None, crds: CrdSet | None, schema_engine: str | None,
             use_cache: bool) -> CompileResult:
    clock, problems = _Clock(), Problems()
    specs, plan = _plan(root, problems, clock)
    crd_dirs = list(crd_dirs or [])
    schema_key = "|".join([crds.digest if crds is not None else crd_digest(crd_dirs), schema_engine or default_engine()])
    cache = UnitCache(root / CACHE_DIR / "units.sqlite" if use_cache else None)
    jobs = _unit_jobs(plan, schema_key)
    cached = cache.metas([key for _, key, _ in jobs])
    units: dict[str, Unit] = {}
    summaries: dict[str, dict] = {}
    unchecked: list[tuple[str, str]] = []
    fresh: dict[str, dict] = {}  # objects of the units rendered now, by path
    fresh_units: dict[str, str] = {}  # unit path -> key
    try:
        for unit_path, key, render in jobs:
            meta = cached.get(key)
            if meta is not None:
                units[unit_path] = Unit(unit_path, key, meta.names, loader=lambda key=key: cache.payload(key))
                summaries[unit_path] = meta.summary
                unchecked += [tuple(u) for u in meta.unchecked]
                continue
            fresh.update(render())
            fresh_units[unit_path] = key
    except RenderCollision as exc:
        problems.add("tenants/", "", str(exc), "rename one of the objects")
        problems.raise_if_any()
    fresh_summaries = summaries_of(fresh)
    fresh.update(render_argocd(plan, summaries={**summaries, **fresh_summaries}))
    clock.lap("render")
    custom = _custom_kinds(fresh.values())
    if crds is None and crd_dirs and custom:
        crds = load_crds(crd_dirs, root / CACHE_DIR, kinds=custom)
    report = validate_objects(fresh, specs.platform, crds, problems, schema_engine)
    clock.lap("validate")
    problems.raise_if_any()
    files = serialize_all(fresh)
    clock.lap("serialize")
    by_unit: dict[str, dict[str, str]] = {}
    for path in fresh:
        unit_path, _, name = path.rpartition("/")
        by_unit.setdefault(unit_path, {})[name] = path
    for unit_path, names in by_unit.items():
        unit_objects = {n: fresh[p] for n, p in names.items()}
        unit_files = {n: files[p] for n, p in names.items()}
        key = fresh_units.get(unit_path) or unit_key("derived", *(digest(b) for _, b in sorted(unit_files.items())))
        units[unit_path] = Unit(unit_path, key, sorted(names), _objects=unit_objects, _files=unit_files)
        if unit_path in fresh_units:
            meta = UnitMeta(sorted(names), fresh_summaries.get(unit_path, {}),
                            [list(report.unchecked[p]) for p in names.values() if p in report.unchecked])
            cache.put(key, meta, unit_objects, unit_files)
    cache.flush()
    clock.lap("cache")
    ordered = dict(sorted(units.items()))
    files_tree = UnitTree(ordered, "files")
    validated = len(files_tree) - len(unchecked) - len(report.unchecked)
    return CompileResult(specs, plan, UnitTree(ordered, "objects"), files_tree,
                         unchecked_warnings(unchecked + list(report.unchecked.values())), clock.timings,
                         validated, units_rendered=len(fresh_units))


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
