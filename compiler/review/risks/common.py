"""What every risk rule shares: the Risk record, the context rules may read, the registry
entry a rule family provides, and how rules find and name objects of either revision."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from compiler.identity import RenderedPath
from compiler.kinds import SOURCE_ANNOTATION, group_of
from compiler.review.compare import ObjectChange, ObjectKey, tenant_of

DANGER, WARNING = "danger", "warning"
SEVERITY_ORDER = {DANGER: 0, WARNING: 1}

# (cluster, namespace, name of a ResourceQuota) -> status.used, or None when not there.
UsageReader = Callable[[str, str, str], "dict[str, str] | None"]


@dataclass(frozen=True)
class Risk:
    """A change a reviewer must look at twice: the rule, the object it is on, and why."""

    rule: str
    severity: str
    key: ObjectKey
    api_version: str  # of the object the risk is on, as reports print it
    tenant: str
    reason: str
    source: str = ""  # spec file to annotate
    cross_tenant: bool = False  # needs the platform owners' approval
    involves: tuple[str, ...] = ()  # other tenants whose owners must approve

    @property
    def order(self) -> tuple:
        """Dangers first, then by cluster, tenant, rule and object (apiVersion before kind, as reports always had)."""
        return (SEVERITY_ORDER[self.severity], self.key.cluster, self.tenant, self.rule, self.api_version,
                self.key.kind, self.key.namespace, self.key.name, self.reason)


@dataclass
class RiskContext:
    """What the rules may look at besides the changes themselves."""

    base_objects: Mapping[str, dict]  # every object of the revision (may render on first read)
    head_objects: Mapping[str, dict]
    tenants: set[str] = field(default_factory=set)  # tenant names of either revision
    # (tenant, dataset) the head's platform file gives every tenant: a platform decision, approved
    # with the platform file, so a new tenant receiving one is not a new export.
    global_datasets: set[tuple[str, str]] = field(default_factory=set)
    pools: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # cluster -> pool -> labels
    usage: UsageReader | None = None


Check = Callable[[list[ObjectChange], RiskContext], Iterable[Risk]]


@dataclass(frozen=True)
class Family:
    """One family of rules for the registry: the rule ids it may flag (id -> what it means,
    as docs/review.md and the annotations say it) and the check that flags them."""

    rules: dict[str, str]
    check: Check


class Found(NamedTuple):
    """An object of one revision, where the rules found it (it may itself be unchanged)."""

    key: ObjectKey
    path: str  # relative to rendered/
    obj: dict


def risk(rule: str, severity: str, change: ObjectChange, reason: str, **extra) -> Risk:
    """A risk on a changed object."""
    return Risk(rule, severity, change.key, change.api_version, change.tenant, reason, change.source, **extra)


def risk_on(rule: str, severity: str, found: Found, reason: str, **extra) -> Risk:
    """A risk on an object that may itself be unchanged (the policy that now allows a peer)."""
    meta = found.obj.get("metadata") or {}
    return Risk(rule, severity, found.key, found.obj.get("apiVersion", ""),
                tenant_of(RenderedPath.parse(found.path), found.obj), reason,
                (meta.get("annotations") or {}).get(SOURCE_ANNOTATION, ""), **extra)


def by_scope(objects: Mapping[str, dict], group: str, kinds: tuple[str, ...]) -> dict[tuple[str, str], list[Found]]:
    """Objects of some kinds of one group, by (cluster, namespace); cluster-scoped ones under namespace ''."""
    out: dict[tuple[str, str], list[Found]] = {}
    for path, obj in objects.items():
        if obj.get("kind") in kinds and group_of(obj.get("apiVersion", "")) == group:
            key = ObjectKey.of(path, obj)
            out.setdefault((key.cluster, key.namespace), []).append(Found(key, path, obj))
    return out


def is_kind(key: ObjectKey, group: str, kind: str) -> bool:
    return key.kind == kind and key.group == group
