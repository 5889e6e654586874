"""The compile pipeline as one library call: load -> model -> plan -> render -> validate.

The CLI, tests, `review` and the benchmarks all call `compile_repo`; nothing here touches
rendered/ until `write_rendered`, and that only after every check has passed.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from compiler import warm
from compiler.errors import CompileError, Problem, Problems
from compiler.gc_pause import collector_paused
from compiler.identity import unit_folder
from compiler.kinds import ARGOCD_DIR, BUILTIN_GROUPS, CACHE_DIR, PLATFORM_DIR, group_of
from compiler.load.sources import Source, Sources, read_sources
from compiler.model import Specs, build_specs
from compiler.model.platform import Platform
from compiler.plan import Plan, make_plan
from compiler.render import RenderCollision, render_platform_cluster, render_tenant, tenant_contexts
from compiler.render.argocd import ArgoCdSettings, render_argocd, summaries_of
from compiler.render.unit_cache import UNIT_CACHE_FILE, Reader, UnitCache, UnitMeta, unit_key
from compiler.render.units import Loader, Unit, UnitTree
from compiler.validate import ValidationReport, Validator, unchecked_warnings
from compiler.validate.crds import (
    Crds,
    cluster_crd_digest,
    cluster_crd_dirs,
    crd_digest,
    load_cluster_crds,
    load_crds,
    missing_folder_warnings,
)
from compiler.validate.engine import default_engine
from compiler.write import serialize_checked
from compiler.write.tree import (
    FolderState,
    Staleness,
    TreeWriter,
    WriteResult,
    committed_cache_problems,
    digest,
    folder_problems,
    tree_link_problems,
)

RENDERED_DIR = "rendered"


@dataclass
class CompileResult:
    """A compiled repository: specs, plan, the rendered objects and their YAML, and warnings."""

    specs: Specs
    plan: Plan
    objects: UnitTree  # 'cluster/tenant/file.yaml' -> object (lazy over units)
    files: Mapping[str, bytes]  # same keys -> YAML bytes
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    validated: int = 0
    units_rendered: int = 0  # units rendered in this compile (the rest came from the cache)
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (apiVersion, kind) of each object not validated

    def counts(self) -> dict[tuple[str, str], int]:
        """(cluster, tenant or _platform) -> number of objects, for the summary table.
        Folders outside clusters (rendered/_argocd/) are keyed ('_argocd', '')."""
        out: dict[tuple[str, str], int] = {}
        for folder, size in self.objects.unit_sizes().items():  # without reading any unit
            cluster, _, unit = folder.partition("/")  # 'cluster/unit' (unit_folder) or '_argocd'
            key = (cluster, unit) if unit else (folder, "")
            out[key] = out.get(key, 0) + size
        return out


@dataclass
class SharedUnits:
    """Units one compile rendered and validated (or found in its unit cache), offered to the
    next compile in the same process: review's two revisions share every unit whose key is
    the same in both, so such a unit is rendered and validated once. A key determines the
    unit's objects (the unit cache's contract), so sharing changes no byte and no verdict."""

    units: dict[str, tuple[Unit, dict, list]] = field(default_factory=dict)  # key -> (unit, summary, unchecked)
    reused: int = 0  # units a compile took from here
    # key -> {folder: Argo CD summary} of a unit a compile left out (`only`) and rendered for it alone
    summaries: dict[str, dict] = field(default_factory=dict)


_UnitJob = tuple[str, str, Callable[[], dict[str, dict]]]  # (unit folder, cache key, render function)


@dataclass(frozen=True)
class Planned:
    """A repository planned but not rendered: its specs, plan and every unit's key (for the
    CRDs and schema engine `schema_key` names), with the functions that render the units."""

    specs: Specs
    plan: Plan
    keys: dict[str, str]  # unit folder ('cluster/tenant', 'cluster/_platform') -> key
    schema_key: str = ""
    jobs: list[_UnitJob] = field(default_factory=list, compare=False, repr=False)


def model_repo(root: Path, sources: Sources | None = None) -> Specs:
    """Load and model only (raising CompileError like compile_repo): the specs, not yet planned."""
    with collector_paused():
        return _model(root, Problems(), _Clock(), sources)


def plan_repo(root: Path, crd_dirs: list[Path] | None = None, crds: Crds | None = None,
              schema_engine: str | None = None, sources: Sources | None = None,
              specs: Specs | None = None, previous: Plan | None = None) -> Planned:
    """Load, model and plan (raising CompileError like compile_repo), and key every unit as
    compile_repo does, without rendering any. `specs` (from model_repo) skips load and model;
    `previous` (another revision's plan) lends its decisions for the models both share."""
    with collector_paused():
        if specs is None:
            specs, plan = _plan(root, Problems(), _Clock(), sources, previous)
        else:
            plan = _plan_specs(specs, Problems(), _Clock(), previous)
        own_dirs = platform_crd_dirs(root, specs.platform) if crds is None and not crd_dirs else {}
        schema_key = _schema_key(crds, list(crd_dirs or []), own_dirs, schema_engine)
        jobs = _unit_jobs(plan, schema_key)
        return Planned(specs, plan, {folder: key for folder, key, _ in jobs}, schema_key, jobs)


def compile_repo(root: Path, crd_dirs: list[Path] | None = None, crds: Crds | None = None,
                 schema_engine: str | None = None, serialize: bool = True,
                 use_cache: bool = True, shared: SharedUnits | None = None,
                 sources: Sources | None = None, planned: Planned | None = None,
                 only: Callable[[str], bool] | None = None, argocd: bool = True) -> CompileResult:
    """Compile the specs under `root`; raises CompileError with every problem found.

    Units (one tenant on one cluster) whose inputs are unchanged come from the unit cache in
    `.tenantc-cache/` unread; `use_cache=False` renders everything. `serialize=False` skips
    the YAML bytes (`files` stays empty, the cache is neither read nor written) for callers
    that only compare objects, such as review of a revision checked out to a temporary folder.
    Both flags only choose what is skipped: there is one path through the stages.

    Units stream through it: each is rendered, validated, serialized and stored (the unit
    cache, or a temporary spill file) before the next, and `objects` and `files` read them
    back a unit at a time, so memory does not grow with the objects rendered. Only with
    `serialize=False` do units stay in memory, for callers that hold every object anyway.

    Custom kinds are validated against `crds`, else the CRDs under `crd_dirs` for every
    cluster, else each cluster's own CRD folder named by the platform file.

    `shared` passes units between compiles in one process (see SharedUnits); a compile that
    takes units from it must not serialize, since a shared unit may hold no YAML.
    `sources` are the spec files already read (review builds the base's from the head's and
    the files that differ); without them the files under `root` are read. `planned` (from
    plan_repo) skips load, model and plan. With `only`, the units whose folder it refuses are
    left out: not rendered, validated or in the result (Argo CD's unit, when the platform has
    one, is made from every unit all the same, so that part of them is rendered);
    `argocd=False` leaves Argo CD's unit out too (for a compile of part of the units beside
    another that makes it)."""
    assert shared is None or not serialize or not shared.units, "shared units may hold no YAML"
    with collector_paused():
        clock, problems = _Clock(), Problems()
        problems.extend(folder_problems(root, (RENDERED_DIR, CACHE_DIR) if serialize else ()))
        if serialize and not problems:  # a cluster folder the writer would rename units into
            problems.extend(tree_link_problems(root / RENDERED_DIR, RENDERED_DIR))
        problems.extend(committed_cache_problems(root, CACHE_DIR))
        problems.raise_if_any()  # before the caches under CACHE_DIR are read or written
        specs, plan = (planned.specs, planned.plan) if planned else _plan(root, problems, clock, sources)
        crd_dirs = list(crd_dirs or [])
        own_dirs = platform_crd_dirs(root, specs.platform) if crds is None and not crd_dirs else {}
        # Keys only matter for what is cached, written or shared: without YAML or sharing there is neither.
        keyed = serialize or shared is not None
        schema_key = _schema_key(crds, crd_dirs, own_dirs, schema_engine) if keyed else None
        # Without YAML the caller compares objects, holding them all (review): spilling them
        # would cost time and save nothing, so they stay in memory.
        cache = UnitCache(root / CACHE_DIR / UNIT_CACHE_FILE if use_cache and serialize else None,
                          keep_in_memory=not serialize)
        schemas = _Schemas(crds, crd_dirs, own_dirs, root / CACHE_DIR)
        stream = _Stream(Validator(specs.platform, crds, schema_engine), schemas, cache, problems, clock, serialize)
        jobs = planned.jobs if planned and planned.jobs and planned.schema_key == schema_key else \
            _unit_jobs(plan, schema_key)  # the keys plan_repo made, when made for the same schemas
        rendered = _render(plan, jobs, cache, stream, shared, only, argocd)
        problems.raise_if_any()
        stream.raise_too_large()
        cache.flush()
        clock.lap("cache")
        units = dict(sorted(rendered.units.items()))
        if shared is not None:
            _offer(shared, rendered, units)
        objects = UnitTree(units, "objects")
        warnings = missing_folder_warnings(own_dirs, root) + unchecked_warnings(rendered.unchecked)
        return CompileResult(specs, plan, objects, UnitTree(units, "files") if serialize else {},
                             warnings, clock.timings, len(objects) - len(rendered.unchecked),
                             units_rendered=len(rendered.keys), unchecked=rendered.unchecked)


def keep_warm(root: Path) -> bool:
    """Plan the repository under `root` and keep its models and plan in this process for the
    compiles of it that follow (compiler.warm; a `tenantc server` does this while idle). Reads
    the spec files only: no cache is read or written, nothing rendered. False, and what was
    kept before still kept (it lends only what is unchanged), when it does not compile."""
    with collector_paused():
        problems = Problems()
        sources = read_sources(root, problems)
        try:
            problems.raise_if_any()
            specs, plan = _plan(root, problems, _Clock(), sources)
        except CompileError:
            return False
    warm.keep(root, specs, plan)
    return True


def platform_crd_dirs(root: Path, platform: Platform) -> dict[str, Path]:
    """Each platform cluster's CRD folder under `root` (its `crds`, default crds/<cluster>)."""
    return cluster_crd_dirs(root, {c.name: c.crd_folder() for c in platform.clusters})


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._last
        self._last = now


def _plan(root: Path, problems: Problems, clock: _Clock, sources: Sources | None = None,
          previous: Plan | None = None) -> tuple[Specs, Plan]:
    """Load -> model -> plan, raising with every problem of a stage before the next."""
    specs = _model(root, problems, clock, sources)
    return specs, _plan_specs(specs, problems, clock, previous)


def _model(root: Path, problems: Problems, clock: _Clock, sources: Sources | None = None) -> Specs:
    if sources is None:
        sources = warm.lend_models(root, read_sources(root, problems, cache_dir=root / CACHE_DIR))
    clock.lap("load")
    specs = build_specs(sources, problems)
    clock.lap("model")
    problems.raise_if_any()
    assert specs is not None
    return specs


def _plan_specs(specs: Specs, problems: Problems, clock: _Clock, previous: Plan | None = None) -> Plan:
    plan = make_plan(specs, problems, previous or warm.lent_plan(specs))
    clock.lap("plan")
    problems.raise_if_any()
    return plan


def _schema_key(crds: Crds | None, crd_dirs: list[Path], own_dirs: dict[str, Path], schema_engine: str | None) -> str:
    """What validation verdicts depend on: the CRDs and the schema engine."""
    digest = crds.digest if crds is not None else cluster_crd_digest(own_dirs) if own_dirs else crd_digest(crd_dirs)
    return "|".join([digest, schema_engine or default_engine()])


def _custom_kinds(objects: Iterable[dict]) -> set[str]:
    return {o["kind"] for o in objects if group_of(o["apiVersion"]) not in BUILTIN_GROUPS}


def _spec_digest(source: Source) -> str:
    """Digest of what a spec file evaluates to (a Jsonnet file's imports change its data
    without changing its bytes) and of its path (rendered objects name their source file)."""
    if source.path.endswith(".jsonnet"):
        return source.path + ":" + hashlib.sha256(json.dumps(source.data, sort_keys=True).encode()).hexdigest()
    return source.path + ":" + source.digest


def _spec_digests(specs: Specs) -> tuple[str, dict[str, str]]:
    """What unit keys take of the specs: the platform file's digest, and each tenant's."""
    return _spec_digest(specs.platform_source), {t.tenant.name: _spec_digest(t.source) for t in specs.tenants}


def _unit_jobs(plan: Plan, schema_key: str | None) -> list[_UnitJob]:
    """Every cluster/_platform and cluster/tenant unit with its cache key: everything its
    objects depend on, including the specs of the tenants the plan read for it. Without a
    `schema_key` nothing is cached or written, and the keys are left empty."""
    def key(*parts: str) -> str:
        return unit_key(*parts, schema_key) if schema_key is not None else ""

    platform_digest, digests = _spec_digests(plan.specs) if schema_key is not None else ("", {})
    jobs: list[_UnitJob] = []
    for cluster in plan.specs.platform.clusters:
        jobs.append((unit_folder(cluster.name, PLATFORM_DIR), key("platform", platform_digest, cluster.name),
                     partial(render_platform_cluster, plan, cluster)))
    for ctx in tenant_contexts(plan):
        tenant = ctx.tenant.name
        deps = [f"{d}={digests.get(d, '')}" for d in plan.tenants_read_by(tenant)]
        jobs.append((unit_folder(ctx.cluster.name, tenant),
                     key("tenant", platform_digest, digests.get(tenant, ""), ctx.cluster.name, *deps),
                     partial(render_tenant, ctx)))
    return jobs


@dataclass
class _Rendered:
    """A compile's units: those the cache holds or another compile shared (known by their
    metadata, content unread) and those rendered now (stored as they were rendered), with
    Argo CD's view of all of them."""

    units: dict[str, Unit] = field(default_factory=dict)  # unit folder -> unit, every unit
    known: set[str] = field(default_factory=set)  # unit folders not rendered now (cache or shared)
    summaries: dict[str, dict] = field(default_factory=dict)  # unit folder -> Argo CD summary, every unit
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (apiVersion, kind) of every object not validated
    keys: dict[str, str] = field(default_factory=dict)  # unit folder -> cache key, units rendered now
    # unit folder -> [apiVersion, kind] of its objects not validated, keyed units
    unchecked_by_unit: dict[str, list] = field(default_factory=dict)


@dataclass
class _Schemas:
    """What custom kinds are validated against: the CRDs given, else those of the folders,
    loaded for the custom kinds rendered so far (a unit with a kind not seen before loads them
    again, for every kind seen; a repository has a handful of custom kinds)."""

    given: Crds | None
    crd_dirs: list[Path]
    own_dirs: dict[str, Path]
    cache_dir: Path
    kinds: set[str] = field(default_factory=set)
    loaded: Crds | None = None

    def for_objects(self, objects: Iterable[dict]) -> Crds | None:
        if self.given is not None:
            return self.given
        custom = _custom_kinds(objects)
        if custom <= self.kinds:
            return self.loaded
        self.kinds |= custom
        if self.crd_dirs:
            self.loaded = load_crds(self.crd_dirs, self.cache_dir, kinds=set(self.kinds))
        elif self.own_dirs:
            self.loaded = load_cluster_crds(self.own_dirs, self.cache_dir, kinds=set(self.kinds))
        return self.loaded


@dataclass
class _Stream:
    """Each unit as it is rendered: validated, serialized, handed to the unit cache (or its
    spill store) and dropped, so that a compile holds one unit's objects at a time. Once a
    problem is found the compile fails, and later units are only validated (every problem
    is reported), neither serialized nor stored."""

    validator: Validator
    schemas: _Schemas
    cache: UnitCache
    problems: Problems
    clock: _Clock
    serialize: bool
    too_large: list[Problem] = field(default_factory=list)

    def take(self, out: _Rendered, folder: str, key: str, objects: dict[str, dict]) -> None:
        """One unit's objects ('folder/file.yaml' -> object). `key` is its cache key ('' when
        nothing is keyed); Argo CD's unit, which has none of its own, is keyed by its YAML."""
        self.clock.lap("render")
        cacheable = folder != ARGOCD_DIR
        if cacheable:
            out.keys[folder] = key
        head = folder + "/"
        assert all(path.startswith(head) and "/" not in path[len(head):] for path in objects), \
            f"a unit renders outside {folder}"
        names = {path[len(head):]: path for path in objects}
        report = ValidationReport()
        self.validator.crds = self.schemas.for_objects(objects.values())
        self.validator.check(objects, self.problems, report, "" if folder == ARGOCD_DIR else folder.partition("/")[0])
        out.unchecked += report.unchecked.values()
        self.clock.lap("validate")
        if self.problems or self.too_large:
            return
        unit_objects = {name: objects[path] for name, path in names.items()}
        files, too_large = serialize_checked(unit_objects) if self.serialize else ({}, [])
        self.too_large += too_large
        self.clock.lap("serialize")
        if too_large:
            return
        unchecked = [list(report.unchecked[path]) for path in names.values() if path in report.unchecked]
        if cacheable:
            out.unchecked_by_unit[folder] = unchecked
        key = key if cacheable and key else unit_key("derived", *(digest(b) for _, b in sorted(files.items())))
        meta = UnitMeta(sorted(names), out.summaries.get(folder, {}), unchecked)
        reader = self.cache.put(key, meta, unit_objects, files, cacheable=cacheable)
        out.units[folder] = Unit(folder, key, meta.names, _loader(reader))
        self.clock.lap("cache")

    def raise_too_large(self) -> None:
        if self.too_large:
            raise CompileError(self.too_large)


def _render(plan: Plan, jobs: list[_UnitJob], cache: UnitCache, stream: _Stream,
            shared: SharedUnits | None = None, only: Callable[[str], bool] | None = None,
            with_argocd: bool = True) -> _Rendered:
    out = _Rendered()
    metas = cache.metas([key for _, key, _ in jobs])
    argocd = ArgoCdSettings.from_platform(plan.specs.platform) if with_argocd else None
    try:
        for folder, key, render in jobs:
            meta = metas.get(key)
            if only is not None and not only(folder):
                if argocd is not None:  # left out, but Argo CD's output still reads what it holds
                    out.summaries.update(_left_out_summary(folder, key, meta, render, shared))
            elif meta is not None:
                unit = Unit(folder, key, meta.names, _loader(partial(cache.content, key, meta.names)))
                _keep(out, unit, meta.summary, meta.unchecked)
            elif shared is not None and key in shared.units:
                _keep(out, *shared.units[key])
                shared.reused += 1
            else:
                objects = render()
                if argocd is not None:  # what only Argo CD's output reads (a platform without it keys every unit)
                    out.summaries.update(summaries_of(objects))
                stream.take(out, folder, key, objects)
    except RenderCollision as exc:  # reported alone, as it stops the compile where it is found
        raise CompileError([Problem("tenants/", "", str(exc), "rename one of the objects")]) from None
    if argocd is not None:
        stream.take(out, ARGOCD_DIR, "", render_argocd(plan, argocd, summaries=out.summaries))
    return out


def _left_out_summary(folder: str, key: str, meta: UnitMeta | None, render: Callable[[], dict[str, dict]],
                      shared: SharedUnits | None) -> dict[str, dict]:
    """{folder: Argo CD summary} of a unit left out of a compile ({} for a unit without
    objects): from the unit cache, from another compile of this process that left out (or
    rendered) a unit of the same key, else rendered."""
    if meta is not None and meta.summary:
        return {folder: meta.summary}
    if shared is not None and key in shared.summaries:
        return shared.summaries[key]
    if shared is not None and key in shared.units and shared.units[key][1]:
        return {folder: shared.units[key][1]}
    summary = {f: s for f, s in summaries_of(render()).items() if f == folder}
    if shared is not None and key:
        shared.summaries[key] = summary
    return summary


def render_unchecked(planned: Planned, folders: Collection[str]) -> dict[str, dict]:
    """The objects of the units in `folders` ('cluster/tenant'), rendered from the plan, neither
    validated nor stored: for readers that trust those units as they are elsewhere (review's
    units whose key the base has too, see compiler.review.keyed)."""
    objects: dict[str, dict] = {}
    with collector_paused():
        for folder, _, render in planned.jobs or _unit_jobs(planned.plan, None):
            if folder in folders:
                objects.update(render())
    return objects


def _keep(out: _Rendered, unit: Unit, summary: dict, unchecked: list) -> None:
    """A unit known without rendering it (from the unit cache or another compile)."""
    out.units[unit.path] = unit
    out.known.add(unit.path)
    out.summaries[unit.path] = summary
    out.unchecked_by_unit[unit.path] = unchecked
    out.unchecked += [(api_version, kind) for api_version, kind in unchecked]


def _offer(shared: SharedUnits, rendered: _Rendered, units: dict[str, Unit]) -> None:
    """Every keyed unit of a compile that passed, for the next compile to take."""
    for folder, unit in units.items():
        if folder in rendered.known or folder in rendered.keys:
            shared.units[unit.key] = (unit, rendered.summaries.get(folder, {}), rendered.unchecked_by_unit[folder])


def _loader(read: Reader) -> Loader:
    """Reads a stored unit's objects or files; a unit gone or damaged since it was stored
    (the cache file is untrusted) is refused, never guessed."""
    def load(what: str) -> dict:
        content = read(what)
        if content is None:
            raise CompileError([Problem(f"{CACHE_DIR}/units.sqlite", "", "a cached unit is damaged or was changed "
                                        "during the compile", f"delete {CACHE_DIR}/ and compile again")])
        return content
    return load


def has_unit_cache(root: Path) -> bool:
    """Whether `root` has a unit cache to read. Commands that only compare (check, review) use
    the cache when there is one and leave a fresh clone without: in CI, storing every unit
    costs as much as validating them, for a cache no later run reads."""
    return (root / CACHE_DIR / UNIT_CACHE_FILE).is_file()


def writer_for(root: Path, out: Path | None = None) -> TreeWriter:
    return TreeWriter(out or root / RENDERED_DIR, root / CACHE_DIR)


def write_rendered(root: Path, result: CompileResult, out: Path | None = None,
                   observed: dict[str, FolderState] | None = None) -> WriteResult:
    """Write the compile into rendered/ (or `out`); `observed`: see TreeWriter.write."""
    start = time.perf_counter()
    with collector_paused():  # the manifest of a big tree is tens of thousands of small lists
        written = writer_for(root, out).write(result.files, observed=observed)
    result.timings["write"] = time.perf_counter() - start
    return written


def check_rendered(root: Path, result: CompileResult, out: Path | None = None,
                   units: set[str] | None = None) -> Staleness:
    """What differs between the compile's files and rendered/ (or `out`) on disk; with
    `units`, in those unit folders only."""
    with collector_paused():
        return writer_for(root, out).compare(result.files, units)
