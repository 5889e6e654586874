"""Per-cluster shares of a tenant's logical quota (and of its queue guarantee), what they add up
to on each cluster, and the checks that they fit: the guarantee within the quota, the sum of
all tenants within capacity x overcommit."""
from __future__ import annotations

from decimal import Decimal

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.common import quota_of
from compiler.model.platform import DEFAULT_GPU_RESOURCE, Cluster, Platform
from compiler.model.tenant import ClusterShare, Quota, Tenant
from compiler.plan.split import SplitError, split_resource
from compiler.quantity import EXACT, Quantity, exact_sum

SCALARS = ("cpu", "memory", "pods", "pvcs", "storage")

# Logical quota field -> Kubernetes resource name (capacity keys, queue capability keys).
RESOURCE_NAMES = {"cpu": "cpu", "memory": "memory", "pods": "pods",
                  "pvcs": "persistentvolumeclaims", "storage": "storage"}

Shares = dict[str, Quota]  # cluster -> share, in platform order


def placed_clusters(tenant: Tenant, platform: Platform) -> list[str]:
    """The tenant's clusters in platform order (the order ties are broken in)."""
    return [c.name for c in platform.clusters if c.name in tenant.placement]


def split_quota(tenant: Tenant, platform: Platform, file: str, problems: Problems,
                total: Quota | None = None, field: str = "quota",
                weights_by: Shares | None = None) -> Shares:
    """Split `total` (default: the tenant's quota) over its clusters; parts sum exactly."""
    total = total or tenant.quota
    clusters = placed_clusters(tenant, platform)
    for name in tenant.placement:
        if platform.cluster(name) is None:
            problems.add(file, f"placement.{name}", f"unknown cluster '{name}'",
                         f"use one of: {', '.join(c.name for c in platform.clusters)}")
    if not clusters:
        return {}
    if tenant.placement[clusters[0]].quota is not None and weights_by is None:
        return _check_explicit(tenant, platform, clusters, total, file, problems)
    parts: dict[str, dict] = {c: {"gpu": {}} for c in clusters}
    by_weight = _placement_weights(clusters, tenant.placement) if weights_by is None else None  # same for every scalar
    for resource in SCALARS:
        amount: Quantity | None = getattr(total, resource)
        if amount is not None:
            weights = by_weight or _weights(clusters, tenant.placement, weights_by, resource)
            _split_into(parts, clusters, resource, amount, weights, f"{field}.{resource}",
                        f"cannot be split exactly across {', '.join(clusters)}",
                        "use an amount that divides into whole units", file, problems)
    for model, amount in total.gpu.items():
        with_model = [c for c in clusters if model in _gpu_models(platform, c)]
        if not with_model:
            problems.add(file, f"{field}.gpu.{model}",
                         f"no cluster of this tenant has {model} GPUs (placement: {', '.join(clusters)})",
                         "place the tenant on a cluster whose node pools have this GPU model")
            continue
        weights = _weights(with_model, tenant.placement, weights_by, "gpu", model)
        _split_into(parts, with_model, "gpu", amount, weights, f"{field}.gpu.{model}",
                    f"cannot be split across {', '.join(with_model)}",
                    "use a whole number of GPUs that the tenant's clusters can take", file, problems, model)
    return {c: quota_of(**fields) for c, fields in parts.items()}


def _split_into(parts: dict[str, dict], clusters: list[str], resource: str, amount: Quantity,
                weights: list[Decimal], where: str, failure: str, hint: str, file: str, problems: Problems,
                model: str | None = None) -> None:
    """Split one amount by `weights` into `parts` (a GPU model's under parts[c]['gpu'])."""
    try:
        values = split_resource(resource, amount.value, weights)
    except SplitError as exc:
        problems.add(file, where, f"{failure}: {exc}", hint)
        return
    for cluster, value in zip(clusters, values, strict=True):
        target = parts[cluster]["gpu"] if model else parts[cluster]
        target[model or resource] = Quantity(value, amount.fmt)


def _gpu_models(platform: Platform, cluster: str) -> dict[str, str]:
    found = platform.cluster(cluster)
    return found.gpu_models() if found else {}


def _weights(clusters: list[str], placement: dict[str, ClusterShare], weights_by: Shares | None,
             resource: str, model: str | None = None) -> list[Decimal]:
    """Integer weights from the placement, or (for a guarantee) the clusters' quota shares."""
    if weights_by is None:
        return _placement_weights(clusters, placement)
    out = []
    for cluster in clusters:
        quota = weights_by.get(cluster)
        value = (quota.gpu.get(model) if model else getattr(quota, resource)) if quota else None
        out.append(value.value if value is not None else Decimal(0))
    return out


