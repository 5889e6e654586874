"""Render stage: plan -> Kubernetes objects, keyed by their path under rendered/.

Renderers are plain functions of a context, listed below in the order they run. They draw
what the plan decided (`ctx.workloads`, the unit's share) and decide nothing themselves; a
renderer never reads another tenant's spec (the unit cache keys a unit on the specs the plan
read for it, `Plan.tenants_read_by`). To add a kind: write `compiler/render/<thing>.py` with
`render(ctx) -> list[dict]` building objects with `ctx.obj(...)` (which adds the ownership
labels), and append it here. Shared builders: `placement` (node affinity and tolerations),
`volumes` (claims, datasets), `rbac` (an account with its Role), `pods` (the agent's containers).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from compiler.identity import unit_folder
from compiler.kinds import PLATFORM_DIR, file_name
from compiler.model.platform import Cluster
from compiler.plan import Plan
from compiler.render import (
    agent,
    argocd,
    datasets,
    guardrails,
    jobs,
    member_roles,
    namespace,
    network,
    notebooks,
    queue,
    quota,
    serving,
    storage,
)
from compiler.render.context import PlatformContext, TenantContext

TENANT_RENDERERS: list[Callable[[TenantContext], list[dict]]] = [
    namespace.render,
    quota.render,
    queue.render,
    network.render,
    agent.render,
    storage.render,
    datasets.render,
    notebooks.render,
    serving.render,
    jobs.render,
    guardrails.render,
]
PLATFORM_RENDERERS: list[Callable[[PlatformContext], list[dict]]] = [
    queue.render_platform,
    guardrails.render_platform,
    member_roles.render_platform,
]


class RenderCollision(Exception):
    """Two objects would land in the same file."""


def tenant_contexts(plan: Plan) -> list[TenantContext]:
    out = []
    for spec in plan.specs.tenants:
        for cluster_name, share in plan.quotas.get(spec.tenant.name, {}).items():
            cluster = plan.specs.platform.cluster(cluster_name)
            assert cluster is not None
            out.append(TenantContext(plan, spec.tenant, cluster, share,
                                     plan.guarantees.get(spec.tenant.name, {}).get(cluster_name),
                                     spec.source.path))
    return out


def render_tenant(ctx: TenantContext) -> dict[str, dict]:
    """Objects of one tenant on one cluster, keyed by 'cluster/tenant/file.yaml'."""
    return _keyed(unit_folder(ctx.cluster.name, ctx.tenant.name), (o for r in TENANT_RENDERERS for o in r(ctx)))


def render_platform_cluster(plan: Plan, cluster: Cluster) -> dict[str, dict]:
    """The platform's own objects on one cluster, keyed by 'cluster/_platform/file.yaml'."""
    ctx = PlatformContext(plan, cluster, plan.specs.platform_source.path)
    return _keyed(unit_folder(cluster.name, PLATFORM_DIR), (o for r in PLATFORM_RENDERERS for o in r(ctx)))


def render_platform(plan: Plan) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for cluster in plan.specs.platform.clusters:
        out.update(render_platform_cluster(plan, cluster))
    return out


def render_all(plan: Plan) -> dict[str, dict]:
    out = render_platform(plan)
    for ctx in tenant_contexts(plan):
        out.update(render_tenant(ctx))
    # Argo CD's view of everything above (an AppProject per tenant, one ApplicationSet)
    out.update(argocd.render_argocd(plan, objects=out))
    return dict(sorted(out.items()))


def _keyed(prefix: str, objects: Iterable[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for obj in objects:
        path = f"{prefix}/{file_name(obj)}"
        if path in out:
            raise RenderCollision(f"two objects render to {path}")
        out[path] = obj
    return out
