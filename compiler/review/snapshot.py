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
import sys
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import compiler
from compiler.errors import CompileError, Problem
from compiler.pipeline import CACHE_DIR, CompileResult, compile_repo
from compiler.plan import cluster_usage
from compiler.review.revision import Revision
from compiler.validate.crds import CrdSet

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

    objects: dict[str, dict]  # 'cluster/tenant/file.yaml' -> object
    owners: dict[str, str]  # tenant -> owner
    sources: dict[str, str]  # tenant -> spec file
    platform_owners: list[str]
    platform_source: str
    platform_digest: str  # digest of the platform file's data: comments and layout do not count
    platform_namespaces: list[str]  # ingress, monitoring, DNS: not tenants
    contexts: dict[str, str]  # cluster -> kubeconfig context
    pools: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # cluster -> pool -> node labels
    # cluster -> resource -> {"used": str, "limit": str | None, "fmt": str}
    usage: dict[str, dict[str, dict]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_result(cls, result: CompileResult) -> "Snapshot":
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
                    "fmt": capacity.fmt if capacity is not None else "DecimalSI",
                }
            usage[cluster.name] = rows
        data = json.dumps(specs.platform_source.data, sort_keys=True, default=str).encode()
        return cls(
            objects=result.objects,
            owners={t.tenant.name: t.tenant.owner for t in specs.tenants},
            sources={t.tenant.name: t.source.path for t in specs.tenants},
            platform_owners=list(platform.owners),
            platform_source=specs.platform_source.path,
            platform_digest=hashlib.sha256(data).hexdigest(),
            platform_namespaces=sorted({platform.ingress_namespace, platform.monitoring_namespace,
                                        platform.dns_namespace}),
            contexts={c.name: c.context for c in platform.clusters},
            pools={c.name: {p.name: dict(p.labels) for p in c.node_pools} for c in platform.clusters},
            usage=usage,
            warnings=list(result.warnings),
        )


def compile_snapshot(revision: Revision, crds: CrdSet | None, cache: "SnapshotCache | None") -> tuple[Snapshot, bool]:
    """Compile a revision (or take it from the cache); returns the snapshot and whether it was cached."""
    key = cache.key(revision, crds) if cache else ""
    if cache:
        hit = cache.get(key)
        if hit is not None:
            return hit, True
    with revision.materialise() as root:
        try:
            result = compile_repo(root, crds=crds)
        except CompileError as exc:
            raise RevisionFailed(revision, exc.problems) from None
    snapshot = Snapshot.from_result(result)
    if cache:
        cache.put(key, snapshot)
    return snapshot, False


class SnapshotCache:
    """Snapshots as JSON files named by key. JSON, not pickle: a cache file is data, never code."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_root(cls, root: Path) -> "SnapshotCache":
        return cls(root / CACHE_DIR / CACHE_SUBDIR)

    def key(self, revision: Revision, crds: CrdSet | None) -> str:
        hasher = hashlib.sha256()
        for part in (revision.key, crds.digest if crds else "no-crds", _code_digest(),
                     os.environ.get("TENANTC_SCHEMA_ENGINE", ""), sys.version):
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
            tmp.write_bytes(json.dumps(asdict(snapshot), separators=(",", ":")).encode())
            tmp.replace(self.folder / f"{key}.json")
            self._prune()
        except (OSError, TypeError):  # read-only checkout, or a value JSON cannot hold: no cache
            pass

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[CACHE_KEEP:]:
            old.unlink(missing_ok=True)


_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """Digest of the compiler's own source: a changed renderer must not reuse old snapshots."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        hasher = hashlib.sha256(compiler.__version__.encode())
        package = Path(compiler.__file__).parent
        for path in sorted(package.rglob("*.py")):
            hasher.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        _CODE_DIGEST = hasher.hexdigest()
    return _CODE_DIGEST
