"""A tenant's projects (compiler/plan/projects.py): per project its namespace with the
tenant's namespace-level objects (account, member RoleBindings, ResourceQuota and LimitRange,
NetworkPolicies, guardrail parameters) drawn for that namespace, and the Volcano leaf queues
under the tenant's queue: one per project and one for the tenant's own namespace."""
from __future__ import annotations

from dataclasses import replace

from compiler.plan import quota_amounts
from compiler.plan.projects import own_queue_name
from compiler.render import guardrails, namespace, network, quota
from compiler.render.context import TenantContext
from compiler.render.queue import QUEUE_API, queue_readers, scheduled

NAMESPACE_RENDERERS = [namespace.render, quota.render, network.render, guardrails.render]


def render(ctx: TenantContext) -> list[dict]:
    projects = ctx.plan.projects.unit(ctx.tenant.name, ctx.cluster.name)
    if not projects:
        return []
    objects = [_leaf_queue(ctx, own_queue_name(ctx.tenant.name))]
    for project in projects:
        inner = replace(ctx, project=project)
        objects.append(_leaf_queue(inner, project.queue))
        objects += queue_readers(inner, project.namespace, [project.queue], project.members)
        objects += [obj for renderer in NAMESPACE_RENDERERS for obj in renderer(inner)]
    return objects


def _leaf_queue(ctx: TenantContext, name: str) -> dict:
    """A queue under the tenant's, capped at its namespace's part of the tenant's share."""
    return ctx.obj(QUEUE_API, "Queue", name, namespaced=False, spec={
        "weight": 1,
        "reclaimable": ctx.tenant.queue.reclaimable,
        "capability": scheduled(quota_amounts(ctx.namespace_quota, ctx.cluster)),
        "parent": ctx.tenant.name,
    })
