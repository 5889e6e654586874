"""What review keeps of a compiled revision, and a cache of it keyed by the spec tree.

A review needs the rendered objects plus a few facts from the specs (owners, capacity use,
kube contexts); that is small, plain JSON, so it is cached per revision key under
.tenantc-cache/review/. The key also covers the compiler's own source and the CRDs, so a
new tenantc or other CRDs never reuse an old result. In CI the base is the same tree for
every pull request against a branch, so a kept cache folder makes the base free.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

from compiler.errors import CompileError, Problem
from compiler.forked import Forked
from compiler.load.sources import Sources
from compiler.pipeline import CACHE_DIR, CompileResult, SharedUnits, compile_repo, has_unit_cache
from compiler.plan import cluster_usage
from compiler.quantity import FORMAT_DECIMAL
from compiler.render.unit_cache import code_fingerprint
from compiler.review.datagraph import edges_of_specs
from compiler.review.keyed import KeyedObjects, compile_keyed
from compiler.review.revision import Revision, derived_sources
from compiler.validate.crds import Crds

CACHE_SUBDIR = "review"
CACHE_KEEP = 16  # snapshots kept; older ones are deleted


class RevisionFailed(Exception):
    """A revision does not compile; carries the revision so reports can name it."""

    def __init__(self, revision: Revision, problems: list[Problem]):
        self.revision = revision
        self.problems = problems
        super().__init__(f"{revision.label} does not compile: {len(problems)} problem(s)")


@dataclass
class Snapshot:
    """A compiled revision as review sees it. Quantities are kept as strings (exact Decimals)."""

    objects: Mapping[str, dict]  # 'cluster/tenant/file.yaml' -> object (KeyedObjects: see keyed.py)
    owners: dict[str, str]  # tenant -> owner
    sources: dict[str, str]  # tenant -> spec file
    platform_owners: list[str]
    platform_source: str
    platform_digest: str  # digest of the platform file's data: comments and layout do not count
    global_datasets: list[list[str]]  # [owner tenant, dataset] the platform gives every tenant
    contexts: dict[str, str]  # cluster -> kubeconfig context
    pools: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # cluster -> pool -> node labels
    # cluster -> resource -> {"used": str, "limit": str | None, "fmt": str}
    usage: dict[str, dict[str, dict]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # who may read whose data: [owner, dataset, to, kind, write, alias] (compiler.review.datagraph)
    data_edges: list[list] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: CompileResult) -> Snapshot:
        specs, platform = result.specs, result.specs.platform
        usage: dict[str, dict[str, dict]] = {}
        for cluster in platform.clusters:
            used = cluster_usage(result.plan, cluster.name)
            rows = {}
            for resource in sorted(set(used) | set(cluster.capacity)):
                capacity = cluster.capacity.get(resource)
                rows[resource] = {
                    "used": str(used.get(resource, Decimal(0))),
                    "limit": str(capacity.value * cluster.ratio(resource)) if capacity is not None else None,
                    "fmt": capacity.fmt if capacity is not None else FORMAT_DECIMAL,
                }
            usage[cluster.name] = rows
        data = json.dumps(specs.platform_source.data, sort_keys=True, default=str).encode()
        return cls(
            objects=dict(result.objects),  # a plain dict (the compile's view may be lazy) for JSON and pickle
            owners={t.tenant.name: t.tenant.owner for t in specs.tenants},
            sources={t.tenant.name: t.source.path for t in specs.tenants},
            platform_owners=list(platform.owners),
            platform_source=specs.platform_source.path,
            platform_digest=hashlib.sha256(data).hexdigest(),
            global_datasets=sorted([g.tenant, g.dataset] for g in platform.global_datasets),
            contexts={c.name: c.context for c in platform.clusters},
            pools={c.name: {p.name: dict(p.labels) for p in c.node_pools} for c in platform.clusters},
            usage=usage,
            warnings=list(result.warnings),
            data_edges=edges_of_specs(specs),
        )


def compile_snapshot(revision: Revision, crds: Crds | None, shared: SharedUnits | None = None,
                     sources: Sources | None = None) -> Snapshot:
    """Compile one revision in this process; RevisionFailed names it when it does not compile."""
    return Snapshot.from_result(_compile(revision, crds, shared, sources))


def _compile(revision: Revision, crds: Crds | None, shared: SharedUnits | None = None,
             sources: Sources | None = None) -> CompileResult:
    """With `shared`, units whose key an earlier compile of this review had are taken from it
    (and this compile's units are offered to the next); with `sources` the spec files are
    not read again (nothing is checked out: `root` only names the repository)."""
    # The working tree shares the repository's unit cache with `tenantc compile` when it has
    # one, so a one-tenant change renders one tenant; a fresh clone (no unit cache) and a commit
    # checked out to a temporary folder skip the YAML they would never use.
    own_cache = revision.commit is None and has_unit_cache(revision.root)
    serialize = own_cache and not (shared and shared.units)
    try:
        if sources is not None:
            return compile_repo(revision.root, crds=crds, serialize=False, shared=shared, sources=sources)
        with revision.materialise() as root:
            return compile_repo(root, crds=crds, serialize=serialize, shared=shared)
    except CompileError as exc:
        raise RevisionFailed(revision, exc.problems) from None


@dataclass
class Compiled:
    """The outcome of compiling a review's revisions: a snapshot or a failure per role."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)  # role -> snapshot
    cached: dict[str, bool] = field(default_factory=dict)  # role -> came from the cache
    failures: list[RevisionFailed] = field(default_factory=list)


def compile_revisions(revisions: list[Revision], crds: Crds | None, cache: SnapshotCache | None,
                      parallel: bool = True, shared: bool = True, crd_dirs: list[Path] | None = None) -> Compiled:
    """Snapshots of every revision. By default (`shared`) two different revisions are compiled
    the keyed way when it applies (compiler.review.keyed: both planned, only the units whose
    keys differ rendered; `crd_dirs` are the CRD folders given, which it checks for changes):
    that costs less than reading both from the cache, and its snapshots, which hold only the
    objects that differ, are not cached. Otherwise they come from the cache, else are compiled:
    by default one after the other in this process, the last one first, a unit whose key both
    have rendered and validated once (compile_shared); without `shared` each in full, the
    first in a forked child (with `parallel`) while this process compiles the other; a child
    that fails for any reason other than the specs is redone here."""
    out = Compiled()
    distinct = len(revisions) == 2 and revisions[0].key != revisions[1].key
    if shared and distinct and _compile_keyed(out, revisions, crds, crd_dirs or []):
        return out  # cheaper than reading two cached snapshots whole, and nothing to cache
    keys = {r.role: cache.key(r, crds) for r in revisions} if cache else {}
    todo = _from_cache(out, revisions, cache, keys)
    if len(todo) == 2 and todo[0].key == todo[1].key:  # the same specs (a clean tree against HEAD): once
        _compile_once(out, todo, crds)
    elif shared:
        compile_shared(out, todo, crds)
    else:
        _compile_each(out, todo, crds, parallel)
    if cache:
        for role, snapshot in out.snapshots.items():
            if not out.cached.get(role):
                cache.put(keys[role], snapshot)
    order = {r.role: i for i, r in enumerate(revisions)}
    out.failures.sort(key=lambda f: order[f.revision.role])
    return out


def _from_cache(out: Compiled, revisions: list[Revision], cache: SnapshotCache | None,
                keys: dict[str, str]) -> list[Revision]:
    """Fill `out` with the cached snapshots; the revisions still to compile."""
    todo = []
    for revision in revisions:
        hit = cache.get(keys[revision.role]) if cache else None
        if hit is not None:
            out.snapshots[revision.role], out.cached[revision.role] = hit, True
        else:
            todo.append(revision)
    return todo


def _compile_keyed(out: Compiled, todo: list[Revision], crds: Crds | None, crd_dirs: list[Path]) -> bool:
    """Both snapshots the keyed way into `out`; False when it does not apply."""
    base, head = todo
    keyed = compile_keyed(base, head, crds, crd_dirs, Snapshot.from_result)
    if keyed is None:
        return False
    snapshots, common = keyed
    for role, snapshot in snapshots.items():
        snapshot.objects = KeyedObjects(snapshot.objects, common)  # from_result made it a plain dict
        out.snapshots[role], out.cached[role] = snapshot, False
    return True


def compile_shared(out: Compiled, todo: list[Revision], crds: Crds | None) -> None:
    """Compile `todo` in reverse order (the head, usually the working tree with the
    repository's caches, before the base) sharing units between them; when the base differs
    from the head by YAML spec files only, its spec files are the head's with those read
    from git (see derived_sources)."""
    if not todo:
        return
    shared = SharedUnits()
    last = todo[-1]
    head: list[CompileResult] = []

    def compile_last() -> Snapshot:
        head.append(_compile(last, crds, shared))
        return Snapshot.from_result(head[0])

    _compile_into(out, last, compile_last)
    if len(todo) == 2:
        base = todo[0]
        sources = derived_sources(base, last, head[0].specs) if head else None
        _compile_into(out, base, lambda: compile_snapshot(base, crds, shared, sources))


def _compile_once(out: Compiled, same: list[Revision], crds: Crds | None) -> None:
    """Two revisions with the same spec tree: compile the second, and give the first its result."""
    first, second = same
    _compile_into(out, second, lambda: compile_snapshot(second, crds))
    if second.role in out.snapshots:
        out.snapshots[first.role], out.cached[first.role] = out.snapshots[second.role], False
    else:
        out.failures.append(RevisionFailed(first, out.failures[-1].problems))


def _compile_each(out: Compiled, todo: list[Revision], crds: Crds | None, parallel: bool) -> None:
    """Compile every revision of `todo`; with two and `parallel`, the first in a forked child
    (one that fails for any reason other than the specs is redone here)."""
    first = todo[0]
    child = Forked(lambda: _outcome(first, crds)) if parallel and len(todo) > 1 else None
    try:
        for revision in todo:
            if child is not None and revision is first:
                continue
            _compile_into(out, revision, lambda r=revision: compile_snapshot(r, crds))
        if child is not None:
            _compile_into(out, first, lambda: _raise_failure(first, child.join()))
    finally:
        if child is not None:
            child.kill()


def _outcome(revision: Revision, crds: Crds | None) -> Snapshot | list[Problem]:
    """A revision's snapshot, or the problems that made it fail (data a child can hand back)."""
    try:
        return compile_snapshot(revision, crds)
    except RevisionFailed as exc:
        return exc.problems


def _raise_failure(revision: Revision, outcome: Snapshot | list[Problem]) -> Snapshot:
    if isinstance(outcome, list):
        raise RevisionFailed(revision, outcome)
    return outcome


def _compile_into(out: Compiled, revision: Revision, compile_one) -> None:
    try:
        out.snapshots[revision.role] = compile_one()
        out.cached[revision.role] = False
    except RevisionFailed as exc:
        out.failures.append(exc)


class SnapshotCache:
    """Snapshots as JSON files named by key. JSON, not pickle: a cache file is data, never code."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_root(cls, root: Path) -> SnapshotCache:
        return cls(root / CACHE_DIR / CACHE_SUBDIR)

    def key(self, revision: Revision, crds: Crds | None) -> str:
        hasher = hashlib.sha256()
        for part in (revision.key, crds.digest if crds else "no-crds", code_fingerprint(),
                     os.environ.get("TENANTC_SCHEMA_ENGINE", "")):
            hasher.update(part.encode() + b"\0")
        return hasher.hexdigest()[:40]

    def get(self, key: str) -> Snapshot | None:
        path = self.folder / f"{key}.json"
        try:
            data = json.loads(path.read_bytes())
            snapshot = Snapshot(**data)
        except (OSError, ValueError, TypeError):  # absent, half-written by a killed run, or an old layout
            return None
        os.utime(path)  # most recently used survives pruning
        return snapshot

    def put(self, key: str, snapshot: Snapshot) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"{key}.{os.getpid()}.tmp"
            # Not dataclasses.asdict: it deep-copies every object first, which took longer than compiling.
            data = {f.name: getattr(snapshot, f.name) for f in fields(snapshot)}
            tmp.write_bytes(json.dumps(data, separators=(",", ":")).encode())
            tmp.replace(self.folder / f"{key}.json")
            self._prune()
        except (OSError, TypeError):  # read-only checkout, or a value JSON cannot hold: no cache
            pass

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[CACHE_KEEP:]:
            old.unlink(missing_ok=True)
