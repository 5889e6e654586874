"""Comparing a desired object with its live copy without asking the server.

An object is unchanged when applying it again could not change anything:
  1. every field tenantc sets has the same value live, after the server's normalization
     (quantities in canonical form, zero values the server omits); live may hold more
     (defaults), except inside fields tenantc owns as a whole (atomic lists and structs:
     their owned leaf is the whole field), which must be equal, and
  2. the fields live's managedFields record for tenantc's Apply are exactly the desired ones.
Rule 2 is what makes a field dropped from a spec a change (it is still owned live), and a
field someone else changed a change (their update took ownership away from tenantc). A
server-side apply changes a field only where (1) or (2) fails, so objects passing both can
be skipped; the rest are confirmed with a dry-run apply.

Field paths here are tuples of keys, with "[]" standing for any list element: list keys in
managedFields (k:{...}, v:..., i:N) depend on schemas we do not have, and the element count
is already compared by rule 1.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from compiler.kinds import FIELD_MANAGER
from compiler.quantity import QuantityError
from compiler.quantity import normalize as normalize_quantity

NOISE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
IDENTITY = frozenset({"apiVersion", "kind"})
IDENTITY_METADATA = frozenset({"name", "namespace"})
ITEM = "[]"

Path = tuple[str, ...]
_MISSING = object()


# -- cleaning for display (Secret values are hidden by compiler.redact) --------------------
def clean(obj: dict) -> dict:
    """A copy without server bookkeeping (managedFields, resourceVersion, ...) and status."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in NOISE_METADATA:
            meta.pop(key, None)
    return out


# -- rule 1: values --------------------------------------------------------------------
def _zero(value: Any) -> bool:
    """Values a server omits (Go's omitempty): null, "", 0, false, {}, []."""
    if isinstance(value, bool):
        return value is False
    if isinstance(value, (int, float)):
        return value == 0
    return not value


def _scalar_equal(desired: Any, live: Any) -> bool:
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if desired == live:
        return True
    if isinstance(live, str) and isinstance(desired, (str, int, float)):
        # The server stores quantities canonically ('1.5Gi' -> '1536Mi'). Only a quantity
        # field is rewritten that way; any other string changed live fails rule 2 anyway.
        try:
            return normalize_quantity(repr(desired) if isinstance(desired, float) else desired) == live
        except QuantityError:
            return False
    return False


def covers(desired: Any, live: Any, path: Path = (), atomic: frozenset[Path] | set[Path] = frozenset()) -> bool:
    """Does `live` hold every value of `desired`? Extra live fields are allowed (server
    defaults), except inside `atomic` paths: fields apply replaces as a whole, where an
    extra live field is one a new apply would remove."""
    if path in atomic and isinstance(desired, (dict, list)):
        return same_value(desired, live)
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return not desired and live is None
        for key, value in desired.items():
            live_value = live.get(key)
            if live_value is None:
                if not _zero(value):
                    return False
            elif not covers(value, live_value, path + (key,), atomic):
                return False
        return True
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and \
            all(covers(d, l_, path + (ITEM,), atomic) for d, l_ in zip(desired, live, strict=True))
    return _scalar_equal(desired, live)


def same_value(desired: Any, live: Any) -> bool:
    """Equal after normalization, with zero values and absent fields the same thing."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return all(_zero(desired.get(k)) and _zero(live.get(k)) or
                   (k in desired and k in live and same_value(desired[k], live[k]))
                   for k in set(desired) | set(live))
    if isinstance(desired, list) and isinstance(live, list):
        return len(desired) == len(live) and all(map(same_value, desired, live))
    if _zero(desired) and _zero(live):
        return True
    return _scalar_equal(desired, live)


# -- rule 2: ownership -----------------------------------------------------------------
def desired_leaves(obj: dict) -> set[Path]:
    """Field paths an apply of `obj` claims (what managedFields would record for it)."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in IDENTITY:
            continue
        if key == "metadata":
            for meta_key, meta_value in (value or {}).items():
                if meta_key not in IDENTITY_METADATA:
                    _leaves(meta_value, ("metadata", meta_key), out)
        else:
            _leaves(value, (key,), out)
    return out


def _leaves(value: Any, path: Path, out: set[Path]) -> None:
    if value is None:
        return
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _leaves(sub, path + (key,), out)
    elif isinstance(value, list) and value:
        for item in value:
            _leaves(item, path + (ITEM,), out)
    else:
        out.add(path)


def fields_leaves(fields: dict) -> set[Path]:
    """Leaf paths of a FieldsV1 tree ('f:spec' -> 'spec', list keys -> '[]')."""
    out: set[Path] = set()
    _fields_walk(fields, (), out)
    return out


