"""Volcano jobs resolved: a template merged with the job's overrides, each role sized and given
a node pool, the GPU model and its extended resource chosen, the datasets and volumes it
mounts decided, and the whole gang checked against the tenant's quota and the cluster.
Jobs, schedules, pipeline steps and published templates are all resolved here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compiler.kinds import AGENT_RESOURCES
from compiler.model.platform import Cluster
from compiler.model.tenant import Quota
from compiler.model.workloads import JobSpec, Schedule
from compiler.plan.datagate import DataWait, resolve_wait
from compiler.plan.datasets import DatasetUse, dataset_uses
from compiler.plan.pod_extras import PodExtras, check_plain_env, resolve_pod_extras
from compiler.plan.quota import DEFAULT_GPU_RESOURCE, placed_clusters
from compiler.plan.scope import TenantScope
from compiler.plan.storage import PROJECT_CLAIM
from compiler.plan.templates import merge, resolve_template
from compiler.quantity import Quantity

FRAMEWORK_ROLES = {
    "pytorch": {"master", "worker"},
    "tensorflow": {"ps", "worker", "chief", "evaluator"},
    "mpi": {"launcher", "worker"},
}


@dataclass(frozen=True)
class ResolvedRole:
    """One role of a job (a Volcano task): its pods' image, command, size and node pool."""

    name: str
    replicas: int
    image: str
    command: list[str] | None
    args: list[str] | None
    env: dict[str, str]
    cpu: Decimal | None
    memory: Decimal | None
    gpu: int
    ports: list[int]
    pool: str


@dataclass(frozen=True)
class ResolvedJob:
    """A job as it runs on its cluster: everything render draws, decided and checked."""

    tenant: str
    name: str
    cluster: str
    framework: str | None
    roles: list[ResolvedRole]
    min_available: int
    max_retry: int | None
    ttl: int | None
    priority_class: str | None
    gpu_model: str | None
    gpu_resource: str  # the extended resource of gpu_model on this cluster
    datasets: list[DatasetUse]
    wait: DataWait | None  # datasets to wait for before starting, and where the wait runs
    project_claim: str | None  # the project volume's claim, when the job mounts it
    source: str
    pod: PodExtras = PodExtras()  # env and volumes by reference, sidecars, policies (compiler.plan.pod_extras)

    @property
    def gated_by_flow(self) -> bool:
        """Whether the job runs second in a JobFlow, after a CPU job that waits for its data."""
        return self.wait is not None and self.wait.gate == "flow"


@dataclass(frozen=True)
class ResolvedSchedule:
    """A job run on a cron schedule; timing and history are drawn as the spec writes them."""

    spec: Schedule
    job: ResolvedJob


def resolve_job(scope: TenantScope, name: str, job: JobSpec, where: str,
                fields_at: str | None = None, extras_at: Mapping[str, str] | None = None) -> ResolvedJob | None:
    """`where` holds template and roles; `fields_at` (default `where`) the job-wide fields
    (cluster, gpuModel, datasets, ...), which pipeline steps take from their pipeline;
    `extras_at` the pod extras written elsewhere (field name -> path: a step's that are its
    pipeline's)."""
    at = fields_at or where
    template = resolve_template(job.template, scope.spec, scope.specs, scope.problems, f"{where}.template")
    if template is None:
        return None
    merged = merge(template, job.model_dump(exclude_none=True, include={"roles", "max_retry"}))
    cluster = tenant_cluster(scope, job.cluster, at)
    if cluster is None:
        return None
    framework = merged.get("framework")
    roles = _resolve_roles(scope, merged, job, framework, cluster, where)
    gpu_model = _gpu_model(scope, job.gpu_model, roles, cluster, at)
    _check_job_fields(scope, job, roles, at)
    wait = resolve_wait(scope, job, any(r.gpu for r in roles), cluster, at)
    resolved = ResolvedJob(
        tenant=scope.tenant, name=name, cluster=job.cluster, framework=framework, roles=roles,
        min_available=job.min_available or sum(r.replicas for r in roles), max_retry=merged.get("max_retry"),
        ttl=merged.get("ttl_seconds_after_finished"), priority_class=job.priority_class, gpu_model=gpu_model,
        gpu_resource=cluster.gpu_models().get(gpu_model or "", DEFAULT_GPU_RESOURCE),
        datasets=dataset_uses(job.datasets, scope.datasets_on(job.cluster)),
        wait=wait,
        project_claim=PROJECT_CLAIM if "project" in job.volumes else None, source=scope.file,
        pod=resolve_pod_extras(scope, job, where, {r.name: r.memory for r in roles}, extras_at))
    _check_fits(scope, resolved, cluster, where)
    return resolved


def publish_template(scope: TenantScope, name: str, where: str) -> list[ResolvedJob]:
    """A published template, resolved on every cluster of the tenant where it fits (a
    JobTemplate there); when it fits none, the problems of the first cluster are reported."""
    fitting = []
    for cluster in scope.shares:
        trial = scope.trial()
        resolved = resolve_job(trial, name, JobSpec(template=name, cluster=cluster), where)
        if resolved is not None and not trial.problems:
            fitting.append(resolved)
    if not fitting:
        resolve_job(scope, name, JobSpec(template=name, cluster=next(iter(scope.shares), "?")), where)
    return fitting


