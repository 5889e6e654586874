"""Model servings resolved: the platform's serving template merged with the serving's image,
model and size, its cluster, pool and GPU model decided, its volumes and datasets, its probes
and ingress host, its pod extras (as a job's: compiler.plan.pod_extras); and every serving of a
unit checked against the tenant's quota there (the platform's containers it adds included).

Quota accounting: a serving is counted at maxReplicas x its requests. Its pods are not gang-
scheduled and not queued by Volcano: the HorizontalPodAutoscaler raises the Deployment's replicas
and the ReplicaSet controller creates pods, which the ResourceQuota admission plugin rejects
once the namespace's requests would exceed the quota (https://kubernetes.io/docs/concepts/policy/
resource-quotas/). A serving that fits only at its minimum would then stop scaling exactly when
its load peaks, silently (the ReplicaSet reports FailedCreate events). So all the servings of a
unit, each at its maximum, must fit the tenant's quota on that cluster together: they run all the
time, unlike jobs, which Volcano queues until the quota frees up.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from compiler.model.serving import Probe, Serving, ServingTemplate
from compiler.plan.datasets import DatasetUse, dataset_uses
from compiler.plan.jobs import check_container_max, gpu_model_for, node_pool, tenant_cluster
from compiler.plan.pod_extras import PodExtras, check_plain_env, resolve_pod_extras
from compiler.plan.quota import DEFAULT_GPU_RESOURCE
from compiler.plan.scope import TenantScope
from compiler.plan.storage import PROJECT_CLAIM
from compiler.quantity import FORMAT_BINARY, Quantity, canonical

SERVER = "server"  # the serving's main container


@dataclass(frozen=True)
class ResolvedProbe:
    """An HTTP GET probe with the model's name in its path."""

    path: str
    initial_delay_seconds: int
    period_seconds: int
    failure_threshold: int


@dataclass(frozen=True)
class ResolvedServing:
    """A serving on its cluster: everything render draws, decided and checked."""

    tenant: str
    name: str
    cluster: str
    template: str
    image: str
    command: list[str] | None
    args: list[str]
    port: int
    readiness: ResolvedProbe
    liveness: ResolvedProbe
    env: dict[str, str]  # plain values, none named like a secret
    cpu: Decimal
    memory: Decimal | None
    gpu: int
    gpu_model: str | None
    gpu_resource: str
    pool: str
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int
    max_unavailable: int
    datasets: list[DatasetUse]  # read-only
    project_claim: str | None
    ingress_host: str | None
    ingress_class: str | None
    source: str
    pod: PodExtras = PodExtras()  # env and volumes by reference, /dev/shm, sidecars (compiler.plan.pod_extras)


def resolve_servings(scope: TenantScope) -> list[ResolvedServing]:
    """The tenant's servings, each checked, and together checked against the quota per cluster."""
    out = []
    for i, serving in enumerate(scope.spec.tenant.servings):
        resolved = _resolve(scope, serving, f"servings[{i}]")
        if resolved is not None:
            out.append(resolved)
    _check_quota(scope, out)
    return out


def _template(scope: TenantScope, serving: Serving, where: str) -> ServingTemplate | None:
    templates = {t.name: t for t in scope.specs.platform.serving.templates}
    template = templates.get(serving.template)
    if template is None:
        scope.problems.add(scope.file, f"{where}.template", f"unknown serving template '{serving.template}'",
                           f"use one of the platform's serving.templates: {', '.join(sorted(templates)) or '(none)'}")
    return template


def _image(scope: TenantScope, serving: Serving, template: ServingTemplate, where: str) -> str | None:
    platform = scope.specs.platform
    image = serving.image or template.image
    if not image:
        scope.problems.add(scope.file, f"{where}.image", f"serving template '{template.name}' names no image",
                           "set image to the server's image")
    elif not platform.image_allowed(image):
        scope.problems.add(scope.file, f"{where}.image", f"image '{image}' is not from an allowed registry",
                           f"use one of: {', '.join(platform.allowed_registries)}")
    return image or None


def _size(scope: TenantScope, serving: Serving, template: ServingTemplate,
          where: str) -> tuple[Decimal | None, Decimal | None, int]:
    merged = {**template.resources.model_dump(exclude_none=True),
              **(serving.resources.model_dump(exclude_none=True) if serving.resources else {})}
    amounts = {k: Quantity.parse(v).value for k, v in merged.items()}
    check_container_max(scope, amounts, where)
    if amounts.get("cpu") is None:
        scope.problems.add(scope.file, f"{where}.resources.cpu", "a serving needs a cpu request",
                           "the autoscaler scales on CPU use relative to it; set resources.cpu here or in the template")
    return amounts.get("cpu"), amounts.get("memory"), int(amounts.get("gpu", 0))


def _volumes(scope: TenantScope, serving: Serving, where: str) -> tuple[list[DatasetUse], str | None]:
    placed = scope.datasets_on(serving.cluster)
    for j, ds in enumerate(serving.datasets):
        if not any(p.local_name == ds for p in placed):
            scope.problems.add(scope.file, f"{where}.datasets[{j}]", f"no dataset '{ds}' in this tenant on "
                               f"{serving.cluster}", "declare or import it, or serve on a cluster that has it")
    if "project" in serving.volumes and scope.spec.tenant.storage.project is None:
        scope.problems.add(scope.file, f"{where}.volumes", "the tenant has no project volume",
                           "declare storage.project")
    uses = [replace(u, writable=False) for u in dataset_uses(serving.datasets, placed)]
    return uses, PROJECT_CLAIM if "project" in serving.volumes else None


