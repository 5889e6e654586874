"""`review`: what a change to tenants/ does, without a cluster.

Both revisions are compiled in memory (the base read from git, never checked out), their
rendered objects compared one by one, and the result judged: capacity per cluster, risk
flags, and who must approve. `tenantc review` is a thin CLI over `review()`; tests call it
directly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import CompileError, UserError
from compiler.gc_pause import collector_paused
from compiler.pipeline import CACHE_DIR, platform_crd_dirs
from compiler.review.approvals import Approval, required_approvals
from compiler.review.capacity import CapacityRow, capacity_impact
from compiler.review.compare import ObjectChange, compare_objects
from compiler.review.datagraph import GraphChange, graph_change
from compiler.review.keyed import differing_objects
from compiler.review.live import LiveQuotaUsage
from compiler.review.revision import Revision, changed_files, open_revision
from compiler.review.risks import Risk, RiskContext, UsageReader, find_risks
from compiler.review.snapshot import RevisionFailed, SnapshotCache, compile_revisions
from compiler.validate.crds import CompiledSchema, Crds, CrdSet, crd_digest, load_cluster_crds, load_crds
from compiler.write.tree import committed_cache_problems


@dataclass
class Review:
    """What a change does: the object changes, capacity, risks and approvals of base -> head."""

    base: Revision
    head: Revision
    changes: list[ObjectChange]
    capacity: list[CapacityRow]
    risks: list[Risk]
    approvals: list[Approval]
    changed_files: list[str]
    warnings: list[str] = field(default_factory=list)
    cached: dict[str, bool] = field(default_factory=dict)  # role -> snapshot came from the cache
    timings: dict[str, float] = field(default_factory=dict)
    data_graph: GraphChange = field(default_factory=lambda: GraphChange((), (), ()))

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


class ReviewFailed(Exception):
    """One or both revisions do not compile; each failure names its revision."""

    def __init__(self, failures: list[RevisionFailed], changed: list[str]):
        self.failures = failures
        self.changed_files = changed
        super().__init__("; ".join(str(f) for f in failures))


def review(root: Path, base_ref: str, head_ref: str | None = None, *, crd_dirs: list[Path] | None = None,
           crds: Crds | None = None, kubeconfig: Path | None = None, usage: UsageReader | None = None,
           use_cache: bool = True, parallel: bool = True, shared: bool = True) -> Review:
    """Compare `base_ref` with `head_ref` (None: the working tree) under repository root `root`.

    `usage` (or `kubeconfig`, which builds a live reader) lets the quota rule compare lowered
    quotas with what tenants use now. `shared` (the default) compiles the two revisions one
    after the other, rendering and validating once every unit both have alike; without it,
    each is compiled in full, in two processes with `parallel` when neither is cached.
    Raises ReviewFailed when either revision does not compile.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    root = Path(root)
    base, head = open_revision(root, "base", base_ref), open_revision(root, "head", head_ref)
    if crds is None and crd_dirs:
        crds = CrdsByKind(list(crd_dirs), root / CACHE_DIR)
    elif crds is None:
        crds = repository_crds(root)
    lap("revisions")
    committed = committed_cache_problems(root, CACHE_DIR)
    if committed:  # its snapshots and CRDs would be read before anything is compiled
        raise CompileError(committed)
    cache = SnapshotCache.for_root(root) if use_cache else None
    with collector_paused():
        compiled = compile_revisions([base, head], crds, cache, parallel, shared, list(crd_dirs or []))
        lap("compile")
        if compiled.failures:
            raise ReviewFailed(compiled.failures, changed_files(base, head))
        old, new = compiled.snapshots["base"], compiled.snapshots["head"]
        changes = compare_objects(differing_objects(old.objects), differing_objects(new.objects))
    lap("compare")

    live = LiveQuotaUsage(kubeconfig, {**old.contexts, **new.contexts}) if kubeconfig and usage is None else None
    ctx = RiskContext(old.objects, new.objects, tenants=set(old.owners) | set(new.owners),
                      global_datasets={(owner, name) for owner, name in new.global_datasets},
                      pools={**old.pools, **new.pools}, usage=usage or live)
    risks = find_risks(changes, ctx)
    approvals = required_approvals(changes, risks, old, new)
    capacity = capacity_impact(old, new)
    warnings = list(new.warnings) + (live.warnings if live else [])
    data_graph = graph_change(old.data_edges, new.data_edges)
    lap("judge")
    return Review(base, head, changes, capacity, risks, approvals, changed_files(base, head), warnings,
                  compiled.cached, timings, data_graph)


class CrdsByKind(CrdSet):
    """The CRDs under `dirs`, a kind's parsed when validation first asks for it, as
    `compile_repo` reads only the kinds it renders: in a fresh clone (no parsed-CRD cache)
    parsing every CRD file costs more than compiling. The digest covers every file."""

    def __init__(self, dirs: list[Path], cache_dir: Path):
        super().__init__(digest=crd_digest(dirs))
        self._dirs, self._cache_dir = dirs, cache_dir
        self._kinds_read: set[str] = set()

    def _read(self, kind: str) -> None:
        if kind not in self._kinds_read:
            self._kinds_read.add(kind)
            found = load_crds(self._dirs, self._cache_dir, kinds={kind})
            self.schemas.update(found.schemas)
            self.sources.update(found.sources)

    def compiled(self, api_version: str, kind: str, engine: str | None = None) -> CompiledSchema | None:
        self._read(kind)
        return super().compiled(api_version, kind, engine)

    def has_kind(self, api_version: str, kind: str) -> bool:
        self._read(kind)
        return super().has_kind(api_version, kind)


def repository_crds(root: Path) -> Crds | None:
    """Each cluster's CRDs as the working tree has them, for both revisions: they describe the
    clusters as they are now, whichever revision is compiled (a commit is read without its
    crds/). None when the platform file cannot be read (the compile then says why)."""
    from compiler.live.desired import load_platform

    try:
        platform = load_platform(root)
    except UserError:
        return None
    return load_cluster_crds(platform_crd_dirs(root, platform), root / CACHE_DIR)


__all__ = ["Review", "ReviewFailed", "review", "RevisionFailed"]