def tenant_cluster(scope: TenantScope, name: str, at: str) -> Cluster | None:
    """The cluster `name` when the tenant is placed on it, else reported at `at`.cluster."""
    cluster = scope.specs.platform.cluster(name)
    clusters = placed_clusters(scope.spec.tenant, scope.specs.platform)
    if cluster is None or name not in clusters:
        scope.problems.add(scope.file, f"{at}.cluster", f"'{name}' is not a cluster of this tenant",
                           f"use one of: {', '.join(clusters)}")
        return None
    return cluster


def _resolve_roles(scope: TenantScope, merged: dict[str, Any], job: JobSpec, framework: str | None,
                   cluster: Cluster, where: str) -> list[ResolvedRole]:
    roles: list[ResolvedRole] = []
    own_index = {r.name: i for i, r in enumerate(job.roles)}
    for role in merged.get("roles", []):
        # A role the job overrides is named by its index in the job's roles; one that comes
        # from the template only, by name (there is no index of it in this file).
        role_at = f"{where}.roles[{own_index[role['name']]}]" if role["name"] in own_index \
            else f"{where}.roles({role['name']})"
        resolved = _resolve_role(scope, role, framework, cluster, role_at)
        if resolved:
            roles.append(resolved)
    if not merged.get("roles"):
        scope.problems.add(scope.file, f"{where}.roles", "the job has no roles",
                           "give the template or the job at least one role")
    return roles


def _resolve_role(scope: TenantScope, role: dict, framework: str | None, cluster: Cluster,
                  where: str) -> ResolvedRole | None:
    file, problems, platform = scope.file, scope.problems, scope.specs.platform
    if framework and role["name"] not in FRAMEWORK_ROLES[framework]:
        problems.add(file, where, f"role '{role['name']}' does not belong to a {framework} job",
                     f"use: {', '.join(sorted(FRAMEWORK_ROLES[framework]))}")
    image = role.get("image")
    if not image:
        problems.add(file, f"{where}.image", "no image for this role", "set image in the template or the job")
        return None
    if not platform.image_allowed(image):
        problems.add(file, f"{where}.image", f"image '{image}' is not from an allowed registry",
                     f"use one of: {', '.join(platform.allowed_registries)}")
    resources = {k: Quantity.parse(v).value for k, v in role.get("resources", {}).items() if v is not None}
    check_container_max(scope, resources, where)
    check_plain_env(scope, role.get("env", {}), where)
    gpu = int(resources.get("gpu", 0))
    pool = node_pool(scope, role.get("pool"), gpu, cluster, where)
    return ResolvedRole(
        name=role["name"], replicas=role.get("replicas", 1), image=image, command=role.get("command"),
        args=role.get("args"), env=role.get("env", {}),
        cpu=resources.get("cpu"), memory=resources.get("memory"),
        gpu=gpu, ports=role.get("ports", []), pool=pool)


def check_container_max(scope: TenantScope, resources: dict[str, Decimal], where: str) -> None:
    """Each resource of one container within the platform's LimitRange maximum."""
    for resource, ceiling in scope.specs.platform.defaults.limit_range.max.items():
        if resource in resources and resources[resource] > ceiling.value:
            scope.problems.add(scope.file, f"{where}.resources.{resource}", f"{_fmt(resources[resource])} per pod is "
                               f"above the platform's container maximum {ceiling}", "the LimitRange would reject it; "
                               "lower it")


def node_pool(scope: TenantScope, wanted: str | None, gpu: int, cluster: Cluster, where: str) -> str:
    """The role's node pool: as asked, else gpu for GPU work and cpu for the rest."""
    pool = wanted or ("gpu" if gpu else "cpu")
    if pool == "cpu" and gpu:
        scope.problems.add(scope.file, f"{where}.pool", "a cpu-pool role cannot ask for GPUs",
                           "set pool: gpu or remove resources.gpu")
    if pool == "gpu" and not gpu:
        scope.problems.add(scope.file, f"{where}.pool", "a gpu-pool role must ask for GPUs (CPU work stays off GPU "
                           "nodes)", "set resources.gpu or pool: cpu")
    if not cluster.pools(pool):
        scope.problems.add(scope.file, f"{where}.pool", f"cluster '{cluster.name}' has no {pool} pool",
                           "run it on a cluster that has one")
    return pool


def _gpu_model(scope: TenantScope, wanted: str | None, roles: list[ResolvedRole], cluster: Cluster,
               where: str) -> str | None:
    return gpu_model_for(scope, wanted, any(r.gpu for r in roles), cluster, where)


