"""Workloads resolved and checked at compile time: templates merged, jobs sized and placed,
datasets shared, storage and cache counted. Every failure names the file and field path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compiler.errors import Problems
from compiler.kinds import AGENT_RESOURCES
from compiler.model import Specs, TenantSpec
from compiler.model.data import Dataset
from compiler.model.platform import Cluster
from compiler.model.workloads import JobSpec, Role, Template
from compiler.plan.quota import placed_clusters
from compiler.quantity import Quantity

# Fluid creates a PVC for every Dataset (own or imported) in its namespace, 100Pi unless the
# Dataset's annotation says otherwise, which no storage quota admits. We ask for a nominal size
# and count it against the quota (persistentvolumeclaims and requests.storage).
DATASET_CLAIM_SIZE = "1Gi"

FRAMEWORK_ROLES = {
    "pytorch": {"master", "worker"},
    "tensorflow": {"ps", "worker", "chief", "evaluator"},
    "mpi": {"launcher", "worker"},
}


@dataclass(frozen=True)
class ResolvedRole:
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
    gpu_resource: str
    datasets: list[str]
    wait_percent: int | None
    volumes: list[str]
    source: str


@dataclass(frozen=True)
class DatasetPlacement:
    """A dataset as it lands in one tenant on one cluster (own, imported or global)."""

    tenant: str
    local_name: str
    cluster: str
    own: Dataset | None  # the spec when the tenant owns it
    origin: tuple[str, str] | None  # (tenant, dataset) when imported
    writable: bool
    source: str


@dataclass
class WorkloadPlan:
    datasets: dict[tuple[str, str], list[DatasetPlacement]] = field(default_factory=dict)  # (tenant, cluster)
    # (tenant, 'job'|'schedule'|'step'|'template', name) -> resolved job; steps are named
    # '<pipeline>/<step>', published templates '<template>@<cluster>'
    resolved: dict[tuple[str, str, str], ResolvedJob] = field(default_factory=dict)


# -- templates --------------------------------------------------------------------------------

def _template_dict(template: Template) -> dict[str, Any]:
    return template.model_dump(exclude_none=True, exclude={"name", "extends", "publish"}, exclude_defaults=False)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: dicts merge key by key, role lists merge by role name, the rest overrides."""
    out = dict(base)
    for key, value in override.items():
        if key == "roles":
            by_name = {r["name"]: r for r in out.get("roles", [])}
            for role in value:
                by_name[role["name"]] = merge(by_name.get(role["name"], {}), role)
            out["roles"] = list(by_name.values())
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def find_template(name: str, spec: TenantSpec, specs: Specs) -> Template | None:
    own = next((t for t in spec.tenant.templates if t.name == name), None)
    return own or next((t for t in specs.platform.templates if t.name == name), None)


def resolve_template(name: str, spec: TenantSpec, specs: Specs, problems: Problems, where: str,
                     chain: list[str] | None = None) -> dict | None:
    """The template `name` merged with its `extends` chain; `chain` names templates already
    on the way (a template checking its own parent)."""
    chain = list(chain or [])
    data: dict[str, Any] = {}
    current: str | None = name
    layers = []
    while current is not None:
        if current in chain:
            problems.add(spec.source.path, where, f"templates extend each other in a cycle: {' -> '.join(chain + [current])}",
                         "break the cycle")
            return None
        template = find_template(current, spec, specs)
        if template is None:
            problems.add(spec.source.path, where, f"unknown template '{current}'",
                         "use a template of this tenant or of the platform")
            return None
        chain.append(current)
        layers.append(template)
        current = template.extends
    for template in reversed(layers):
        data = merge(data, _template_dict(template))
    data["publish"] = layers[0].publish
    return data


# -- jobs -------------------------------------------------------------------------------------

