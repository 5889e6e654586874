"""Volcano queues: one per tenant and cluster (capability = that cluster's share, 0 for the GPU
resources it has no quota for, since Volcano leaves an unset dimension unlimited), plus the
platform's own parent queues, rendered once per cluster under _platform/."""
from __future__ import annotations

from compiler.plan import quota_amounts, resource_amounts
from compiler.render.context import PlatformContext, TenantContext

QUEUE_API = "scheduling.volcano.sh/v1beta1"
# Queue capability covers what the scheduler allocates; counts of objects stay in ResourceQuota.
SCHEDULED = {"cpu", "memory"}


def scheduled(amounts: dict) -> dict:
    return {k: v.canonical() for k, v in sorted(amounts.items()) if k in SCHEDULED or "/" in k}


def render(ctx: TenantContext) -> list[dict]:
    gpus = ctx.cluster.gpu_models()
    spec: dict = {
        "weight": ctx.tenant.queue.weight,
        "reclaimable": ctx.tenant.queue.reclaimable,
        "capability": scheduled(quota_amounts(ctx.share, ctx.cluster)),
        "parent": ctx.plan.queue_parents[ctx.tenant.name],
    }
    if ctx.guarantee is not None:
        spec["guarantee"] = {"resource": scheduled(resource_amounts(ctx.guarantee, gpus))}
    if ctx.tenant.queue.priority is not None:
        spec["priority"] = ctx.tenant.queue.priority
    return [ctx.obj(QUEUE_API, "Queue", ctx.tenant.name, namespaced=False, spec=spec)]


def render_platform(ctx: PlatformContext) -> list[dict]:
    return [
        ctx.obj(QUEUE_API, "Queue", q.name, spec={
            "weight": q.weight, "reclaimable": q.reclaimable, "parent": ctx.plan.platform_queue_parents[q.name]})
        for q in ctx.platform.queues
    ]
