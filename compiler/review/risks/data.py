"""`data-removed`: a Namespace, PersistentVolumeClaim or Dataset is removed, so
`apply --prune` would delete its data (a Dataset that only references another's holds none)."""
from __future__ import annotations

from collections.abc import Iterable

from compiler.review.compare import ObjectChange
from compiler.review.risks.common import DANGER, Family, Risk, RiskContext, risk
from compiler.review.risks.datasets import DATASET, only_references

RULES = {
    "data-removed": "a Namespace, PersistentVolumeClaim or Dataset is removed: apply --prune deletes its data",
}

DATA_KINDS = {
    ("", "Namespace"): "deleting the namespace deletes everything in it, volumes included",
    ("", "PersistentVolumeClaim"): "the volume and its data would be pruned",
    DATASET: "the dataset and its cache would be pruned",
}


def data_removed(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    for c in changes:
        why = DATA_KINDS.get((c.key.group, c.key.kind))
        if c.change != "removed" or not why:
            continue
        if (c.key.group, c.key.kind) == DATASET and only_references(c.old or {}):
            continue  # a reference to another tenant's dataset: removing it leaves the data alone
        yield risk("data-removed", DANGER, c, f"{c.key.kind} removed: {why}")


FAMILY = Family(RULES, data_removed)
