"""Dataset rules: a Dataset that mounts another tenant's dataset it did not before
(`dataset-shared`), and a dataset or a mount of one that becomes writable (`dataset-writable`)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from compiler.kinds import group_of
from compiler.review.compare import ObjectChange
from compiler.review.risks.common import WARNING, Family, Risk, RiskContext, is_kind, risk

FLUID_GROUP = "data.fluid.io"
DATASET = (FLUID_GROUP, "Dataset")
DATASET_SCHEME = "dataset://"

RULES = {
    "dataset-shared": "a dataset is exported to a tenant that did not mount it before",
    "dataset-writable": "a dataset (or a mount of one) becomes writable",
}


def dataset_risks(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    exported: set[tuple[str, str]] | None = None  # read from the head only when a Dataset changes
    for c in changes:
        if not is_kind(c.key, *DATASET) or c.change == "removed":
            continue
        yield from _newly_shared(c, ctx)
        if exported is None:
            exported = exported_datasets(ctx.head_objects)
        yield from _made_writable(c, exported)


def _newly_shared(c: ObjectChange, ctx: RiskContext) -> Iterable[Risk]:
    """Other tenants' datasets this one mounts now and did not before (the platform's global ones aside)."""
    new_refs = {r for r in dataset_refs(c.new or {}) - dataset_refs(c.old or {})
                if r[0] != c.key.namespace and r not in ctx.global_datasets}
    for ns, name in sorted(new_refs):
        yield risk("dataset-shared", WARNING, c, f"dataset {ns}/{name} is exported to tenant {c.tenant}",
                   cross_tenant=True, involves=(ns,))


def _made_writable(c: ObjectChange, exported: set[tuple[str, str]]) -> Iterable[Risk]:
    """Writes a dataset allows now; shared when it mounts another tenant's or another tenant mounts it."""
    refs = {r for r in dataset_refs(c.new or {}) if r[0] != c.key.namespace}
    if c.change == "added" and not refs:
        return  # a new dataset of the tenant's own: nothing existing becomes writable
    shared = bool(refs) or (c.key.namespace, c.key.name) in exported
    note = " (the dataset is shared between tenants)" if shared else ""
    for reason in _writable(c.old, c.new or {}):
        yield risk("dataset-writable", WARNING, c, reason + note,
                   cross_tenant=shared, involves=tuple(sorted({ns for ns, _ in refs})))


def exported_datasets(objects: Mapping[str, dict]) -> set[tuple[str, str]]:
    """(namespace, name) of every dataset some Dataset of another namespace mounts."""
    return {ref for obj in objects.values() if _is_dataset(obj)
            for ref in dataset_refs(obj) if ref[0] != obj.get("metadata", {}).get("namespace")}


def dataset_refs(obj: dict) -> set[tuple[str, str]]:
    """(namespace, name) of other datasets this one mounts through Fluid's dataset:// scheme."""
    out = set()
    for mount in (obj.get("spec") or {}).get("mounts") or []:
        point = str(mount.get("mountPoint", ""))
        if point.startswith(DATASET_SCHEME):
            ns, _, name = point[len(DATASET_SCHEME):].partition("/")
            out.add((ns, name.strip("/")))
    return out


def only_references(dataset: dict) -> bool:
    """Every mount is another dataset (dataset://): the Dataset holds no data of its own."""
    mounts = (dataset.get("spec") or {}).get("mounts") or []
    return bool(mounts) and all(str(m.get("mountPoint", "")).startswith(DATASET_SCHEME) for m in mounts)


def _writable(old: dict | None, new: dict) -> list[str]:
    """How `new` allows writes that `old` did not (old None: compared with a read-only dataset)."""
    old_spec, new_spec = (old or {}).get("spec") or {}, new.get("spec") or {}
    old_modes = {m for m in old_spec.get("accessModes") or [] if m.startswith("ReadWrite")}
    gained = sorted({m for m in new_spec.get("accessModes") or [] if m.startswith("ReadWrite")} - old_modes)
    reasons = [f"access modes now allow writes ({', '.join(gained)})"] if gained else []
    old_mounts = {_mount_id(m): m for m in old_spec.get("mounts") or []}
    for mount in new_spec.get("mounts") or []:
        before = old_mounts.get(_mount_id(mount))
        was_read_only = before.get("readOnly") is True if before is not None else old is None
        if was_read_only and mount.get("readOnly") is not True:
            reasons.append(f"mount {_mount_id(mount)} is no longer read-only")
    return reasons


def _mount_id(mount: dict) -> str:
    return str(mount.get("name") or mount.get("mountPoint", "?"))


def _is_dataset(obj: dict) -> bool:
    return obj.get("kind") == DATASET[1] and group_of(obj.get("apiVersion", "")) == FLUID_GROUP


FAMILY = Family(RULES, dataset_risks)
