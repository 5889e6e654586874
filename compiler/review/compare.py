"""Object-by-object comparison of two rendered trees, with a semantic diff per changed object.

Objects are matched by identity, never by file path: where they are applied (the cluster, or
the Argo CD output) and their `ObjectRef` (group, kind, namespace, name). The apiVersion's
version is not part of it, so `v1beta1` -> `v1` of one object is one changed object whose
`apiVersion` field changed. The `tenantc.io/source` annotation is ignored: renaming a spec
file, turning YAML into Jsonnet or moving a library changes no object. Field diffs speak
Kubernetes: quantities compare as quantities (`1k` == `1000`, `1536Mi` == `1.5Gi`), lists of
named items are matched by name, other lists as sets of items, and Secret values are masked
by compiler.redact before they are compared, so no diff can hold one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from compiler.identity import ObjectRef, RenderedPath
from compiler.kinds import ARGOCD_DIR, SOURCE_ANNOTATION, TENANT_LABEL, group_of, stage_of
from compiler.quantity import Quantity, QuantityError
from compiler.redact import mask_pair

# A map under one of these keys holds resource quantities (ResourceQuota, LimitRange, pods'
# resources, Volcano queues, PVCs, Fluid tiered stores).
QUANTITY_CONTEXTS = {"hard", "used", "requests", "limits", "capability", "resource", "resources", "capacity",
                     "default", "defaultRequest", "max", "min", "maxLimitRequestRatio", "deserved",
                     "guarantee", "quota", "storage", "overhead", "sizeLimit"}

ARGOCD_GROUP = "argoproj.io"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def cluster_of(path: RenderedPath) -> str:
    """Where a file's objects go: its cluster; the Argo CD output is grouped as ARGOCD_DIR."""
    return path.cluster or ARGOCD_DIR


def tenant_of(path: RenderedPath, obj: dict) -> str:
    """The tenant an object belongs to: its label, else its folder (PLATFORM_TENANT for platform objects)."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(TENANT_LABEL) or path.tenant


class ObjectKey(NamedTuple):
    """What makes an object the same object in a review, whatever file it is written to: where
    it is applied (`cluster_of`) and its ObjectRef. Tuples, so the keys of a large repository
    hash and sort at C speed."""

    cluster: str
    ref: ObjectRef

    @classmethod
    def of(cls, path: str, obj: dict) -> ObjectKey:
        """The key of an object written to `path` (relative to rendered/)."""
        return cls(cluster_of(RenderedPath.parse(path)), ObjectRef.of(obj))

    @property
    def group(self) -> str:
        return self.ref.group

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def name(self) -> str:
        return self.ref.name


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: op is 'changed', 'added' or 'removed'; note says 'raised'/'lowered'
    for quantities, 'reordered' for a list with the same items."""

    path: str
    op: str
    old: Any = None
    new: Any = None
    note: str = ""


@dataclass
class ObjectChange:
    """One object added, removed or changed (with its field changes) between the two revisions."""

    key: ObjectKey
    tenant: str
    change: str  # 'added' | 'removed' | 'changed'
    old: dict | None
    new: dict | None
    old_path: str | None
    new_path: str | None
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def obj(self) -> dict:
        """The head object, or the base one when it is removed."""
        return self.new if self.new is not None else self.old  # type: ignore[return-value]

    @property
    def api_version(self) -> str:
        """The head's apiVersion (the base's for a removed object): what reports print."""
        return self.obj.get("apiVersion", "")

    @property
    def source(self) -> str:
        """The spec file this object comes from (head's, or base's for a removed object)."""
        for obj in (self.new, self.old):
            if obj is not None:
                source = obj.get("metadata", {}).get("annotations", {}).get(SOURCE_ANNOTATION)
                if source:
                    return source
        return ""

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


Located = tuple[str, dict]  # (path relative to rendered/, object)


def index(objects: Mapping[str, dict]) -> dict[ObjectKey, Located]:
    return {ObjectKey.of(path, obj): (path, obj) for path, obj in objects.items()}


def compare_objects(base: Mapping[str, dict], head: Mapping[str, dict]) -> list[ObjectChange]:
    """Added, removed and changed objects between two rendered trees."""
    # Fast path: an object equal at the same path is the same object, unchanged; only the rest
    # (changed, added, removed or moved to another file) needs keys. Most of a large tree is skipped here.
    same = {path for path in base.keys() & head.keys() if base[path] == head[path]}
    old_index = index({p: o for p, o in base.items() if p not in same})
    new_index = index({p: o for p, o in head.items() if p not in same})
    changes = [change for key in old_index.keys() | new_index.keys()
               if (change := _change(key, old_index.get(key), new_index.get(key))) is not None]
    # Grouped by cluster and tenant, then in apply order (namespace, RBAC and quotas, data, workloads).
    return sorted(changes, key=lambda c: (c.key.cluster, c.tenant, stage_of(c.obj), c.key.kind, c.key.namespace,
                                          c.key.name, c.api_version))


