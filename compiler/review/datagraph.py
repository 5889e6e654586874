"""Who may read whose data: the graph of dataset exports, imports and global datasets.

A dataset is owned by a tenant; its `exportTo` lets other tenants (or every tenant, `*`) mount
it, a tenant's `imports` mounts one, and the platform's `globalDatasets` give one to every
tenant read-only. A review shows this graph when a change alters it: which edges are new and
which are gone. Edges come from the specs, not the rendered objects, so an export nobody
imports yet is visible too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVERY_TENANT = "*"
EXPORT, IMPORT, GLOBAL = "export", "import", "global"
KINDS = (EXPORT, IMPORT, GLOBAL)


@dataclass(frozen=True, order=True)
class DataEdge:
    """One edge: dataset `owner/dataset` reaches tenant `to` (EVERY_TENANT for all)."""

    owner: str
    dataset: str
    to: str
    kind: str  # export | import | global
    write: bool = False
    alias: str = ""  # an import's local name when it differs from the dataset's

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tenant": self.owner, "dataset": self.dataset, "to": self.to,
                "write": self.write, "as": self.alias or None}


def edges_of_specs(specs) -> list[list]:
    """The edges of compiled specs as plain JSON rows (what a review snapshot keeps)."""
    rows: list[list] = []
    for t in specs.tenants:
        tenant = t.tenant
        for ds in tenant.datasets:
            rows += [[tenant.name, ds.name, e.tenant, EXPORT, e.write, ""] for e in ds.export_to]
        for imp in tenant.imports:
            alias = imp.local_name if imp.local_name != imp.dataset else ""
            rows.append([imp.tenant, imp.dataset, tenant.name, IMPORT, imp.write, alias])
    rows += [[g.tenant, g.dataset, EVERY_TENANT, GLOBAL, False, ""] for g in specs.platform.global_datasets]
    return sorted(rows)


def edges(rows: list[list]) -> set[DataEdge]:
    return {DataEdge(*row) for row in rows}


@dataclass(frozen=True)
class GraphChange:
    """The graph after a change, each edge marked kept, added or removed."""

    kept: tuple[DataEdge, ...]
    added: tuple[DataEdge, ...]
    removed: tuple[DataEdge, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def rows(self) -> list[dict[str, Any]]:
        marked = [(e, "kept") for e in self.kept] + [(e, "added") for e in self.added] + \
                 [(e, "removed") for e in self.removed]
        return [{**e.as_json(), "status": status} for e, status in sorted(marked)]


def graph_change(before: list[list], after: list[list]) -> GraphChange:
    old, new = edges(before), edges(after)
    return GraphChange(tuple(sorted(old & new)), tuple(sorted(new - old)), tuple(sorted(old - new)))
