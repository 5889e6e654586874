"""ResourceQuota scopes: a tenant's caps per PriorityClass and per storage class, checked
against the platform and the quota, and split over its clusters in proportion to its quota
shares (as a queue guarantee is).

Kubernetes: a ResourceQuota whose `scopeSelector` matches `PriorityClass` counts only pods of
those classes, and such a quota may hold only pod resources (cpu, memory, extended resources,
pods), https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-per-priorityclass;
`<storage-class-name>.storageclass.storage.k8s.io/requests.storage` and
`.../persistentvolumeclaims` cap the claims of one storage class,
https://kubernetes.io/docs/concepts/policy/resource-quotas/#storage-resource-quota.
"""
from __future__ import annotations

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.common import quota_of
from compiler.model.tenant import Quota
from compiler.plan.quota import Shares, split_quota

ScopeShares = dict[tuple[str, str], dict[str, Quota]]  # (tenant, cluster) -> class -> this cluster's part
POD_SCOPED = ("cpu", "memory", "pods")  # what a PriorityClass-scoped ResourceQuota may hold, besides GPUs


def plan_quota_scopes(specs: Specs, quotas: dict[str, Shares],
                      problems: Problems) -> tuple[ScopeShares, ScopeShares]:
    """(per priority class, per storage class) parts of each tenant on each cluster."""
    priority: ScopeShares = {}
    storage: ScopeShares = {}
    for spec in specs.tenants:
        scopes, shares = spec.tenant.quota_scopes, quotas.get(spec.tenant.name, {})
        for name, cap in sorted(scopes.priority_classes.items()):
            where = f"quotaScopes.priorityClasses.{name}"
            if _check_priority(spec, specs, name, cap, where, problems) and _within(spec, cap, where, problems):
                _file(priority, spec, name, _split(spec, specs, cap, where, shares, problems))
        for name, amounts in sorted(scopes.storage_classes.items()):
            where = f"quotaScopes.storageClasses.{name}"
            cap = quota_of(storage=amounts.storage, pvcs=amounts.pvcs)
            if _check_storage(spec, specs, name, where, problems) and _within(spec, cap, where, problems):
                _file(storage, spec, name, _split(spec, specs, cap, where, shares, problems))
    return priority, storage


def _split(spec: TenantSpec, specs: Specs, cap: Quota, where: str, shares: Shares, problems: Problems) -> Shares:
    if not shares:
        return {}
    return split_quota(spec.tenant, specs.platform, spec.source.path, problems, total=cap, field=where,
                       weights_by=shares)


def _file(out: ScopeShares, spec: TenantSpec, name: str, parts: Shares) -> None:
    for cluster, part in parts.items():
        out.setdefault((spec.tenant.name, cluster), {})[name] = part


def _check_priority(spec: TenantSpec, specs: Specs, name: str, cap: Quota, where: str, problems: Problems) -> bool:
    known = specs.platform.priority_classes
    ok = True
    if name not in known:
        problems.add(spec.source.path, where, f"unknown priority class '{name}'",
                     f"use one of: {', '.join(known) or '(the platform lists none)'}")
        ok = False
    for field in ("pvcs", "storage"):
        if getattr(cap, field) is not None:
            problems.add(spec.source.path, f"{where}.{field}", "a PriorityClass-scoped quota counts pods only",
                         "cap claims per storage class under quotaScopes.storageClasses instead")
            ok = False
    return ok


def _check_storage(spec: TenantSpec, specs: Specs, name: str, where: str, problems: Problems) -> bool:
    classes = specs.platform.storage.classes if specs.platform.storage else []
    if name not in classes:
        problems.add(spec.source.path, where, f"unknown storage class '{name}'",
                     f"use one of: {', '.join(classes) or '(the platform declares no storage classes)'}")
        return False
    return True


def _within(spec: TenantSpec, cap: Quota, where: str, problems: Problems) -> bool:
    """A scope's cap is a part of the quota: each amount at most the quota's."""
    quota = spec.tenant.quota
    pairs = [(r, getattr(cap, r), getattr(quota, r)) for r in (*POD_SCOPED, "pvcs", "storage")]
    pairs += [(f"gpu.{m}", amount, quota.gpu.get(m)) for m, amount in cap.gpu.items()]
    ok = True
    for resource, amount, total in pairs:
        if amount is not None and (total is None or amount.value > total.value):
            problems.add(spec.source.path, f"{where}.{resource}",
                         f"{amount} is more than the quota's {total if total is not None else '(none)'}",
                         f"a scope caps part of the quota: lower it or raise quota.{resource}")
            ok = False
    return ok
