"""ResourceQuota with this cluster's share of the logical quota (an explicit 0 for the cluster's
GPU resources the tenant has no quota for) and its caps per storage class, a ResourceQuota per
PriorityClass the tenant caps (compiler/plan/quota_scopes.py), and the LimitRange."""
from __future__ import annotations

from compiler.plan import quota_amounts, resource_amounts
from compiler.quantity import Quantity
from compiler.render.context import TenantContext

COUNTED = {"pods", "persistentvolumeclaims"}


STORAGE_CLASS_KEY = "{}.storageclass.storage.k8s.io/{}"  # Kubernetes' per-storage-class quota keys


def hard_of(amounts: dict[str, Quantity], prefix: str = "") -> dict[str, str]:
    """Kubernetes resource name -> amount as ResourceQuota `hard` keys."""
    hard = {}
    for resource, amount in amounts.items():
        if resource in COUNTED:
            key = resource
        elif resource == "storage":
            key = "requests.storage"
        else:
            key = f"requests.{resource}"
        hard[prefix.format(key) if prefix else key] = amount.canonical()
    return hard


def render(ctx: TenantContext) -> list[dict]:
    hard = hard_of(quota_amounts(ctx.namespace_quota, ctx.cluster))
    scoped = {} if ctx.project else ctx.plan.priority_scopes.get((ctx.tenant.name, ctx.cluster.name), {})
    by_storage_class = {} if ctx.project else ctx.plan.storage_scopes.get((ctx.tenant.name, ctx.cluster.name), {})
    for name, part in sorted(by_storage_class.items()):
        hard.update(hard_of(resource_amounts(part, {}), STORAGE_CLASS_KEY.format(name, "{}")))
    objects = [ctx.obj("v1", "ResourceQuota", "tenant-quota", spec={"hard": dict(sorted(hard.items()))})]
    for name, part in sorted(scoped.items()):
        objects.append(ctx.obj("v1", "ResourceQuota", f"priority-{name}", spec={
            "hard": dict(sorted(hard_of(resource_amounts(part, ctx.cluster.gpu_models())).items())),
            "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                    "values": [name]}]}}))
    limits = _limit_range_item(ctx)
    if limits:
        objects.append(ctx.obj("v1", "LimitRange", "tenant-limits", spec={"limits": [limits]}))
    return objects


def _limit_range_item(ctx: TenantContext) -> dict:
    limits = ctx.plan.limits.get(ctx.tenant.name, {})
    item = {key: {r: q.canonical() for r, q in sorted(values.items())} for key, values in limits.items()}
    return {"type": "Container", **item} if item else {}
