"""Plan stage: what each cluster gets from each tenant, and the checks across tenants.

Checks that need more than one file live here: capacity x overcommit per cluster, GPU models,
unknown allowed-from tenants, queue parents and cycles, container defaults within the
platform's maxima. Every problem names the tenant file and field it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.tenant import Quota
from compiler.plan.guardrails import GuardrailPlan, plan_guardrails
from compiler.plan.quota import RESOURCE_NAMES, SCALARS, split_quota
from compiler.plan.workloads import WorkloadPlan, plan_workloads
from compiler.quantity import EXACT, Quantity


@dataclass
class Plan:
    specs: Specs
    # tenant -> cluster -> that cluster's share
    quotas: dict[str, dict[str, Quota]] = field(default_factory=dict)
    guarantees: dict[str, dict[str, Quota]] = field(default_factory=dict)
    workloads: WorkloadPlan = field(default_factory=WorkloadPlan)
    guardrails: GuardrailPlan | None = None  # None: the platform has no guardrails section

    def clusters_of(self, tenant: str) -> list[str]:
        return list(self.quotas.get(tenant, {}))

    def tenants_on(self, cluster: str) -> list[TenantSpec]:
        return [t for t in self.specs.tenants if cluster in self.quotas.get(t.tenant.name, {})]


def make_plan(specs: Specs, problems: Problems) -> Plan:
    plan = Plan(specs)
    platform = specs.platform
    for spec in specs.tenants:
        tenant, file = spec.tenant, spec.source.path
        shares = split_quota(tenant, platform, file, problems)
        plan.quotas[tenant.name] = shares
        # A guarantee is split in proportion to the quota shares, which only exist for what the
        # quota has: check it fits the quota first, and split only a guarantee that does.
        if tenant.queue.guarantee is not None and _check_guarantee_within_quota(spec, problems):
            plan.guarantees[tenant.name] = split_quota(
                tenant, platform, file, problems, total=tenant.queue.guarantee,
                field="queue.guarantee", weights_by=shares)
        _check_container_defaults(spec, specs, problems)
    _check_capacity(plan, problems)
    _check_allowed_from(specs, problems)
    _check_queue_parents(plan, problems)
    plan.workloads = plan_workloads(specs, plan.quotas, problems)
    plan.guardrails = plan_guardrails(specs, plan.quotas, plan.workloads.datasets, problems)
    return plan


def cluster_usage(plan: Plan, cluster_name: str) -> dict[str, Decimal]:
    """Sum of tenant quota shares on a cluster per Kubernetes resource name."""
    cluster = plan.specs.platform.cluster(cluster_name)
    models = cluster.gpu_models() if cluster else {}
    used: dict[str, Decimal] = {}
    for tenant, shares in plan.quotas.items():
        share = shares.get(cluster_name)
        if share is None:
            continue
        for name, amount in resource_amounts(share, models).items():
            used[name] = EXACT.add(used.get(name, Decimal(0)), amount.value)
    return used


def resource_amounts(share: Quota, gpu_resources: dict[str, str]) -> dict[str, Quantity]:
    """A quota share as Kubernetes resource name -> amount (GPU models summed per resource)."""
    out: dict[str, Quantity] = {}
    for resource in SCALARS:
        value = getattr(share, resource)
        if value is not None:
            out[RESOURCE_NAMES[resource]] = value
    for model, count in sorted(share.gpu.items()):
        name = gpu_resources.get(model, "nvidia.com/gpu")
        out[name] = out[name] + count if name in out else count
    return out


def _check_capacity(plan: Plan, problems: Problems) -> None:
    for cluster in plan.specs.platform.clusters:
        for resource, used in sorted(cluster_usage(plan, cluster.name).items()):
            capacity = cluster.capacity.get(resource)
            if capacity is None:
                if resource in ("cpu", "memory") or "/" in resource:
                    problems.add(plan.specs.platform_source.path, f"clusters.{cluster.name}.capacity.{resource}",
                                 f"tenants ask for {resource} but the cluster declares no capacity for it",
                                 "declare the cluster's capacity for this resource")
                continue
            limit = EXACT.multiply(capacity.value, cluster.ratio(resource))
            if used > limit:
                tenants = [t for t, s in plan.quotas.items() if cluster.name in s]
                problems.add(plan.specs.platform_source.path, f"clusters.{cluster.name}.capacity.{resource}",
                             f"tenant quotas sum to {Quantity(used, capacity.fmt)} but capacity x overcommit is "
                             f"{Quantity(limit, capacity.fmt)} (tenants: {', '.join(sorted(tenants))})",
                             "lower a tenant's quota, move it to another cluster or raise capacity/overcommit")


def _check_allowed_from(specs: Specs, problems: Problems) -> None:
    names = {t.tenant.name for t in specs.tenants}
    for spec in specs.tenants:
        for i, other in enumerate(spec.tenant.network.allow_from_tenants):
            if other not in names:
                problems.add(spec.source.path, f"network.allowFromTenants[{i}]", f"unknown tenant '{other}'",
                             "name an existing tenant (its file stem)")


def _check_queue_parents(plan: Plan, problems: Problems) -> None:
    specs = plan.specs
    platform_queues = {q.name: q.parent for q in specs.platform.queues}
    tenant_parents = {t.tenant.name: t.tenant.queue.parent for t in specs.tenants}
    for name, parent in platform_queues.items():
        if parent and parent not in platform_queues and parent != specs.platform.root_queue:
            problems.add(specs.platform_source.path, f"queues.{name}.parent", f"unknown queue '{parent}'",
                         "name the root queue or another platform queue")
    for spec in specs.tenants:
        parent = spec.tenant.queue.parent
        if parent is None or parent == specs.platform.root_queue or parent in platform_queues:
            continue
        if parent not in tenant_parents:
            problems.add(spec.source.path, "queue.parent", f"unknown queue '{parent}'",
                         "name a platform queue, another tenant, or leave it out for the root queue")
            continue
        missing = [c for c in plan.clusters_of(spec.tenant.name) if c not in plan.clusters_of(parent)]
        if missing:
            problems.add(spec.source.path, "queue.parent",
                         f"parent tenant '{parent}' is not placed on {', '.join(missing)}",
                         "place the parent on every cluster of its children")
    graph = {**platform_queues, **tenant_parents}
    for start in sorted(graph):
        seen, node = [start], graph.get(start)
        while node in graph and node not in seen:
            seen.append(node)
            node = graph.get(node)
        if node == start:
            cycle = " -> ".join(seen + [start])
            owner = specs.tenant(start)
            problems.add(owner.source.path if owner else specs.platform_source.path,
                         "queue.parent" if owner else f"queues.{start}.parent",
                         f"queue parents form a cycle: {cycle}", "break the cycle; queues form a tree under the root")


def _check_guarantee_within_quota(spec: TenantSpec, problems: Problems) -> bool:
    """True when the queue guarantee fits the quota, resource by resource."""
    guarantee, quota = spec.tenant.queue.guarantee, spec.tenant.quota
    assert guarantee is not None
    before = len(problems.items)
    for resource in SCALARS:
        g, q = getattr(guarantee, resource), getattr(quota, resource)
        if g is not None and (q is None or g.value > q.value):
            problems.add(spec.source.path, f"queue.guarantee.{resource}",
                         f"guarantee {g} exceeds the quota {q if q is not None else '(none)'}",
                         "a queue cannot be guaranteed more than its quota")
    for model, g in guarantee.gpu.items():
        q = quota.gpu.get(model)
        if q is None or g.value > q.value:
            problems.add(spec.source.path, f"queue.guarantee.gpu.{model}",
                         f"guarantee {g} exceeds the quota {q if q is not None else '(none)'}",
                         "a queue cannot be guaranteed more than its quota")
    return len(problems.items) == before


def _check_container_defaults(spec: TenantSpec, specs: Specs, problems: Problems) -> None:
    maxima = specs.platform.defaults.limit_range.max
    defaults = spec.tenant.container_defaults
    for field_name, values in (("default", defaults.default), ("defaultRequest", defaults.default_request)):
        for resource, value in values.items():
            ceiling = maxima.get(resource)
            if ceiling is not None and value.value > ceiling.value:
                problems.add(spec.source.path, f"containerDefaults.{field_name}.{resource}",
                             f"{value} is above the platform maximum {ceiling}", "lower it to the platform maximum or below")
    for resource, request in defaults.default_request.items():
        limit = defaults.default.get(resource)
        if limit is not None and request.value > limit.value:
            problems.add(spec.source.path, f"containerDefaults.defaultRequest.{resource}",
                         f"request {request} is above the default limit {limit}", "a request cannot exceed its limit")
