"""Volcano queues: one per tenant and cluster (capability = that cluster's share, 0 for the GPU
resources it has no quota for, since Volcano leaves an unset dimension unlimited), plus the
platform's own parent queues, rendered once per cluster under _platform/.

Members read their own Queue (its capability, allocated and pending resources tell them why a
job waits) through a ClusterRole limited to that one queue by name: Queues are cluster-scoped,
so the namespaced member roles cannot reach them. `resourceNames` also bounds list and watch
to requests that select that name (`fieldSelector=metadata.name=<queue>`), as documented in
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources .
"""
from __future__ import annotations

from compiler.kinds import QUEUE_READER_PREFIX
from compiler.plan import quota_amounts, resource_amounts
from compiler.render.context import PlatformContext, TenantContext
from compiler.render.rbac import RBAC_API, RBAC_GROUP

QUEUE_API = "scheduling.volcano.sh/v1beta1"
# Queue capability covers what the scheduler allocates; counts of objects stay in ResourceQuota.
SCHEDULED = {"cpu", "memory"}


def _scheduled(amounts: dict) -> dict:
    return {k: v.canonical() for k, v in sorted(amounts.items()) if k in SCHEDULED or "/" in k}


def render(ctx: TenantContext) -> list[dict]:
    gpus = ctx.cluster.gpu_models()
    spec: dict = {
        "weight": ctx.tenant.queue.weight,
        "reclaimable": ctx.tenant.queue.reclaimable,
        "capability": _scheduled(quota_amounts(ctx.share, ctx.cluster)),
        "parent": ctx.plan.queue_parents[ctx.tenant.name],
    }
    if ctx.guarantee is not None:
        spec["guarantee"] = {"resource": _scheduled(resource_amounts(ctx.guarantee, gpus))}
    if ctx.tenant.queue.priority is not None:
        spec["priority"] = ctx.tenant.queue.priority
    return [ctx.obj(QUEUE_API, "Queue", ctx.tenant.name, namespaced=False, spec=spec), *_queue_readers(ctx)]


def _queue_readers(ctx: TenantContext) -> list[dict]:
    """Every member of the tenant (any role) may get, list and watch the tenant's Queue, nothing else."""
    subjects = [{"kind": kind, "name": name, "apiGroup": RBAC_GROUP}
                for kind, name in sorted({m.subject for m in ctx.tenant.members})]
    if not subjects:
        return []
    name = f"{QUEUE_READER_PREFIX}{ctx.tenant.name}"
    rules = [{"apiGroups": ["scheduling.volcano.sh"], "resources": ["queues"], "resourceNames": [ctx.tenant.name],
              "verbs": ["get", "list", "watch"]}]
    return [
        ctx.obj(RBAC_API, "ClusterRole", name, namespaced=False, rules=rules),
        ctx.obj(RBAC_API, "ClusterRoleBinding", name, namespaced=False, subjects=subjects,
                roleRef={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name}),
    ]


def render_platform(ctx: PlatformContext) -> list[dict]:
    return [
        ctx.obj(QUEUE_API, "Queue", q.name, spec={
            "weight": q.weight, "reclaimable": q.reclaimable, "parent": ctx.plan.platform_queue_parents[q.name]})
        for q in ctx.platform.queues
    ]