def resolve_job(name: str, job: JobSpec, spec: TenantSpec, specs: Specs, problems: Problems, where: str,
                available: dict[tuple[str, str], list[DatasetPlacement]], plan_quotas: dict,
                fields_at: str | None = None) -> ResolvedJob | None:
    """`where` holds template and roles; `fields_at` (default `where`) the job-wide fields
    (cluster, gpuModel, datasets, ...), which pipeline steps take from their pipeline."""
    file = spec.source.path
    at = fields_at or where
    template = resolve_template(job.template, spec, specs, problems, f"{where}.template")
    if template is None:
        return None
    overrides = job.model_dump(exclude_none=True, include={"roles", "max_retry"})
    merged = merge(template, overrides)
    cluster = specs.platform.cluster(job.cluster)
    if cluster is None or job.cluster not in placed_clusters(spec.tenant, specs.platform):
        problems.add(file, f"{at}.cluster", f"'{job.cluster}' is not a cluster of this tenant",
                     f"use one of: {', '.join(placed_clusters(spec.tenant, specs.platform))}")
        return None
    framework = merged.get("framework")
    roles: list[ResolvedRole] = []
    own_index = {r.name: i for i, r in enumerate(job.roles)}
    for role in merged.get("roles", []):
        # A role the job overrides is named by its index in the job's roles; one that comes
        # from the template only, by name (there is no index of it in this file).
        role_at = f"{where}.roles[{own_index[role['name']]}]" if role["name"] in own_index \
            else f"{where}.roles({role['name']})"
        resolved = _resolve_role(role, framework, cluster, specs, file, role_at, problems)
        if resolved:
            roles.append(resolved)
    if not merged.get("roles"):
        problems.add(file, f"{where}.roles", "the job has no roles", "give the template or the job at least one role")
    total_replicas = sum(r.replicas for r in roles)
    min_available = job.min_available or total_replicas
    if job.min_available and job.min_available > total_replicas:
        problems.add(file, f"{at}.minAvailable", f"{job.min_available} is more than the job's {total_replicas} replicas",
                     "the gang cannot need more pods than the job has")
    gpu_model = _gpu_model(job.gpu_model, roles, cluster, spec, plan_quotas, file, at, problems)
    if job.priority_class and job.priority_class not in specs.platform.priority_classes:
        problems.add(file, f"{at}.priorityClass", f"unknown priority class '{job.priority_class}'",
                     f"use one of: {', '.join(specs.platform.priority_classes) or '(none declared)'}")
    for i, ds in enumerate(job.datasets):
        if not any(p.local_name == ds for p in available.get((spec.tenant.name, job.cluster), [])):
            problems.add(file, f"{at}.datasets[{i}]", f"no dataset '{ds}' in this tenant on {job.cluster}",
                         "declare it under datasets, import it, or run the job on a cluster that has it")
    for i, volume in enumerate(job.volumes):
        if volume == "project" and spec.tenant.storage.project is None:
            problems.add(file, f"{at}.volumes[{i}]", "the tenant has no project volume", "declare storage.project")
        if volume == "home":
            problems.add(file, f"{at}.volumes[{i}]", "jobs cannot mount home volumes (they belong to one user)",
                         "mount the project volume instead")
    job_resolved = ResolvedJob(
        tenant=spec.tenant.name, name=name, cluster=job.cluster, framework=framework, roles=roles,
        min_available=min_available, max_retry=merged.get("max_retry"), ttl=merged.get("ttl_seconds_after_finished"),
        priority_class=job.priority_class, gpu_model=gpu_model,
        gpu_resource=cluster.gpu_models().get(gpu_model or "", "nvidia.com/gpu"),
        datasets=list(job.datasets), wait_percent=job.wait_for_data.min_cached_percent if job.wait_for_data else None,
        volumes=list(job.volumes), source=file)
    _check_fits(job_resolved, cluster, spec, plan_quotas, where, problems)
    return job_resolved