def _placement_weights(clusters: list[str], placement: dict[str, ClusterShare]) -> list[Decimal]:
    return [Decimal(placement[c].weight or 0) for c in clusters]


def _check_explicit(tenant: Tenant, platform: Platform, clusters: list[str], total: Quota,
                    file: str, problems: Problems) -> Shares:
    """Explicit per-cluster amounts must add up to the logical quota, resource by resource."""
    result = {c: q for c in clusters if (q := tenant.placement[c].quota) is not None}
    for resource in SCALARS:
        want = getattr(total, resource)
        got = [getattr(q, resource) for q in result.values()]
        given = exact_sum(g.value for g in got if g is not None)
        if want is None and any(g is not None for g in got):
            problems.add(file, f"placement.*.quota.{resource}", f"{resource} is placed but not in the logical quota",
                         f"add quota.{resource} or remove it from the placement")
        elif want is not None and given != want.value:
            problems.add(file, f"placement.*.quota.{resource}",
                         f"cluster amounts sum to {Quantity(given, want.fmt)} but quota.{resource} is {want}",
                         "make the explicit amounts add up to the logical quota")
    _check_explicit_gpus(result, platform, total, file, problems)
    return result


def _check_explicit_gpus(result: Shares, platform: Platform, total: Quota, file: str, problems: Problems) -> None:
    models = set(total.gpu) | {m for q in result.values() for m in q.gpu}
    for model in sorted(models):
        given = exact_sum(q.gpu[model].value for q in result.values() if model in q.gpu)
        want = total.gpu.get(model)
        if want is None or given != want.value:
            problems.add(file, f"placement.*.quota.gpu.{model}",
                         f"cluster amounts sum to {given} but quota.gpu.{model} is {want or 0}",
                         "make the explicit amounts add up to the logical quota")
        for cluster, quota in result.items():
            if model in quota.gpu and model not in _gpu_models(platform, cluster):
                problems.add(file, f"placement.{cluster}.quota.gpu.{model}",
                             f"cluster '{cluster}' has no {model} GPUs", "place these GPUs on a cluster that has them")


def resource_amounts(share: Quota, gpu_resources: dict[str, str]) -> dict[str, Quantity]:
    """A quota share as Kubernetes resource name -> amount (GPU models summed per resource)."""
    out: dict[str, Quantity] = {}
    for resource in SCALARS:
        value = getattr(share, resource)
        if value is not None:
            out[RESOURCE_NAMES[resource]] = value
    for model, count in sorted(share.gpu.items()):
        name = gpu_resources.get(model, DEFAULT_GPU_RESOURCE)
        out[name] = out[name] + count if name in out else count
    return out


def quota_amounts(share: Quota, cluster: Cluster) -> dict[str, Quantity]:
    """What a tenant's ResourceQuota and queue capability hold on a cluster: its share, and an
    explicit 0 for every GPU resource of the cluster it has no quota for. A resource left out of
    a ResourceQuota is not limited at all, and neither is one left out of a Volcano queue's
    capability (volcano-sh/volcano#3204, PR #3219: unset dimensions keep the cluster total)."""
    out = resource_amounts(share, cluster.gpu_models())
    for name in cluster.gpu_resources():
        out.setdefault(name, Quantity(Decimal(0)))
    return dict(sorted(out.items()))


def usage_on(quotas: dict[str, Shares], platform: Platform, cluster_name: str) -> dict[str, Decimal]:
    """Sum of tenant quota shares on a cluster per Kubernetes resource name."""
    models = _gpu_models(platform, cluster_name)
    used: dict[str, Decimal] = {}
    for shares in quotas.values():
        share = shares.get(cluster_name)
        if share is None:
            continue
        for name, amount in resource_amounts(share, models).items():
            used[name] = EXACT.add(used.get(name, Decimal(0)), amount.value)
    return used