def _probe(probe: Probe, model: str) -> ResolvedProbe:
    return ResolvedProbe(probe.path.replace("{model}", model), probe.initial_delay_seconds, probe.period_seconds,
                         probe.failure_threshold)


def _resolve(scope: TenantScope, serving: Serving, where: str) -> ResolvedServing | None:
    template = _template(scope, serving, where)
    cluster = tenant_cluster(scope, serving.cluster, where)
    if template is None or cluster is None:
        return None
    image = _image(scope, serving, template, where)
    cpu, memory, gpu = _size(scope, serving, template, where)
    pool = node_pool(scope, None, gpu, cluster, where)
    gpu_model = gpu_model_for(scope, serving.gpu_model, bool(gpu), cluster, where)
    datasets, project_claim = _volumes(scope, serving, where)
    pod = resolve_pod_extras(scope, serving, where, {SERVER: memory})
    check_plain_env(scope, serving.env or {}, where)
    if image is None or cpu is None:
        return None
    model = serving.model or serving.name
    model_path = serving.model_path or f"/models/{model}"
    settings = scope.specs.platform.serving
    return ResolvedServing(
        tenant=scope.tenant, name=serving.name, cluster=cluster.name, template=template.name, image=image,
        command=list(template.command) if template.command else None,
        args=[a.replace("{model}", model).replace("{modelPath}", model_path) for a in template.args],
        port=template.port, readiness=_probe(template.readiness, model), liveness=_probe(template.liveness, model),
        env=dict(serving.env or {}),
        cpu=cpu, memory=memory, gpu=gpu, gpu_model=gpu_model if gpu else None,
        gpu_resource=cluster.gpu_models().get(gpu_model or "", DEFAULT_GPU_RESOURCE), pool=pool,
        min_replicas=serving.replicas.min, max_replicas=serving.replicas.max,
        target_cpu_utilization=serving.target_cpu_utilization, max_unavailable=serving.max_unavailable,
        datasets=datasets, project_claim=project_claim,
        ingress_host=settings.host(serving.name, scope.tenant) if serving.ingress else None,
        ingress_class=settings.ingress_class, source=scope.file, pod=pod)


def peak(serving: ResolvedServing) -> dict[str, Decimal]:
    """What a serving holds at maxReplicas: its requests (with the platform's containers it
    adds, as for a job's pods) times the replicas, and its pods."""
    n, extra = Decimal(serving.max_replicas), serving.pod.per_pod()
    return {"cpu": (serving.cpu + extra["cpu"]) * n, "memory": ((serving.memory or Decimal(0)) + extra["memory"]) * n,
            "gpu": Decimal(serving.gpu) * n, "pods": n}


def _check_quota(scope: TenantScope, servings: list[ResolvedServing]) -> None:
    """Every cluster's servings at their maximum, together, within the tenant's quota there."""
    by_cluster: dict[str, list[ResolvedServing]] = {}
    for s in servings:
        by_cluster.setdefault(s.cluster, []).append(s)
    for cluster, group in by_cluster.items():
        for (resource, model), need in sorted(_totals(group).items()):
            _check_total(scope, cluster, group, resource, model, need)


def _totals(group: list[ResolvedServing]) -> dict[tuple[str, str], Decimal]:
    """(resource, GPU model or '') -> what the servings hold together at their maximum."""
    totals: dict[tuple[str, str], Decimal] = {}
    for s in group:
        for resource, amount in peak(s).items():
            key = (resource, s.gpu_model or "") if resource == "gpu" else (resource, "")
            if amount:
                totals[key] = totals.get(key, Decimal(0)) + amount
    return totals


def _check_total(scope: TenantScope, cluster: str, group: list[ResolvedServing], resource: str, model: str,
                 need: Decimal) -> None:
    share = scope.shares.get(cluster)
    have = (share.gpu.get(model) if resource == "gpu" else getattr(share, resource)) if share else None
    if (have is not None and need <= have.value) or (resource == "pods" and have is None):
        return  # within quota, or no pods quota (as for jobs)
    if resource == "gpu" and not model:
        return  # no GPU model: reported at gpuModel
    label = f"gpu.{model}" if resource == "gpu" else resource
    first = next(i for i, sv in enumerate(scope.spec.tenant.servings) if sv.name == group[0].name)
    amount = canonical(need, FORMAT_BINARY) if resource == "memory" else format(need.normalize(), "f")
    scope.problems.add(
        scope.file, f"servings[{first}]" if len(group) == 1 else "servings",
        f"at maxReplicas the servings on {cluster} ({', '.join(s.name for s in group)}) request {label} "
        f"{amount} but the tenant's {label} quota there is {have if have is not None else 0}",
        "lower replicas.max or resources, or raise the quota (the autoscaler may run them all at their maximum, "
        "and the ResourceQuota would refuse the extra pods)")
