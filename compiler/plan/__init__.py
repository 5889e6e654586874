"""Plan stage: what each cluster gets from each tenant, decided and checked across files.

The plan splits quotas over clusters, checks what needs more than one file (capacity x
overcommit, GPU models, queue parents and cycles, network peers, container defaults, dataset
sharing, storage and cache), and resolves every workload to what its unit draws: render reads
`Plan.workloads.unit(tenant, cluster)` and decides nothing itself. Every problem names the
tenant file and field it comes from.

    quota.py, split.py   quota shares per cluster, capacity, guarantees
    queues.py, tenants.py  the queue tree; network peers and container defaults
    workloads.py         runs the workload concerns below and files them by unit:
      datasets.py, storage.py, templates.py, jobs.py, pipelines.py, notebooks.py, serving.py
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.platform import Platform
from compiler.model.tenant import Tenant
from compiler.plan.datagate import DataWait
from compiler.plan.datasets import CacheSite, DatasetPlacement, DatasetUse, caches_read
from compiler.plan.guardrails import GuardrailPlan, plan_guardrails
from compiler.plan.jobs import ResolvedJob, ResolvedRole, ResolvedSchedule
from compiler.plan.notebooks import ResolvedNotebook
from compiler.plan.pipelines import DataGate, FlowSchedule, ResolvedPipeline, ResolvedStep
from compiler.plan.projects import ProjectPlan, ResolvedProject, plan_projects
from compiler.plan.queues import check_queue_parents, queue_parents
from compiler.plan.quota import (
    Shares,
    check_capacity,
    check_gpu_models_apart,
    guarantee_within_quota,
    quota_amounts,
    resource_amounts,
    split_quota,
    usage_on,
)
from compiler.plan.quota_scopes import ScopeShares, plan_quota_scopes
from compiler.plan.resource_groups import check_cached_reads, check_resource_groups
from compiler.plan.serving import ResolvedServing
from compiler.plan.storage import ResolvedClaim
from compiler.plan.tenants import (
    LimitRangeLimits,
    check_allowed_from,
    check_container_defaults,
    container_limits,
    tenants_letting_in,
)
from compiler.plan.workloads import UnitWorkloads, WorkloadPlan, plan_workloads, readers

__all__ = [
    "Plan", "make_plan", "cluster_usage", "quota_amounts", "resource_amounts", "WorkloadPlan", "UnitWorkloads",
    "CacheSite", "DatasetPlacement", "DatasetUse", "caches_read", "ResolvedClaim", "ResolvedJob", "ResolvedRole",
    "ResolvedSchedule", "ResolvedPipeline", "ResolvedStep", "ResolvedNotebook", "DataWait", "DataGate", "FlowSchedule",
    "ResolvedServing",
    "ResolvedProject", "ProjectPlan",
]


@dataclass
class Plan:
    """The specs with every decision taken: quota shares, guarantees and workloads per unit."""

    specs: Specs
    quotas: dict[str, Shares] = field(default_factory=dict)  # tenant -> cluster -> that cluster's share
    guarantees: dict[str, Shares] = field(default_factory=dict)
    limits: dict[str, LimitRangeLimits] = field(default_factory=dict)  # tenant -> its LimitRange's limits
    queue_parents: dict[str, str] = field(default_factory=dict)  # tenant -> parent of its queue
    platform_queue_parents: dict[str, str] = field(default_factory=dict)  # platform queue -> parent
    workloads: WorkloadPlan = field(default_factory=WorkloadPlan)
    guardrails: GuardrailPlan | None = None  # None: the platform has no guardrails section
    letting_in: dict[str, list[str]] = field(default_factory=dict)  # tenant -> tenants whose allowFromTenants name it
    projects: ProjectPlan = field(default_factory=ProjectPlan)
    priority_scopes: ScopeShares = field(default_factory=dict)  # (tenant, cluster) -> priority class -> cap
    storage_scopes: ScopeShares = field(default_factory=dict)  # (tenant, cluster) -> storage class -> cap

    def clusters_of(self, tenant: str) -> list[str]:
        return list(self.quotas.get(tenant, {}))

    def tenants_on(self, cluster: str) -> list[TenantSpec]:
        return [t for t in self.specs.tenants if cluster in self.quotas.get(t.tenant.name, {})]

    def tenants_read_by(self, tenant: str) -> list[str]:
        """The other tenants whose specs decided this tenant's units (the owners of the datasets
        it imports, explicitly or as platform global datasets, and the tenants that let it in over
        the network), as the plan recorded while deciding them. The unit cache keys each unit on
        their specs too."""
        return sorted((self.workloads.reads.get(tenant, set()) | set(self.letting_in.get(tenant, ()))
                       | set(self.project_peers(tenant))) - {tenant})

    def project_peers(self, tenant: str) -> list[str]:
        """The tenants it lets in that have projects: its policies name their namespaces."""
        spec = self.specs.tenant(tenant)
        peers = spec.tenant.network.allow_from_tenants if spec else []
        return [t for t in peers if len(self.projects.namespaces_of(t)) > 1]

    def egress_tenants(self, tenant: str, cluster: str) -> list[str]:
        """The tenants on `cluster` that let `tenant` in: where its pods' egress must be open."""
        return [t for t in self.letting_in.get(tenant, []) if cluster in self.quotas.get(t, {})]


