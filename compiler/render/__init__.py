"""Render stage: plan -> Kubernetes objects, keyed by their path under rendered/.

Renderers are plain functions of a context, listed below in the order they run. To add a
kind: write `compiler/render/<thing>.py` with `render(ctx) -> list[dict]` building objects
with `ctx.obj(...)` (which adds the ownership labels), and append it here.
"""
from __future__ import annotations

from collections.abc import Callable

from compiler.kinds import PLATFORM_DIR, file_name
from compiler.model.platform import Cluster
from compiler.plan import Plan
from compiler.render import (
    agent,
    argocd,
    datasets,
    jobs,
    namespace,
    network,
    notebooks,
    queue,
    quota,
    rbac,
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
    jobs.render,
]
PLATFORM_RENDERERS: list[Callable[[PlatformContext], list[dict]]] = [
    queue.render_platform,
    rbac.render_platform,
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
    return _keyed(f"{ctx.cluster.name}/{ctx.tenant.name}", (o for r in TENANT_RENDERERS for o in r(ctx)))


def render_platform_cluster(plan: Plan, cluster: Cluster) -> dict[str, dict]:
    """The platform's own objects on one cluster, keyed by 'cluster/_platform/file.yaml'."""
    ctx = PlatformContext(plan, cluster, plan.specs.platform_source.path)
    return _keyed(f"{cluster.name}/{PLATFORM_DIR}", (o for r in PLATFORM_RENDERERS for o in r(ctx)))


def render_platform(plan: Plan) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for cluster in plan.specs.platform.clusters:
        out.update(render_platform_cluster(plan, cluster))
    return out


def tenants_read_by(plan: Plan, tenant: str) -> list[str]:
    """Other tenants whose specs a tenant's objects depend on: the owners of the datasets it
    imports (explicitly or as platform global datasets) and the tenants that let it in
    (`network.allowFromTenants`, for its egress). The unit cache keys on their specs
    too, so a renderer that starts reading another tenant must be reflected here."""
    spec = plan.specs.tenant(tenant)
    owners = {i.tenant for i in spec.tenant.imports} if spec else set()
    owners |= {g.tenant for g in plan.specs.platform.global_datasets}
    owners |= set(network.tenants_allowing(plan, tenant))  # their allowFromTenants opens our egress
    return sorted(owners - {tenant})


def render_all(plan: Plan) -> dict[str, dict]:
    out = render_platform(plan)
    for ctx in tenant_contexts(plan):
        out.update(render_tenant(ctx))
    # Argo CD's view of everything above (an AppProject per tenant, one ApplicationSet)
    out.update(argocd.render_argocd(plan, objects=out))
    return dict(sorted(out.items()))


def _keyed(prefix: str, objects) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for obj in objects:
        path = f"{prefix}/{file_name(obj)}"
        if path in out:
            raise RenderCollision(f"two objects render to {path}")
        out[path] = obj
    return out
