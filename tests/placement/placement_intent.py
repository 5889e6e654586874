"""Where each workload of the example tenants is meant to run, read from the specs alone.

The intent comes from the tenant files and the platform file, with the rules those files
document, and never from what tenantc rendered (that is what the real scheduler checks):

- A job role runs on the `cpu` or `gpu` pools of its job's cluster: the role's `pool`
  (template field, "default: gpu when the role asks for GPUs"); roles merge by name along
  the template's `extends` chain, then with the job's overrides, field by field.
- A GPU role runs on the GPU pools of the job's `gpuModel` (a pipeline's for its steps).
  Where a spec names no model (notebooks, published templates), the models the tenant has
  GPU quota for on that cluster.
- A notebook runs on its `cluster` (default: the tenant's first cluster), on the GPU pools
  when its size asks for GPUs, else on the CPU pools; one with `running: false` runs nowhere.
- A job (or schedule) that waits for data (`waitForData`) and asks for GPUs runs its roles
  as above, but only after a one-pod CPU data gate: the gate runs on the `cpu` pools, before
  any GPU is taken ("data-gate"; the roles are "flow-job" / "flow-schedule").
- A flow with a schedule (a pipeline with `schedule`, or such a schedule) is started at each
  time by a small CPU pod on the `cpu` pools ("flow-runner").
- A published template (`publish: true`) is offered on every cluster of the tenant that has
  what its roles need.
- A dataset's caches (every cache runtime but `thin`, which keeps no cache) run next to the
  pods that read it, so that each reader can be placed next to a cache (README, "Datasets";
  Fluid places a runtime's workers by its Dataset's nodeAffinity and tolerations): on each
  cluster of the dataset a home cache on the CPU pools, named like the dataset, and for each
  GPU model whose pods read it there (jobs, schedules, pipeline steps and notebooks of any
  tenant, the owner's or an importer's) a cache on that model's pools, `<dataset>-<model>`
  (the model in lower case); each with the runtime's replicas and, when the dataset scales on
  a schedule, a small CPU pod per step. A pod reads a dataset from the cache on its own kind
  of pool: a GPU pod from its model's, every other pod from the home cache.
- Resource groups: a pool the platform file dedicates to a tenant (`tenant:`) takes that
  tenant's pods of its role (and GPU model) only, which then go nowhere else; every other pod,
  and every cache, goes to pools dedicated to no tenant.
- Nothing is meant for a cache pool (role `cache`: the platform model refuses them now) but cache
  workers, and CPU work is never meant for GPU pools.

Quota: the per-cluster share never exceeds the cluster's explicit amount (placement by
amounts) or, by weight, the weight's part of the total rounded up to a whole unit (GPUs: the
tenant's whole total); a tenant has GPUs on a cluster only for the models it has quota for
there and the cluster has pools for. GPU quota is per model: each model's GPUs are those of
the resource name its pools advertise (the platform's gpuResource), never another model's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from functools import cache
from pathlib import Path

from helpers import notebook_intents

from compiler.errors import Problems
from compiler.load.sources import read_sources
from compiler.model import Specs, build_specs
from compiler.model.platform import Cluster
from compiler.model.tenant import Tenant
from compiler.model.workloads import JobSpec, Role, Template

REPO = Path(__file__).resolve().parents[2]
JOB_KINDS = ("job", "schedule", "flow-job", "flow-schedule", "pipeline-step")  # job roles: they mount datasets
NEAR_CACHE_KINDS = (*JOB_KINDS, "notebook", "serving")  # pod templates that mount datasets


@dataclass(frozen=True)
class Intent:
    """One pod template (all replicas of one job role, a notebook, a dataset's cache workers)
    and the pools it is meant for."""

    cluster: str
    tenant: str
    kind: str          # notebook | job | schedule | flow-job | flow-schedule | data-gate | flow-runner |
    #                    pipeline-step | template | cache-scaler | cache-worker | serving
    workload: str      # the spec's name for it (job, schedule, pipeline/step, template, user, dataset)
    task: str          # role name; "notebook", "worker", "scale" for the others
    role: str          # cpu | gpu | cache: which kind of pool
    pools: frozenset[str]
    gpu_model: str | None = None
    replicas: int = 1
    gpus: int = 0      # GPUs per replica the spec asks for
    datasets: tuple[tuple[str, str], ...] = ()  # (owner tenant, dataset) of cached datasets it mounts

    @property
    def id(self) -> str:
        return f"{self.cluster}/{self.tenant}/{self.kind}/{self.workload}/{self.task}"

    @property
    def caches(self) -> tuple[tuple[str, str], ...]:
        """(owner tenant, cache) of each cached dataset it mounts: the cache on its own kind of pool."""
        model = self.gpu_model if self.role == "gpu" else None
        return tuple((owner, cache_name(dataset, model)) for owner, dataset in self.datasets)


def cache_name(dataset: str, gpu_model: str | None) -> str:
    """The cache of `dataset` for pods of `gpu_model` (None: the home cache on the CPU pools)."""
    if gpu_model is None:
        return dataset
    return f"{dataset}-{re.sub('[^a-z0-9]', '-', gpu_model.lower()).strip('-')}"


@dataclass(frozen=True)
class QuotaIntent:
    """What a tenant may use on one cluster, at most (from the spec's quota and placement)."""

    cluster: str
    tenant: str
    cpu: Decimal | None
    memory: Decimal | None
    gpus: dict[str, int]            # GPU model of the cluster -> most GPUs of it meant here (0: none)
    gpu_resources: dict[str, str]   # GPU model -> the resource name its pools advertise (gpuResource)

    def models_on(self, resource: str) -> list[str]:
        return sorted(m for m, r in self.gpu_resources.items() if r == resource)


@dataclass
class Intents:
    specs: Specs
    pods: list[Intent] = field(default_factory=list)
    quotas: list[QuotaIntent] = field(default_factory=list)


@cache
def example_intents(root: Path = REPO) -> Intents:
    problems = Problems()
    specs = build_specs(read_sources(root, problems), problems)
    problems.raise_if_any()
    assert specs is not None
    out = Intents(specs)
    for spec in specs.tenants:
        tenant = spec.tenant
        for cluster_name in tenant.placement:
            cluster = specs.platform.cluster(cluster_name)
            assert cluster is not None, f"{tenant.name}: unknown cluster {cluster_name}"
            out.pods += _tenant_pods(specs, tenant, cluster)
            out.quotas.append(_quota(tenant, cluster))
    out.pods += _gpu_caches(specs, out.pods)
    return out


def _gpu_caches(specs: Specs, pods: list[Intent]) -> list[Intent]:
    """A cache of a dataset on a GPU model's pools (and its scalers) where GPU pods of that
    model read it, whichever tenant runs them."""
    models: dict[tuple[str, str, str], set[str]] = {}  # (cluster, owner, dataset) -> GPU models
    for pod in pods:
        if pod.role == "gpu" and pod.gpu_model and pod.kind != "cache-worker":
            for owner, dataset in pod.datasets:
                models.setdefault((pod.cluster, owner, dataset), set()).add(pod.gpu_model)
    out = []
    for (cluster_name, owner, dataset_name), wanted in sorted(models.items()):
        cluster = specs.platform.cluster(cluster_name)
        owner_spec = specs.tenant(owner)
        assert cluster is not None and owner_spec is not None
        dataset = next(d for d in owner_spec.tenant.datasets if d.name == dataset_name)
        for model in sorted(wanted):
            name = cache_name(dataset_name, model)
            for i, _step in enumerate(dataset.scaling):
                out.append(Intent(cluster_name, owner, "cache-scaler", name, f"scale-{i}", "cpu",
                                  pools(cluster, "cpu", tenant=owner)))
            out.append(Intent(cluster_name, owner, "cache-worker", name, "worker", "cache",
                              pools(cluster, "gpu", {model}), model, replicas=dataset.runtime.replicas))
    return out


def pools(cluster: Cluster, role: str, models: set[str] | None = None, tenant: str | None = None) -> frozenset[str]:
    """The pools of a role (GPU pools of `models`) meant for a tenant's pods: per GPU model (or
    for CPU pods), the pools the platform file dedicates to that tenant (`tenant:`, a resource
    group) where there are some, else those dedicated to no tenant. Caches (tenant None): only
    pools dedicated to no tenant, as the platform file's comment on resource groups says."""
    candidates = [p for p in cluster.pools(role) if role != "gpu" or models is None or p.gpu_model in models]
    out: set[str] = set()
    for model in {p.gpu_model for p in candidates} if role == "gpu" else {None}:
        of_model = [p for p in candidates if role != "gpu" or p.gpu_model == model]
        own = [p for p in of_model if tenant is not None and p.tenant == tenant]
        out |= {p.name for p in own or [p for p in of_model if p.tenant is None]}
    return frozenset(out)


def tenant_gpu_models(tenant: Tenant, cluster: Cluster) -> set[str]:
    share = tenant.placement[cluster.name]
    wanted = share.quota.gpu if share.quota is not None else tenant.quota.gpu
    return {model for model, count in wanted.items() if count.value > 0} & set(cluster.gpu_models())


def _quota(tenant: Tenant, cluster: Cluster) -> QuotaIntent:
    """Explicit amounts are the cluster's share. By weight, the share is the weight's part of
    the total split in whole units (README, "Quota split": a core or 1m of cpu, the largest
    binary unit dividing a byte amount), so at most that part rounded up to a unit; GPUs are
    bounded by the tenant's whole total of the models the cluster has."""
    share = tenant.placement[cluster.name]
    models = tenant_gpu_models(tenant, cluster)
    if share.quota is not None:
        bound = share.quota
        cpu = bound.cpu.value if bound.cpu else None
        memory = bound.memory.value if bound.memory else None
    else:
        bound = tenant.quota
        weights = sum(s.weight or 0 for s in tenant.placement.values())
        part = Decimal(share.weight or 0) / weights
        cpu = _part(bound.cpu.value, part, _cpu_unit(bound.cpu.value)) if bound.cpu else None
        memory = _part(bound.memory.value, part, _byte_unit(bound.memory.value)) if bound.memory else None
    gpus = {m: int(bound.gpu[m].value) if m in models and m in bound.gpu else 0 for m in cluster.gpu_models()}
    return QuotaIntent(cluster.name, tenant.name, cpu, memory, gpus, dict(cluster.gpu_models()))


def _part(total: Decimal, part: Decimal, unit: Decimal) -> Decimal:
    """The most a largest-remainder split in whole `unit`s can give a share `part` of `total`."""
    return (total * part / unit).to_integral_value(ROUND_CEILING) * unit


def _cpu_unit(total: Decimal) -> Decimal:
    return Decimal(1) if total == total.to_integral_value() else Decimal("0.001")


def _byte_unit(total: Decimal) -> Decimal:
    """The largest binary unit (Ki .. Ei) that divides a byte amount, else a byte."""
    for power in range(60, 0, -10):
        if total % (2 ** power) == 0:
            return Decimal(2 ** power)
    return Decimal(1)


def _tenant_pods(specs: Specs, tenant: Tenant, cluster: Cluster) -> list[Intent]:
    out: list[Intent] = []
    sizes = specs.platform.notebooks.sizes
    for nb in notebook_intents(tenant):
        if nb.cluster != cluster.name:
            continue
        size = sizes[nb.size]
        gpus = int(size.gpu.value) if size.gpu else 0
        cached = tuple(_cached_datasets(specs, tenant, cluster, nb.datasets))
        if gpus:
            models = {size.gpu_model} if size.gpu_model else tenant_gpu_models(tenant, cluster)
            out.append(Intent(cluster.name, tenant.name, "notebook", nb.key, "notebook", "gpu",
                              pools(cluster, "gpu", models, tenant.name), _one(models), int(nb.running), gpus,
                              cached))
        else:
            out.append(Intent(cluster.name, tenant.name, "notebook", nb.key, "notebook", "cpu",
                              pools(cluster, "cpu", tenant=tenant.name), replicas=int(nb.running), datasets=cached))
    out += _servings(specs, tenant, cluster)
    for job in tenant.jobs:
        if job.cluster == cluster.name:
            out += _gated(cluster, tenant, "job", job.name, job, _job(specs, tenant, cluster, "job", job.name, job))
    for schedule in tenant.schedules:
        if schedule.job.cluster == cluster.name:
            roles = _job(specs, tenant, cluster, "schedule", schedule.name, schedule.job)
            out += _gated(cluster, tenant, "schedule", schedule.name, schedule.job, roles)
    for pipeline in tenant.pipelines:
        if pipeline.cluster != cluster.name:
            continue
        if pipeline.schedule:
            out.append(Intent(cluster.name, tenant.name, "flow-runner", pipeline.name, "run-flow", "cpu",
                              pools(cluster, "cpu", tenant=tenant.name)))
        for step in pipeline.steps:
            as_job = JobSpec(template=step.template, cluster=pipeline.cluster, roles=step.roles,
                             gpu_model=pipeline.gpu_model, datasets=pipeline.datasets)
            out += _job(specs, tenant, cluster, "pipeline-step", f"{pipeline.name}/{step.name}", as_job)
    for template in tenant.templates:
        if not template.publish:
            continue
        offered = _job(specs, tenant, cluster, "template", template.name,
                       JobSpec(template=template.name, cluster=cluster.name))
        if all(i.pools for i in offered):  # "on every cluster of the tenant where it fits"
            out += offered
    for dataset in tenant.datasets:
        if cluster.name not in (dataset.clusters or list(tenant.placement)):
            continue
        for i, _step in enumerate(dataset.scaling):
            out.append(Intent(cluster.name, tenant.name, "cache-scaler", dataset.name, f"scale-{i}", "cpu",
                              pools(cluster, "cpu", tenant=tenant.name)))
        if dataset.runtime.type != "thin":
            out.append(Intent(cluster.name, tenant.name, "cache-worker", dataset.name, "worker", "cache",
                              pools(cluster, "cpu", tenant=None), replicas=dataset.runtime.replicas))
    return out


def _servings(specs: Specs, tenant: Tenant, cluster: Cluster) -> list[Intent]:
    """A serving runs on its cluster's GPU pools of its model when its size (the template's,
    overridden by the serving's) has GPUs, else on the CPU pools; all maxReplicas of it at once,
    since the autoscaler may run that many and the quota must admit them."""
    out = []
    templates = {t.name: t for t in specs.platform.serving.templates}
    for serving in tenant.servings:
        if serving.cluster != cluster.name:
            continue
        own = serving.resources.gpu if serving.resources else None
        gpu = own if own is not None else templates[serving.template].resources.gpu
        gpus = int(gpu.value) if gpu else 0
        cached = tuple(_cached_datasets(specs, tenant, cluster, serving.datasets))
        if gpus:
            models = {serving.gpu_model} if serving.gpu_model else tenant_gpu_models(tenant, cluster)
            out.append(Intent(cluster.name, tenant.name, "serving", serving.name, "server", "gpu",
                              pools(cluster, "gpu", models, tenant=tenant.name), _one(models), serving.replicas.max,
                              gpus, cached))
        else:
            out.append(Intent(cluster.name, tenant.name, "serving", serving.name, "server", "cpu",
                              pools(cluster, "cpu", tenant=tenant.name), None, serving.replicas.max, 0, cached))
    return out


def _gated(cluster: Cluster, tenant: Tenant, kind: str, name: str, job: JobSpec, roles: list[Intent]) -> list[Intent]:
    """A job that waits for data while asking for GPUs: its roles behind a CPU data gate (and,
    for a schedule, the CPU pod that starts each run)."""
    if job.wait_for_data is None or not any(r.gpus for r in roles):
        return roles
    out = [replace(r, kind=f"flow-{kind}") for r in roles]
    cpu = pools(cluster, "cpu", tenant=tenant.name)
    out.append(Intent(cluster.name, tenant.name, "data-gate", name, "gate", "cpu", cpu))
    if kind == "schedule":
        out.append(Intent(cluster.name, tenant.name, "flow-runner", name, "run-flow", "cpu", cpu))
    return out


def _one(models: set[str]) -> str | None:
    return next(iter(models)) if len(models) == 1 else None


def _job(specs: Specs, tenant: Tenant, cluster: Cluster, kind: str, name: str, job: JobSpec) -> list[Intent]:
    roles = _merge(_template_roles(specs, tenant, job.template), job.roles)
    cached = tuple(_cached_datasets(specs, tenant, cluster, job.datasets))
    out = []
    for role in roles:
        gpus = int(role.resources.gpu.value) if role.resources and role.resources.gpu else 0
        pool = role.pool or ("gpu" if gpus else "cpu")
        if pool == "gpu":
            models = {job.gpu_model} if job.gpu_model else tenant_gpu_models(tenant, cluster)
            out.append(Intent(cluster.name, tenant.name, kind, name, role.name, "gpu",
                              pools(cluster, "gpu", models, tenant.name), _one(models), role.replicas or 1, gpus,
                              cached))
        else:
            out.append(Intent(cluster.name, tenant.name, kind, name, role.name, "cpu",
                              pools(cluster, "cpu", tenant=tenant.name), None, role.replicas or 1, gpus, cached))
    return out


def _template_roles(specs: Specs, tenant: Tenant, name: str) -> list[Role]:
    """The template's roles after its `extends` chain (a tenant's template before the platform's)."""
    chain: list[Template] = []
    while name:
        template = next((t for t in tenant.templates if t.name == name), None) or \
            next((t for t in specs.platform.templates if t.name == name), None)
        assert template is not None and template not in chain, f"{tenant.name}: template {name}"
        chain.append(template)
        name = template.extends or ""
    roles: list[Role] = []
    for template in reversed(chain):
        roles = _merge(roles, template.roles)
    return roles


def _merge(base: list[Role], overrides: list[Role]) -> list[Role]:
    """Roles merged by name, each field set in the override winning (resources field by field)."""
    merged = {r.name: r for r in base}
    for override in overrides:
        old = merged.get(override.name)
        if old is None:
            merged[override.name] = override
            continue
        update = {k: getattr(override, k) for k in override.model_fields_set if k != "resources"}
        if override.resources is not None:
            resources = override.resources
            if old.resources is not None:
                resources = old.resources.model_copy(
                    update={k: getattr(resources, k) for k in resources.model_fields_set})
            update["resources"] = resources
        merged[override.name] = old.model_copy(update=update)
    return list(merged.values())


def dataset_owner(specs: Specs, tenant: Tenant, local: str) -> tuple[str, str] | None:
    """(owner tenant, dataset) behind a dataset name a tenant uses: its own, an import, or a
    global dataset of the platform."""
    if any(d.name == local for d in tenant.datasets):
        return tenant.name, local
    for imp in tenant.imports:
        if imp.local_name == local:
            return imp.tenant, imp.dataset
    for g in specs.platform.global_datasets:
        if g.dataset == local:
            return g.tenant, g.dataset
    return None


def _cached_datasets(specs: Specs, tenant: Tenant, cluster: Cluster, names: list[str]) -> list[tuple[str, str]]:
    """The datasets among `names` whose data a cache runtime keeps on this cluster."""
    out = []
    for local in names:
        owner = dataset_owner(specs, tenant, local)
        if owner is None:
            continue
        owner_spec = specs.tenant(owner[0])
        dataset = next((d for d in owner_spec.tenant.datasets if d.name == owner[1]), None) if owner_spec else None
        if dataset is None or dataset.runtime.type == "thin":
            continue
        if owner_spec and cluster.name in (dataset.clusters or list(owner_spec.tenant.placement)):
            out.append(owner)
    return out