def _resolve_role(role: dict, framework: str | None, cluster: Cluster, specs: Specs, file: str, where: str,
                  problems: Problems) -> ResolvedRole | None:
    if framework and role["name"] not in FRAMEWORK_ROLES[framework]:
        problems.add(file, where, f"role '{role['name']}' does not belong to a {framework} job",
                     f"use: {', '.join(sorted(FRAMEWORK_ROLES[framework]))}")
    image = role.get("image")
    if not image:
        problems.add(file, f"{where}.image", "no image for this role", "set image in the template or the job")
        return None
    if not specs.platform.image_allowed(image):
        problems.add(file, f"{where}.image", f"image '{image}' is not from an allowed registry",
                     f"use one of: {', '.join(specs.platform.allowed_registries)}")
    resources = {k: Quantity.parse(v).value for k, v in role.get("resources", {}).items() if v is not None}
    gpu = int(resources.get("gpu", 0))
    for resource, ceiling in specs.platform.defaults.limit_range.max.items():
        if resource in resources and resources[resource] > ceiling.value:
            problems.add(file, f"{where}.resources.{resource}", f"{_fmt(resources[resource])} per pod is above the "
                         f"platform's container maximum {ceiling}", "the LimitRange would reject it; lower it")
    pool = role.get("pool") or ("gpu" if gpu else "cpu")
    if pool == "cpu" and gpu:
        problems.add(file, f"{where}.pool", "a cpu-pool role cannot ask for GPUs", "set pool: gpu or remove resources.gpu")
    if pool == "gpu" and not gpu:
        problems.add(file, f"{where}.pool", "a gpu-pool role must ask for GPUs (CPU work stays off GPU nodes)",
                     "set resources.gpu or pool: cpu")
    if not cluster.pools(pool):
        problems.add(file, f"{where}.pool", f"cluster '{cluster.name}' has no {pool} pool", "run it on a cluster that has one")
    return ResolvedRole(
        name=role["name"], replicas=role.get("replicas", 1), image=image, command=role.get("command"),
        args=role.get("args"), env=role.get("env", {}),
        cpu=resources.get("cpu"), memory=resources.get("memory"),
        gpu=gpu, ports=role.get("ports", []), pool=pool)


def _gpu_model(wanted: str | None, roles: list[ResolvedRole], cluster: Cluster, spec: TenantSpec,
               plan_quotas: dict, file: str, where: str, problems: Problems) -> str | None:
    if not any(r.gpu for r in roles):
        return wanted
    share = plan_quotas.get(spec.tenant.name, {}).get(cluster.name)
    models = sorted(share.gpu) if share else []
    if wanted is None:
        if len(models) == 1:
            return models[0]
        problems.add(file, f"{where}.gpuModel", "the job asks for GPUs but names no GPU model",
                     f"set gpuModel to one of: {', '.join(models) or '(the tenant has no GPUs on this cluster)'}")
        return None
    if wanted not in cluster.gpu_models():
        problems.add(file, f"{where}.gpuModel", f"cluster '{cluster.name}' has no {wanted} GPUs",
                     f"use one of: {', '.join(sorted(cluster.gpu_models())) or '(none)'}")
        return None
    return wanted


def _check_fits(job: ResolvedJob, cluster: Cluster, spec: TenantSpec, plan_quotas: dict, where: str,
                problems: Problems) -> None:
    """The whole gang must fit the tenant's quota on the cluster and the cluster itself."""
    totals = {
        "cpu": sum((r.cpu * r.replicas for r in job.roles if r.cpu is not None), Decimal(0)),
        "memory": sum((r.memory * r.replicas for r in job.roles if r.memory is not None), Decimal(0)),
        "gpu": Decimal(sum(r.gpu * r.replicas for r in job.roles)),
    }
    pods = sum(r.replicas for r in job.roles)
    # every pod also runs the agent sidecar
    totals["cpu"] += Quantity.parse(AGENT_RESOURCES["requests"]["cpu"]).value * pods
    totals["memory"] += Quantity.parse(AGENT_RESOURCES["requests"]["memory"]).value * pods
    share = plan_quotas.get(spec.tenant.name, {}).get(cluster.name)
    if share is not None and share.pods is not None and pods > share.pods.value:
        problems.add(spec.source.path, where, f"needs {pods} pods but the tenant's pods quota on {cluster.name} is "
                     f"{share.pods}", "lower replicas or raise quota.pods")
    for resource, need in totals.items():
        if not need:
            continue
        if resource == "gpu":
            if job.gpu_model is None:
                continue  # the missing or unknown model is reported at gpuModel
            have = share.gpu.get(job.gpu_model) if share else None
            label, capacity = f"gpu.{job.gpu_model}", cluster.capacity.get(job.gpu_resource)
        else:
            have, label, capacity = (getattr(share, resource) if share else None), resource, cluster.capacity.get(resource)
        if have is None or need > have.value:
            problems.add(spec.source.path, where, f"needs {resource} {_fmt(need)} in total but the tenant's "
                         f"{label} quota on {cluster.name} is {have if have is not None else 0}",
                         "lower replicas or resources, or raise the quota")
        if capacity is not None and need > capacity.value:
            problems.add(spec.source.path, where, f"the gang needs {resource} {_fmt(need)} but {cluster.name} has "
                         f"{capacity} in all", "a gang-scheduled job must fit the cluster at once")


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- datasets ---------------------------------------------------------------------------------