def make_plan(specs: Specs, problems: Problems, previous: Plan | None = None) -> Plan:
    """Every decision and check across files. `previous`, a plan this process made without
    problems, lends what it decided for each tenant alone (quota and guarantee shares, container
    limits and their check) to every tenant whose model is the very object it planned, when the
    platform's model is too: those are functions of the two frozen models only (review plans
    two revisions that share most of their models; half of planning 1,000 tenants)."""
    plan = Plan(specs)
    platform = specs.platform
    lent = _decided_alone(previous, platform)
    for spec in specs.tenants:
        tenant, file = spec.tenant, spec.source.path
        if lent.get(tenant.name) is tenant:
            assert previous is not None
            _take_decided_alone(plan, previous, tenant.name)
            continue
        shares = split_quota(tenant, platform, file, problems)
        plan.quotas[tenant.name] = shares
        # A guarantee is split in proportion to the quota shares, which only exist for what the
        # quota has: check it fits the quota first, and split only a guarantee that does.
        if tenant.queue.guarantee is not None and guarantee_within_quota(spec, problems):
            plan.guarantees[tenant.name] = split_quota(
                tenant, platform, file, problems, total=tenant.queue.guarantee,
                field="queue.guarantee", weights_by=shares)
        check_container_defaults(spec, specs, problems)
        plan.limits[tenant.name] = container_limits(spec, specs)
    check_capacity(specs, plan.quotas, problems)
    check_gpu_models_apart(specs, plan.quotas, problems)
    check_allowed_from(specs, problems)
    plan.letting_in = tenants_letting_in(specs)
    check_queue_parents(specs, plan.quotas, problems)
    plan.queue_parents, plan.platform_queue_parents = queue_parents(specs)
    plan.projects = plan_projects(specs, plan.quotas, problems)
    plan.priority_scopes, plan.storage_scopes = plan_quota_scopes(specs, plan.quotas, problems)
    # Workloads run in the tenant's own namespace: they are checked against its part of the quota.
    plan.workloads = plan_workloads(specs, plan.projects.own_namespace_quotas(plan.quotas), problems)
    check_resource_groups(specs, plan.quotas, problems)
    check_cached_reads(specs, plan.workloads, readers(plan.workloads), problems)
    datasets = {key: unit.datasets for key, unit in plan.workloads.units.items()}
    own_queues = {t.tenant.name: plan.projects.own_queue(t.tenant.name) for t in specs.tenants}
    plan.guardrails = plan_guardrails(specs, plan.quotas, datasets, problems, own_queues)
    return plan


def _decided_alone(previous: Plan | None, platform: Platform) -> dict[str, Tenant]:
    """Tenant name -> the model `previous` planned it from, when `previous` planned `platform`."""
    if previous is None or previous.specs.platform is not platform:
        return {}
    return {spec.tenant.name: spec.tenant for spec in previous.specs.tenants}


def _take_decided_alone(plan: Plan, previous: Plan, name: str) -> None:
    """A tenant's decisions of its own from `previous` (copied one level: plans stay apart)."""
    plan.quotas[name] = dict(previous.quotas[name])
    if name in previous.guarantees:
        plan.guarantees[name] = dict(previous.guarantees[name])
    plan.limits[name] = dict(previous.limits[name])


def cluster_usage(plan: Plan, cluster_name: str) -> dict[str, Decimal]:
    """Sum of tenant quota shares on a cluster per Kubernetes resource name."""
    return usage_on(plan.quotas, plan.specs.platform, cluster_name)