def _change(key: ObjectKey, before: Located | None, after: Located | None) -> ObjectChange | None:
    """The change of one object, None when it is the same in both trees."""
    located = after if after is not None else before
    assert located is not None, "a key comes from one of the two trees"
    path, obj = located
    tenant = tenant_of(RenderedPath.parse(path), obj)
    if before is None:
        return ObjectChange(key, tenant, "added", None, obj, None, path)
    if after is None:
        return ObjectChange(key, tenant, "removed", obj, None, path, None)
    fields = field_changes(before[1], after[1])
    if not fields:
        return None
    return ObjectChange(key, tenant, "changed", before[1], after[1], before[0], after[0], fields)


def field_changes(old: dict, new: dict) -> list[FieldChange]:
    """What a reviewer may see of how an object changed: Secret values masked (whether each one
    changed still shows), the source annotation and derived lists left out. [] when the two
    differ only in how quantities are written."""
    a, b = mask_pair(without_derived(without_source(old)), without_derived(without_source(new)))
    return [] if a == b else diff_fields(a, b)


def without_derived(obj: dict) -> dict:
    """The ApplicationSet's list of (cluster, tenant) elements follows from the tenant folders,
    which are compared on their own; a tenant added or removed is not also a platform change."""
    if obj.get("kind") != "ApplicationSet" or group_of(obj.get("apiVersion", "")) != ARGOCD_GROUP:
        return obj
    spec = dict(obj.get("spec") or {})
    spec["generators"] = [{k: v for k, v in g.items() if k != "list"} for g in spec.get("generators", [])]
    return {**obj, "spec": spec}


def without_source(obj: dict) -> dict:
    """The object without the source annotation (shallow copies only; the input is not changed)."""
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if SOURCE_ANNOTATION not in annotations:
        return obj
    annotations = {k: v for k, v in annotations.items() if k != SOURCE_ANNOTATION}
    meta = {k: v for k, v in meta.items() if k != "annotations"}
    if annotations:
        meta["annotations"] = annotations
    return {**obj, "metadata": meta}


def diff_fields(old: Any, new: Any, path: str = "", in_quantities: bool = False) -> list[FieldChange]:
    """Field-level differences between two values; paths look like spec.hard["requests.cpu"]."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = join(path, key)
            if key not in new:
                out.append(FieldChange(sub, "removed", old=old[key]))
            elif key not in old:
                out.append(FieldChange(sub, "added", new=new[key]))
            elif old[key] != new[key]:
                out.extend(diff_fields(old[key], new[key], sub, in_quantities or key in QUANTITY_CONTEXTS))
        return out
    if isinstance(old, list) and isinstance(new, list):
        return _diff_lists(old, new, path, in_quantities)
    if old == new:
        return []
    if in_quantities:
        note = _quantity_note(old, new)
        if note == "equal":
            return []
        if note:
            return [FieldChange(path, "changed", old, new, note)]
    return [FieldChange(path, "changed", old, new)]


def _diff_lists(old: list, new: list, path: str, in_quantities: bool) -> list[FieldChange]:
    names_old, names_new = _names(old), _names(new)
    if names_old is not None and names_new is not None:
        return _diff_named(old, new, names_old, names_new, path, in_quantities)
    if len(old) == len(new) == 1 and isinstance(old[0], dict) and isinstance(new[0], dict):
        return diff_fields(old[0], new[0], f"{path}[0]", in_quantities)  # one rule/term: say which field
    return _diff_sets(old, new, path)


def _diff_named(old: list, new: list, names_old: dict[str, Any], names_new: dict[str, Any], path: str,
                in_quantities: bool) -> list[FieldChange]:
    """Lists of named items (containers, tasks, subjects), matched by name."""
    out: list[FieldChange] = []
    for name in sorted(set(names_old) | set(names_new)):
        sub = f"{path}[name={name}]"
        if name not in names_new:
            out.append(FieldChange(sub, "removed", old=names_old[name]))
        elif name not in names_old:
            out.append(FieldChange(sub, "added", new=names_new[name]))
        else:
            out.extend(diff_fields(names_old[name], names_new[name], sub, in_quantities))
    if not out and [_name(i) for i in old] != [_name(i) for i in new]:
        out.append(FieldChange(path, "changed", old, new, "reordered"))
    return out


def _diff_sets(old: list, new: list, path: str) -> list[FieldChange]:
    """Other lists, as sets of items: what left, what came, or 'reordered'."""
    old_items, new_items = [_canonical(i) for i in old], [_canonical(i) for i in new]
    removed = [item for item, c in zip(old, old_items, strict=True) if c not in new_items]
    added = [item for item, c in zip(new, new_items, strict=True) if c not in old_items]
    if not removed and not added:
        return [FieldChange(path, "changed", old, new, "reordered")]
    return ([FieldChange(f"{path}[]", "removed", old=item) for item in removed]
            + [FieldChange(f"{path}[]", "added", new=item) for item in added])


def _name(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else None


def _names(items: list) -> dict[str, Any] | None:
    """Items keyed by their 'name' when every item is a mapping with a unique name."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    keyed = {i["name"]: i for i in items}
    return keyed if len(keyed) == len(items) else None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _quantity_note(old: Any, new: Any) -> str:
    """'equal', 'raised' or 'lowered' when both values are quantities, else ''."""
    try:
        a, b = Quantity.parse(old), Quantity.parse(new)
    except QuantityError:
        return ""
    if a.value == b.value:
        return "equal"
    return "raised" if b.value > a.value else "lowered"


def join(path: str, key: Any) -> str:
    key = str(key)
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"