def place_datasets(specs: Specs, quotas: dict, problems: Problems) -> dict[tuple[str, str], list[DatasetPlacement]]:
    """Own, imported and global datasets per (tenant, cluster), with the sharing rules checked."""
    out: dict[tuple[str, str], list[DatasetPlacement]] = {}
    owners = {t.tenant.name: t for t in specs.tenants}
    dataset_clusters: dict[tuple[str, str], list[str]] = {}
    for spec in specs.tenants:
        clusters = list(quotas.get(spec.tenant.name, {}))
        for i, ds in enumerate(spec.tenant.datasets):
            wanted = ds.clusters or clusters
            for c in wanted:
                if c not in clusters:
                    problems.add(spec.source.path, f"datasets[{i}].clusters", f"'{c}' is not a cluster of this tenant",
                                 f"use one of: {', '.join(clusters)}")
            placed = [c for c in wanted if c in clusters]
            dataset_clusters[(spec.tenant.name, ds.name)] = placed
            for c in placed:
                out.setdefault((spec.tenant.name, c), []).append(
                    DatasetPlacement(spec.tenant.name, ds.name, c, ds, None, not ds.read_only, spec.source.path))
            for j, export in enumerate(ds.export_to):
                if export.tenant != "*" and export.tenant not in owners:
                    problems.add(spec.source.path, f"datasets[{i}].exportTo[{j}].tenant", f"unknown tenant '{export.tenant}'",
                                 "name an existing tenant or '*'")
                if export.write and ds.read_only:
                    problems.add(spec.source.path, f"datasets[{i}].exportTo[{j}].write",
                                 "cannot grant write on a read-only dataset", "set readOnly: false or write: false")
    for spec in specs.tenants:
        imports = [(f"imports[{i}]", imp.tenant, imp.dataset, imp.local_name, imp.write)
                   for i, imp in enumerate(spec.tenant.imports)]
        imports += [(f"(platform globalDatasets[{i}])", g.tenant, g.dataset, g.dataset, False)
                    for i, g in enumerate(specs.platform.global_datasets)
                    if g.tenant != spec.tenant.name and not _shadows_global(spec, g.tenant, g.dataset, problems)]
        for where, owner_name, name, local, write in imports:
            owner = owners.get(owner_name)
            dataset = next((d for d in owner.tenant.datasets if d.name == name), None) if owner else None
            if dataset is None:
                problems.add(spec.source.path, where, f"tenant '{owner_name}' has no dataset '{name}'",
                             "import a dataset the other tenant declares")
                continue
            is_global = where.startswith("(platform")
            grant = next((e for e in dataset.export_to if e.tenant in (spec.tenant.name, "*")), None)
            if not is_global and grant is None:
                problems.add(spec.source.path, where,
                             f"tenant '{owner_name}' does not export dataset '{name}' to '{spec.tenant.name}'",
                             f"ask {owner_name} to add {spec.tenant.name} to datasets.{name}.exportTo")
                continue
            if write and not (grant and grant.write):
                problems.add(spec.source.path, f"{where}.write",
                             f"tenant '{owner_name}' exports '{name}' to '{spec.tenant.name}' read-only",
                             "import it read-only or ask for write in exportTo")
                continue
            for c in quotas.get(spec.tenant.name, {}):
                if c in dataset_clusters.get((owner_name, name), []):
                    out.setdefault((spec.tenant.name, c), []).append(
                        DatasetPlacement(spec.tenant.name, local, c, None, (owner_name, name), write, spec.source.path))
    return out


