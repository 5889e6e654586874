"""Workloads decided per unit (one tenant on one cluster): datasets placed, storage claims,
jobs, schedules, pipelines, published templates and notebooks resolved and checked. Render
draws a unit from its `UnitWorkloads` alone; every failure names the file and field path.

The concerns live beside this module: templates, jobs, datasets, storage, notebooks and
pipelines; this one only runs them in order and files their results by unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.errors import Problems
from compiler.model import Specs
from compiler.plan.datasets import DatasetPlacement, Reader, check_cache_capacity, place_caches, place_datasets
from compiler.plan.jobs import ResolvedJob, ResolvedSchedule, publish_template, resolve_job
from compiler.plan.notebooks import ResolvedNotebook, resolve_notebooks
from compiler.plan.pipelines import (
    ResolvedPipeline,
    check_pipelines,
    check_template_names,
    gated_flow,
    resolve_pipeline,
)
from compiler.plan.pod_extras import check_pod_templates
from compiler.plan.scope import TenantScope
from compiler.plan.serving import ResolvedServing, resolve_servings
from compiler.plan.storage import ResolvedClaim, check_storage, home_users, resolve_claims
from compiler.plan.templates import check_extends


@dataclass
class UnitWorkloads:
    """Everything one tenant runs on one cluster, decided: what render draws for the unit."""

    datasets: list[DatasetPlacement] = field(default_factory=list)
    claims: list[ResolvedClaim] = field(default_factory=list)
    jobs: list[ResolvedJob] = field(default_factory=list)  # Volcano Jobs (a gated GPU job is a flow)
    schedules: list[ResolvedSchedule] = field(default_factory=list)  # Volcano CronJobs
    # JobFlows: pipelines and gated GPU jobs and schedules; with a schedule, started by a CronJob
    flows: list[ResolvedPipeline] = field(default_factory=list)
    templates: list[ResolvedJob] = field(default_factory=list)  # published: a JobTemplate 'tpl-<name>' each
    notebooks: list[ResolvedNotebook] = field(default_factory=list)
    servings: list[ResolvedServing] = field(default_factory=list)  # Deployments scaled by an HPA


@dataclass
class WorkloadPlan:
    """The workloads of every unit, and two indexes over them."""

    units: dict[tuple[str, str], UnitWorkloads] = field(default_factory=dict)  # (tenant, cluster)
    # (tenant, 'job'|'schedule'|'step'|'template', name) -> resolved job; steps are named
    # '<pipeline>/<step>', published templates '<template>@<cluster>'
    resolved: dict[tuple[str, str, str], ResolvedJob] = field(default_factory=dict)
    # tenant -> the other tenants whose specs decided its units (owners of what it imports)
    reads: dict[str, set[str]] = field(default_factory=dict)

    def unit(self, tenant: str, cluster: str) -> UnitWorkloads:
        """A unit's workloads (empty when it has none)."""
        return self.units.get((tenant, cluster)) or UnitWorkloads()

    def unit_for(self, tenant: str, cluster: str) -> UnitWorkloads:
        """A unit's workloads, created when it has none yet (while planning)."""
        return self.units.setdefault((tenant, cluster), UnitWorkloads())

    def index(self, kind: str, name: str, job: ResolvedJob) -> None:
        self.resolved[(job.tenant, kind, name)] = job


def plan_workloads(specs: Specs, quotas: dict, problems: Problems) -> WorkloadPlan:
    plan = WorkloadPlan()
    check_pod_templates(specs, problems)
    placed = place_datasets(specs, quotas, problems)
    plan.reads = placed.reads
    for spec in specs.tenants:
        scope = TenantScope(spec, specs, quotas.get(spec.tenant.name, {}), placed.placements, problems)
        _plan_tenant(plan, scope)
    # Caches go next to the pods that read them, so they are placed once every pod is resolved.
    place_caches(specs, placed, readers(plan), problems)
    for (tenant, cluster), datasets in placed.placements.items():
        plan.unit_for(tenant, cluster).datasets = datasets
    check_cache_capacity(specs, placed.placements, problems)
    check_storage(specs, quotas, placed.placements, problems)
    return plan


def readers(plan: WorkloadPlan) -> list[Reader]:
    """Every pod template that mounts a dataset, with the GPU model of its pool (None: CPU)."""
    out = []
    for (tenant, cluster), unit in sorted(plan.units.items()):
        jobs = unit.jobs + [s.job for s in unit.schedules]
        jobs += [step.job for flow in unit.flows for step in flow.steps if step.job is not None]  # gates read none
        for job in jobs:
            for role in job.roles:
                model = job.gpu_model if role.pool == "gpu" else None
                out += [Reader(tenant, cluster, use.name, model, use.writable) for use in job.datasets]
        pods: list[ResolvedNotebook | ResolvedServing] = [*unit.notebooks, *unit.servings]
        for pod in pods:
            model = pod.gpu_model if pod.pool == "gpu" else None
            out += [Reader(tenant, cluster, use.name, model, use.writable) for use in pod.datasets]
    return out


def _plan_tenant(plan: WorkloadPlan, scope: TenantScope) -> None:
    spec, tenant = scope.spec, scope.tenant
    clusters = list(scope.shares)
    for cluster in clusters:
        homes = home_users(spec.tenant, cluster, clusters)
        plan.unit_for(tenant, cluster).claims = resolve_claims(spec, scope.specs.platform.storage, homes)
    for notebook in resolve_notebooks(scope):
        plan.unit_for(tenant, notebook.cluster).notebooks.append(notebook)
    for serving in resolve_servings(scope):
        plan.unit_for(tenant, serving.cluster).servings.append(serving)
    check_pipelines(spec, scope.problems)
    check_extends(spec, scope.specs, scope.problems)
    for i, job in enumerate(spec.tenant.jobs):
        resolved = resolve_job(scope, job.name, job, f"jobs[{i}]")
        if resolved is not None:
            unit = plan.unit_for(tenant, resolved.cluster)
            if resolved.gated_by_flow:
                flow = gated_flow(scope, resolved, f"jobs[{i}]")
                unit.flows.append(flow)
                resolved = flow.job
            else:
                unit.jobs.append(resolved)
            plan.index("job", job.name, resolved)
    for i, schedule in enumerate(spec.tenant.schedules):
        resolved = resolve_job(scope, schedule.name, schedule.job, f"schedules[{i}].job")
        if resolved is not None:
            unit = plan.unit_for(tenant, resolved.cluster)
            if resolved.gated_by_flow:
                flow = gated_flow(scope, resolved, f"schedules[{i}]", schedule)
                unit.flows.append(flow)
                resolved = flow.job
            else:
                unit.schedules.append(ResolvedSchedule(schedule, resolved))
            plan.index("schedule", schedule.name, resolved)
    for i, pipeline in enumerate(spec.tenant.pipelines):
        flow = resolve_pipeline(scope, i, pipeline)
        for step in flow.steps:
            assert step.job is not None
            plan.index("step", f"{pipeline.name}/{step.step}", step.job)
        plan.unit_for(tenant, flow.cluster).flows.append(flow)
    for i, template in enumerate(spec.tenant.templates):
        if template.publish:
            for resolved in publish_template(scope, template.name, f"templates[{i}]"):
                plan.index("template", f"{template.name}@{resolved.cluster}", resolved)
                plan.unit_for(tenant, resolved.cluster).templates.append(resolved)
    for cluster in scope.shares:
        unit = plan.unit(tenant, cluster)
        check_template_names(scope, unit.flows, [t.name for t in unit.templates])
