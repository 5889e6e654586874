"""ResourceQuota with this cluster's share of the logical quota (an explicit 0 for the cluster's
GPU resources the tenant has no quota for), and the LimitRange."""
from __future__ import annotations

from compiler.plan import quota_amounts
from compiler.render.context import TenantContext

COUNTED = {"pods", "persistentvolumeclaims"}


def render(ctx: TenantContext) -> list[dict]:
    hard = {}
    for resource, amount in quota_amounts(ctx.namespace_quota, ctx.cluster).items():
        if resource in COUNTED:
            key = resource
        elif resource == "storage":
            key = "requests.storage"
        else:
            key = f"requests.{resource}"
        hard[key] = amount.canonical()
    objects = [ctx.obj("v1", "ResourceQuota", "tenant-quota", spec={"hard": dict(sorted(hard.items()))})]
    limits = _limit_range_item(ctx)
    if limits:
        objects.append(ctx.obj("v1", "LimitRange", "tenant-limits", spec={"limits": [limits]}))
    return objects


def _limit_range_item(ctx: TenantContext) -> dict:
    limits = ctx.plan.limits.get(ctx.tenant.name, {})
    item = {key: {r: q.canonical() for r, q in sorted(values.items())} for key, values in limits.items()}
    return {"type": "Container", **item} if item else {}