def _shadows_global(spec: TenantSpec, owner: str, name: str, problems: Problems) -> bool:
    """True when the tenant itself imports the global dataset (its import replaces the global
    one); a different dataset of the same name is an error, which it also returns True for."""
    for i, ds in enumerate(spec.tenant.datasets):
        if ds.name == name:
            problems.add(spec.source.path, f"datasets[{i}].name", f"'{name}' is the name of the platform's global "
                         f"dataset {owner}/{name}, which every tenant gets", "rename this dataset")
            return True
    for i, imp in enumerate(spec.tenant.imports):
        if imp.local_name == name:
            if (imp.tenant, imp.dataset) != (owner, name):
                problems.add(spec.source.path, f"imports[{i}].name", f"'{name}' is the name of the platform's global "
                             f"dataset {owner}/{name}, which every tenant gets", "import it under another name")
            return True
    return False


def check_cache_capacity(specs: Specs, placements: dict, problems: Problems) -> None:
    """Cache tiers (quota x most replicas, scaling included) of all datasets on a cluster must fit
    its cache pools."""
    for cluster in specs.platform.clusters:
        used: dict[str, Decimal] = {}
        users: dict[str, list[str]] = {}
        for (tenant, c), items in placements.items():
            if c != cluster.name:
                continue
            for p in items:
                if p.own is None:
                    continue
                # Scheduled scaling may grow the cache: count the largest size it reaches.
                replicas = max([p.own.runtime.replicas, *(step.replicas for step in p.own.scaling)])
                for tier in p.own.runtime.tiers:
                    used[tier.medium] = used.get(tier.medium, Decimal(0)) + tier.quota.value * replicas
                    users.setdefault(tier.medium, []).append(f"{tenant}/{p.local_name}")
        capacity: dict[str, Decimal] = {}
        for pool in cluster.pools("cache"):
            for medium, q in pool.cache_capacity.items():
                capacity[medium] = capacity.get(medium, Decimal(0)) + q.value
        for medium, need in sorted(used.items()):
            have = capacity.get(medium, Decimal(0))
            if need > have:
                problems.add(specs.platform_source.path, f"clusters.{cluster.name}.nodePools(cache).cacheCapacity.{medium}",
                             f"dataset caches need {_bytes(need)} of {medium} but the cache pools have {_bytes(have)} "
                             f"(datasets: {', '.join(sorted(users[medium]))})",
                             "shrink the tiers or replicas, or add cache capacity")


def _bytes(value: Decimal) -> str:
    from compiler.quantity import FORMAT_BINARY, canonical

    return canonical(value, FORMAT_BINARY)