def check_capacity(specs: Specs, quotas: dict[str, Shares], problems: Problems) -> None:
    """What the tenants' shares on a cluster add up to must fit its capacity x overcommit."""
    file = specs.platform_source.path
    for cluster in specs.platform.clusters:
        for resource, used in sorted(usage_on(quotas, specs.platform, cluster.name).items()):
            capacity = cluster.capacity.get(resource)
            if capacity is None:
                if resource in ("cpu", "memory") or "/" in resource:
                    problems.add(file, f"clusters.{cluster.name}.capacity.{resource}",
                                 f"tenants ask for {resource} but the cluster declares no capacity for it",
                                 "declare the cluster's capacity for this resource")
                continue
            limit = EXACT.multiply(capacity.value, cluster.ratio(resource))
            if used > limit:
                tenants = [t for t, s in quotas.items() if cluster.name in s]
                problems.add(file, f"clusters.{cluster.name}.capacity.{resource}",
                             f"tenant quotas sum to {Quantity(used, capacity.fmt)} but capacity x overcommit is "
                             f"{Quantity(limit, capacity.fmt)} (tenants: {', '.join(sorted(tenants))})",
                             "lower a tenant's quota, move it to another cluster or raise capacity/overcommit")


def check_gpu_models_apart(specs: Specs, quotas: dict[str, Shares], problems: Problems) -> None:
    """GPU quota is per model, but Kubernetes (ResourceQuota) and Volcano (queue capability)
    count resource names. Models advertised under one name on a cluster can only be capped
    together: {A100: 56, H100: 8} would let the tenant take 64 of either. So a tenant may hold
    GPUs of such a model there only when every model has a resource name of its own (the
    platform's gpuResource per pool, as the NVIDIA device plugin advertises renamed resources:
    its config's resources.gpus pattern -> name); otherwise the spec is refused."""
    shared = {cluster.name: (cluster, names) for cluster in specs.platform.clusters
              if (names := _shared_resource_names(cluster))}
    if not shared:
        return  # every model has a name of its own everywhere: nothing any tenant holds can clash
    for spec in specs.tenants:
        for cluster_name, share in quotas.get(spec.tenant.name, {}).items():
            if cluster_name in shared:
                cluster, names = shared[cluster_name]
                _check_models_apart(spec, cluster, names, share, specs.platform_source.path, problems)


def _shared_resource_names(cluster: Cluster) -> dict[str, list[str]]:
    """Resource name -> the GPU models (sorted) a cluster advertises under it, for names shared by two or more."""
    by_resource: dict[str, list[str]] = {}
    for model, resource in sorted(cluster.gpu_models().items()):
        by_resource.setdefault(resource, []).append(model)
    return {resource: models for resource, models in sorted(by_resource.items()) if len(models) >= 2}


def _check_models_apart(spec: TenantSpec, cluster: Cluster, shared: dict[str, list[str]], share: Quota,
                        platform_file: str, problems: Problems) -> None:
    explicit = spec.tenant.placement[cluster.name].quota is not None
    for resource, models in shared.items():
        held = [m for m in models if m in share.gpu and share.gpu[m].value > 0]
        if not held:
            continue
        where = f"placement.{cluster.name}.quota.gpu.{held[0]}" if explicit else f"quota.gpu.{held[0]}"
        amounts = ", ".join(f"{m}: {share.gpu[m] if m in share.gpu else 0}" for m in models)
        total = exact_sum(share.gpu[m].value for m in held)
        pools = [p.name for p in cluster.pools("gpu") if p.gpu_model in models[1:]]
        problems.add(spec.source.path, where,
                     f"on {cluster.name}, GPU models {' and '.join(models)} are all advertised as {resource}, so "
                     f"its ResourceQuota and queue can only cap their sum: this tenant's {{{amounts}}} there would "
                     f"let it take {total} GPUs of any of them",
                     f"give each model a resource name of its own in {platform_file} (gpuResource of "
                     f"node pool {', '.join(pools)} on {cluster.name}, e.g. nvidia.com/{_resource_hint(models[-1])}, "
                     f"as the device plugin's resource renaming advertises it), or keep this tenant's "
                     f"{'/'.join(held)} GPUs off {cluster.name}")


def _resource_hint(model: str) -> str:
    return "".join(c for c in model.lower() if c.isalnum()) or "gpu-model"


def guarantee_within_quota(spec: TenantSpec, problems: Problems) -> bool:
    """True when the queue guarantee fits the quota, resource by resource."""
    guarantee, quota = spec.tenant.queue.guarantee, spec.tenant.quota
    assert guarantee is not None
    before = len(problems.items)
    pairs = [(resource, getattr(guarantee, resource), getattr(quota, resource)) for resource in SCALARS]
    pairs += [(f"gpu.{model}", g, quota.gpu.get(model)) for model, g in guarantee.gpu.items()]
    for where, g, q in pairs:
        if g is not None and (q is None or g.value > q.value):
            problems.add(spec.source.path, f"queue.guarantee.{where}",
                         f"guarantee {g} exceeds the quota {q if q is not None else '(none)'}",
                         "a queue cannot be guaranteed more than its quota")
    return len(problems.items) == before