def gpu_model_for(scope: TenantScope, wanted: str | None, uses_gpus: bool, cluster: Cluster,
                  where: str) -> str | None:
    """The GPU model of GPU work (`wanted`, or the tenant's only model on the cluster), reported
    at `where`.gpuModel when there is none or the cluster has no such GPUs."""
    if not uses_gpus:
        return wanted
    share = scope.shares.get(cluster.name)
    models = sorted(share.gpu) if share else []
    if wanted is None:
        if len(models) == 1:
            return models[0]
        scope.problems.add(scope.file, f"{where}.gpuModel", "the job asks for GPUs but names no GPU model",
                           f"set gpuModel to one of: {', '.join(models) or '(the tenant has no GPUs on this cluster)'}")
        return None
    if wanted not in cluster.gpu_models():
        scope.problems.add(scope.file, f"{where}.gpuModel", f"cluster '{cluster.name}' has no {wanted} GPUs",
                           f"use one of: {', '.join(sorted(cluster.gpu_models())) or '(none)'}")
        return None
    return wanted


def _check_job_fields(scope: TenantScope, job: JobSpec, roles: list[ResolvedRole], at: str) -> None:
    """minAvailable, priorityClass, datasets and volumes of a job."""
    file, problems = scope.file, scope.problems
    total_replicas = sum(r.replicas for r in roles)
    if job.min_available and job.min_available > total_replicas:
        problems.add(file, f"{at}.minAvailable",
                     f"{job.min_available} is more than the job's {total_replicas} replicas",
                     "the gang cannot need more pods than the job has")
    classes = scope.specs.platform.priority_classes
    if job.priority_class and job.priority_class not in classes:
        problems.add(file, f"{at}.priorityClass", f"unknown priority class '{job.priority_class}'",
                     f"use one of: {', '.join(classes) or '(none declared)'}")
    placed = scope.datasets_on(job.cluster)
    for i, ds in enumerate(job.datasets):
        if not any(p.local_name == ds for p in placed):
            problems.add(file, f"{at}.datasets[{i}]", f"no dataset '{ds}' in this tenant on {job.cluster}",
                         "declare it under datasets, import it, or run the job on a cluster that has it")
    for i, volume in enumerate(job.volumes):
        if volume == "project" and scope.spec.tenant.storage.project is None:
            problems.add(file, f"{at}.volumes[{i}]", "the tenant has no project volume", "declare storage.project")
        if volume == "home":
            problems.add(file, f"{at}.volumes[{i}]", "jobs cannot mount home volumes (they belong to one user)",
                         "mount the project volume instead")


def _check_fits(scope: TenantScope, job: ResolvedJob, cluster: Cluster, where: str) -> None:
    """The whole gang must fit the tenant's quota on the cluster and the cluster itself."""
    pods = sum(r.replicas for r in job.roles)
    share = scope.shares.get(cluster.name)
    if share is not None and share.pods is not None and pods > share.pods.value:
        scope.problems.add(scope.file, where, f"needs {pods} pods but the tenant's pods quota on {cluster.name} is "
                           f"{share.pods}", "lower replicas or raise quota.pods")
    for resource, need in _gang_totals(job, pods).items():
        if not need or (resource == "gpu" and job.gpu_model is None):
            continue  # a missing or unknown GPU model is reported at gpuModel
        have, label, capacity = _limits(job, resource, share, cluster)
        if have is None or need > have.value:
            scope.problems.add(scope.file, where, f"needs {resource} {_fmt(need)} in total but the tenant's "
                               f"{label} quota on {cluster.name} is {have if have is not None else 0}",
                               "lower replicas or resources, or raise the quota")
        if capacity is not None and need > capacity.value:
            scope.problems.add(scope.file, where, f"the gang needs {resource} {_fmt(need)} but {cluster.name} has "
                               f"{capacity} in all", "a gang-scheduled job must fit the cluster at once")


def _gang_totals(job: ResolvedJob, pods: int) -> dict[str, Decimal]:
    """cpu, memory and GPUs of all the job's pods, the agent sidecar and the platform's
    containers the job adds included in every pod."""
    extra = job.pod.per_pod()
    return {
        "cpu": sum((r.cpu * r.replicas for r in job.roles if r.cpu is not None), Decimal(0))
        + (Quantity.parse(AGENT_RESOURCES["requests"]["cpu"]).value + extra["cpu"]) * pods,
        "memory": sum((r.memory * r.replicas for r in job.roles if r.memory is not None), Decimal(0))
        + (Quantity.parse(AGENT_RESOURCES["requests"]["memory"]).value + extra["memory"]) * pods,
        "gpu": Decimal(sum(r.gpu * r.replicas for r in job.roles)),
    }


def _limits(job: ResolvedJob, resource: str, share: Quota | None,
            cluster: Cluster) -> tuple[Quantity | None, str, Quantity | None]:
    """(the tenant's quota there, its name in messages, the cluster's capacity) of a resource."""
    if resource == "gpu":
        assert job.gpu_model is not None
        have = share.gpu.get(job.gpu_model) if share else None
        return have, f"gpu.{job.gpu_model}", cluster.capacity.get(job.gpu_resource)
    return (getattr(share, resource) if share else None), resource, cluster.capacity.get(resource)


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")