def check_storage(specs: Specs, quotas: dict, problems: Problems,
                  placements: dict[tuple[str, str], list[DatasetPlacement]] | None = None) -> None:
    """Home volumes (one per member user) and the project volume count against the storage quota;
    so does the PVC Fluid creates for each dataset (own or imported), sized DATASET_CLAIM_SIZE."""
    storage_settings = specs.platform.storage
    for spec in specs.tenants:
        storage = spec.tenant.storage
        volumes = [("storage.home", storage.home, len(spec.tenant.user_members())), ("storage.project", storage.project, 1)]
        for where, volume, count in volumes:
            if volume is None:
                continue
            if storage_settings is None:
                problems.add(spec.source.path, where, "the platform declares no storage classes",
                             "add storage to tenants/platform.yaml")
                continue
            if volume.storage_class and volume.storage_class not in storage_settings.classes:
                problems.add(spec.source.path, f"{where}.storageClass", f"unknown storage class '{volume.storage_class}'",
                             f"use one of: {', '.join(storage_settings.classes)}")
        for cluster, share in quotas.get(spec.tenant.name, {}).items():
            need = sum((v.size.value * n for _, v, n in volumes if v is not None), Decimal(0))
            claims = sum(n for _, v, n in volumes if v is not None)
            datasets = len((placements or {}).get((spec.tenant.name, cluster), []))
            with_datasets = need + datasets * Quantity.parse(DATASET_CLAIM_SIZE).value
            also = f" (with {datasets} dataset claims of {DATASET_CLAIM_SIZE})" if datasets else ""
            if need and share.storage is None:
                problems.add(spec.source.path, "storage", f"volumes need {_bytes(need)} on {cluster} but the storage "
                             "quota there is 0", "raise quota.storage or shrink the volumes")
            elif share.storage is not None and with_datasets > share.storage.value:
                problems.add(spec.source.path, "storage", f"volumes need {_bytes(with_datasets)}{also} on {cluster} "
                             f"but the storage quota there is {share.storage}", "raise quota.storage or shrink the volumes")
            if claims + datasets and share.pvcs is not None and claims + datasets > share.pvcs.value:
                problems.add(spec.source.path, "storage", f"{claims + datasets} volumes{also} on {cluster} but the "
                             f"pvcs quota there is {share.pvcs}", "raise quota.pvcs")


def check_notebooks(specs: Specs, quotas: dict, placements: dict, problems: Problems) -> None:
    settings = specs.platform.notebooks
    for spec in specs.tenants:
        users = spec.tenant.user_members()
        clusters = list(quotas.get(spec.tenant.name, {}))
        for i, nb in enumerate(spec.tenant.notebooks):
            where, file = f"notebooks[{i}]", spec.source.path
            if nb.user not in users:
                problems.add(file, f"{where}.user", f"'{nb.user}' is not a member user of this tenant", "add them to members")
            image = settings.images.get(nb.image)
            if image is None:
                problems.add(file, f"{where}.image", f"unknown notebook image '{nb.image}'",
                             f"use one of: {', '.join(sorted(settings.images)) or '(none declared)'}")
            elif not specs.platform.image_allowed(image):
                problems.add(file, f"{where}.image", f"image '{image}' is not from an allowed registry",
                             f"use one of: {', '.join(specs.platform.allowed_registries)}")
            size = settings.sizes.get(nb.size)
            if size is None:
                problems.add(file, f"{where}.size", f"unknown notebook size '{nb.size}'",
                             f"use one of: {', '.join(sorted(settings.sizes)) or '(none declared)'}")
            cluster_name = nb.cluster or (clusters[0] if clusters else None)
            if cluster_name not in clusters:
                problems.add(file, f"{where}.cluster", f"'{nb.cluster}' is not a cluster of this tenant",
                             f"use one of: {', '.join(clusters)}")
                continue
            cluster = specs.platform.cluster(cluster_name)
            if size is not None and size.gpu and cluster is not None:
                model = size.gpu_model or next(iter(sorted(quotas[spec.tenant.name][cluster_name].gpu)), None)
                if model is None or model not in cluster.gpu_models():
                    problems.add(file, f"{where}.size", f"a GPU notebook needs GPUs on {cluster_name}, which has none "
                                 "for this tenant", "choose a CPU size or a cluster with GPUs")
            for j, ds in enumerate(nb.datasets):
                if not any(p.local_name == ds for p in placements.get((spec.tenant.name, cluster_name), [])):
                    problems.add(file, f"{where}.datasets[{j}]", f"no dataset '{ds}' in this tenant on {cluster_name}",
                                 "declare or import it")