def _fields_walk(node: dict, path: Path, out: set[Path]) -> None:
    children = [(k, v) for k, v in node.items() if k != "."]
    if not children:
        if path:
            out.add(path)
        return
    for key, sub in children:
        _fields_walk(sub or {}, path + (key[2:] if key.startswith("f:") else ITEM,), out)


def managers(obj: dict) -> list[dict]:
    """ManagedFields entries of the main resource (status subresource entries left out)."""
    return [m for m in (obj.get("metadata") or {}).get("managedFields") or [] if not m.get("subresource")]


def owned_leaves(obj: dict, manager: str = FIELD_MANAGER) -> set[Path] | None:
    """Leaves `manager` owns through Apply, or None when it has applied nothing here."""
    entries = [m for m in managers(obj) if m.get("manager") == manager and m.get("operation") == "Apply"]
    if not entries:
        return None
    out: set[Path] = set()
    for entry in entries:
        out |= fields_leaves(entry.get("fieldsV1") or {})
    return out


def same_fields(first: set[Path], second: set[Path]) -> bool:
    """Equal up to atomic fields: a leaf on one side may stand for a subtree on the other."""
    return _all_related(first, second) and _all_related(second, first)


def _all_related(paths: set[Path], other: set[Path]) -> bool:
    prefixes = {p[:i] for p in other for i in range(1, len(p) + 1)}
    return all(p in prefixes or any(p[:i] in other for i in range(1, len(p))) for p in paths)


def unchanged(desired: dict, live: dict, schema: dict | None = None, ignored: Iterable[Path] = ()) -> bool:
    """True when applying `desired` over `live` cannot change the object (rules 1 and 2).

    `schema` is the cluster's CRD schema for a custom kind: its defaults are what the
    server adds, so values are compared with them in place (ownership without them).
    `ignored` paths (run-time fields, compiler.delivery) are left out of both rules, on
    both sides: their values and who owns them are not tenantc's to decide."""
    ignored = tuple(ignored)
    owned = owned_leaves(live)
    if owned is None:
        return False
    owned = without_paths(owned, ignored)
    if not same_fields(without_paths(desired_leaves(desired), ignored), owned):
        return False
    body, live_body = _body(desired), _body(live)
    if schema is not None or ignored:
        body = copy.deepcopy(body)
    if schema is not None:
        apply_defaults(body, schema)
    if ignored:  # after defaulting: a default must not stand in for a run-time value
        live_body = copy.deepcopy(live_body)
        for path in ignored:
            pop_path(body, path)
            pop_path(live_body, path)
    return covers(body, live_body, (), owned)


def without_paths(leaves: set[Path], ignored: Iterable[Path]) -> set[Path]:
    """`leaves` except those at or under an `ignored` path."""
    ignored = tuple(ignored)
    return {leaf for leaf in leaves if not any(leaf[:len(p)] == p for p in ignored)}


def pop_path(obj: Any, path: Path) -> None:
    """Remove the field at `path` (a tuple of keys) from nested dicts, if it is there."""
    for key in path[:-1]:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(obj, dict) and path:
        obj.pop(path[-1], None)


def apply_defaults(value: Any, schema: dict | None) -> None:
    """Structural defaulting of a CRD schema, as the API server does it, in place."""
    if not schema:
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if value.get(key) is None and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            apply_defaults(item, properties.get(key) or (extra if isinstance(extra, dict) else None))
    elif isinstance(value, list):
        for item in value:
            apply_defaults(item, schema.get("items"))


def _body(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in IDENTITY}


# -- drift: who changed what ------------------------------------------------------------
def changed_paths(before: Any, after: Any, path: tuple = ()) -> list[tuple]:
    """Concrete paths (list indexes kept) where two cleaned objects differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple] = []
        for key in sorted(set(before) | set(after), key=str):
            out += changed_paths(before.get(key, _MISSING), after.get(key, _MISSING), path + (key,))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            out += changed_paths(b, a, path + (index,))
        return out
    return [] if before == after else [path]


def project(path: tuple) -> Path:
    return tuple(ITEM if isinstance(p, int) else p for p in path)


def dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out


def other_owners(live: dict, path: tuple, manager: str = FIELD_MANAGER) -> list[str]:
    """Managers other than tenantc that own `path` (or a field inside or around it)."""
    target = project(path)
    found = []
    for entry in managers(live):
        if entry.get("manager") == manager:
            continue
        for leaf in fields_leaves(entry.get("fieldsV1") or {}):
            shorter = min(len(leaf), len(target))
            if leaf[:shorter] == target[:shorter]:
                found.append(f"{entry.get('manager', '?')} ({entry.get('operation', '?')})")
                break
    return sorted(set(found))
