"""Capacity impact: per cluster and resource, the sum of tenant quotas before and after
against capacity x overcommit, and the headroom left.

Over-capacity itself is caught by the head's compile (compiler.plan), so a review that gets
this far always fits; this table says by how much, which is what a reviewer weighs.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from compiler.quantity import FORMAT_DECIMAL, Quantity
from compiler.review.snapshot import Snapshot


@dataclass(frozen=True)
class CapacityRow:
    """One cluster's use of one resource before and after, against capacity x overcommit."""

    cluster: str
    resource: str
    before: Decimal | None  # None: the cluster is not in that revision
    after: Decimal | None
    limit_before: Decimal | None  # capacity x overcommit; None when no capacity is declared
    limit_after: Decimal | None
    fmt: str

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.limit_before != self.limit_after

    @property
    def headroom(self) -> Decimal | None:
        if self.limit_after is None or self.after is None:
            return None
        return self.limit_after - self.after

    @property
    def percent_after(self) -> float | None:
        """How full the cluster is after the change, in percent of capacity x overcommit."""
        if not self.limit_after or self.after is None:
            return None
        return float(self.after / self.limit_after * 100)

    def show(self, value: Decimal | None) -> str:
        """A value in the unit family the capacity was declared in ('16Ti', '3072'); '-' for none."""
        return "-" if value is None else Quantity(value, self.fmt).canonical()


def capacity_impact(base: Snapshot, head: Snapshot) -> list[CapacityRow]:
    """Every cluster and resource of either revision, sorted; `.changed` tells which moved."""
    rows = []
    for cluster in sorted(set(base.usage) | set(head.usage)):
        old, new = base.usage.get(cluster), head.usage.get(cluster)
        for resource in sorted(set(old or {}) | set(new or {})):
            a, b = (old or {}).get(resource), (new or {}).get(resource)
            fmt = (b or a or {}).get("fmt", FORMAT_DECIMAL)
            rows.append(CapacityRow(cluster, resource, _used(old, a), _used(new, b),
                                    _dec(a, "limit"), _dec(b, "limit"), fmt))
    return rows


def _used(cluster_rows: dict | None, row: dict | None) -> Decimal | None:
    if cluster_rows is None:
        return None
    return Decimal(row["used"]) if row else Decimal(0)


def _dec(row: dict | None, key: str) -> Decimal | None:
    value = row.get(key) if row else None
    return Decimal(value) if value is not None else None