def check_pipelines(spec: TenantSpec, problems: Problems) -> None:
    """Steps must name known steps and form no cycle (Volcano JobFlow needs a DAG)."""
    for i, pipeline in enumerate(spec.tenant.pipelines):
        names = [s.name for s in pipeline.steps]
        graph = {s.name: s.depends_on for s in pipeline.steps}
        for j, step in enumerate(pipeline.steps):
            for k, dep in enumerate(step.depends_on):
                if dep not in names:
                    problems.add(spec.source.path, f"pipelines[{i}].steps[{j}].dependsOn[{k}]", f"unknown step '{dep}'",
                                 f"use one of: {', '.join(names)}")
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> list[str] | None:
            if state.get(node) == 1:
                return path + [node]
            if state.get(node) == 2 or node not in graph:
                return None
            state[node] = 1
            for dep in graph[node]:
                cycle = visit(dep, path + [node])
                if cycle:
                    return cycle
            state[node] = 2
            return None

        for name in names:
            cycle = visit(name, [])
            if cycle:
                problems.add(spec.source.path, f"pipelines[{i}].steps", f"steps depend on each other in a cycle: "
                             f"{' -> '.join(cycle[cycle.index(cycle[-1]):])}", "a pipeline must be a DAG")
                break


def plan_workloads(specs: Specs, quotas: dict, problems: Problems) -> WorkloadPlan:
    plan = WorkloadPlan()
    plan.datasets = place_datasets(specs, quotas, problems)
    check_cache_capacity(specs, plan.datasets, problems)
    check_storage(specs, quotas, problems, plan.datasets)
    check_notebooks(specs, quotas, plan.datasets, problems)
    for spec in specs.tenants:
        tenant = spec.tenant.name

        def keep(kind: str, name: str, resolved: ResolvedJob | None) -> None:
            if resolved is not None:
                plan.resolved[(tenant, kind, name)] = resolved

        check_pipelines(spec, problems)
        for i, job in enumerate(spec.tenant.jobs):
            keep("job", job.name, resolve_job(job.name, job, spec, specs, problems, f"jobs[{i}]", plan.datasets, quotas))
        for i, schedule in enumerate(spec.tenant.schedules):
            keep("schedule", schedule.name, resolve_job(schedule.name, schedule.job, spec, specs, problems,
                                                        f"schedules[{i}].job", plan.datasets, quotas))
        for i, pipeline in enumerate(spec.tenant.pipelines):
            for j, step in enumerate(pipeline.steps):
                as_job = JobSpec(template=step.template, cluster=pipeline.cluster, roles=step.roles,
                                 gpu_model=pipeline.gpu_model, datasets=pipeline.datasets)
                keep("step", f"{pipeline.name}/{step.name}", resolve_job(
                    f"{pipeline.name}-{step.name}", as_job, spec, specs, problems, f"pipelines[{i}].steps[{j}]",
                    plan.datasets, quotas, fields_at=f"pipelines[{i}]"))
        for i, template in enumerate(spec.tenant.templates):
            if template.extends is not None:  # a cycle or unknown parent is an error even if unused
                resolve_template(template.extends, spec, specs, problems, f"templates[{i}].extends",
                                 chain=[template.name])
            if template.publish:
                _publish(template.name, spec, specs, quotas, plan, problems, f"templates[{i}]")
    return plan


def _publish(name: str, spec: TenantSpec, specs: Specs, quotas: dict, plan: WorkloadPlan, problems: Problems,
             where: str) -> None:
    """A published template becomes a JobTemplate on every cluster of the tenant where it fits."""
    fitting = []
    for cluster in quotas.get(spec.tenant.name, {}):
        trial = Problems()
        resolved = resolve_job(name, JobSpec(template=name, cluster=cluster), spec, specs, trial, where,
                               plan.datasets, quotas)
        if resolved is not None and not trial:
            plan.resolved[(spec.tenant.name, "template", f"{name}@{cluster}")] = resolved
            fitting.append(cluster)
    if not fitting:
        resolve_job(name, JobSpec(template=name, cluster=next(iter(quotas.get(spec.tenant.name, {})), "?")),
                    spec, specs, problems, where, plan.datasets, quotas)


__all__ = ["plan_workloads", "resolve_job", "resolve_template", "merge", "Role", "WorkloadPlan"]
