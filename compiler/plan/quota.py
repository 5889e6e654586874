"""Per-cluster shares of a tenant's logical quota (and of its queue guarantee)."""
from __future__ import annotations

from decimal import Decimal

from compiler.errors import Problems
from compiler.model.platform import Platform
from compiler.model.tenant import Quota, Tenant
from compiler.plan.split import SplitError, split_resource
from compiler.quantity import Quantity, exact_sum

SCALARS = ("cpu", "memory", "pods", "pvcs", "storage")

# Logical quota field -> Kubernetes resource name (capacity keys, queue capability keys).
RESOURCE_NAMES = {"cpu": "cpu", "memory": "memory", "pods": "pods",
                  "pvcs": "persistentvolumeclaims", "storage": "storage"}


def placed_clusters(tenant: Tenant, platform: Platform) -> list[str]:
    """The tenant's clusters in platform order (the order ties are broken in)."""
    return [c.name for c in platform.clusters if c.name in tenant.placement]


def split_quota(tenant: Tenant, platform: Platform, file: str, problems: Problems,
                total: Quota | None = None, field: str = "quota",
                weights_by: dict[str, Quota] | None = None) -> dict[str, Quota]:
    """Split `total` (default: the tenant's quota) over its clusters; parts sum exactly."""
    total = total or tenant.quota
    clusters = placed_clusters(tenant, platform)
    for name in tenant.placement:
        if platform.cluster(name) is None:
            problems.add(file, f"placement.{name}", f"unknown cluster '{name}'",
                         f"use one of: {', '.join(c.name for c in platform.clusters)}")
    if not clusters:
        return {}
    shares = [tenant.placement[c] for c in clusters]
    explicit = shares[0].quota is not None and weights_by is None
    if explicit:
        return _check_explicit(tenant, platform, clusters, total, file, problems)
    parts: dict[str, dict] = {c: {"gpu": {}} for c in clusters}
    for resource in SCALARS:
        amount: Quantity | None = getattr(total, resource)
        if amount is None:
            continue
        weights = _weights(clusters, shares, weights_by, resource)
        try:
            values = split_resource(resource, amount.value, weights)
        except SplitError as exc:
            problems.add(file, f"{field}.{resource}", f"cannot be split exactly across {', '.join(clusters)}: {exc}",
                         "use an amount that divides into whole units")
            continue
        for cluster, value in zip(clusters, values):
            parts[cluster][resource] = Quantity(value, amount.fmt)
    for model, amount in total.gpu.items():
        with_model = [c for c in clusters if model in platform.cluster(c).gpu_models()]  # type: ignore[union-attr]
        if not with_model:
            problems.add(file, f"{field}.gpu.{model}",
                         f"no cluster of this tenant has {model} GPUs (placement: {', '.join(clusters)})",
                         "place the tenant on a cluster whose node pools have this GPU model")
            continue
        weights = _weights(with_model, [tenant.placement[c] for c in with_model], weights_by, "gpu", model)
        try:
            values = split_resource("gpu", amount.value, weights)
        except SplitError as exc:
            problems.add(file, f"{field}.gpu.{model}",
                         f"cannot be split across {', '.join(with_model)}: {exc}",
                         "use a whole number of GPUs that the tenant's clusters can take")
            continue
        for cluster, value in zip(with_model, values):
            parts[cluster]["gpu"][model] = Quantity(value, amount.fmt)
    return {c: Quota.model_construct(**fields) for c, fields in parts.items()}


def _weights(clusters: list[str], shares: list, weights_by: dict[str, Quota] | None,
             resource: str, model: str | None = None) -> list[Decimal]:
    """Integer weights from the placement, or (for a guarantee) the clusters' quota shares."""
    if weights_by is None:
        return [Decimal(s.weight) for s in shares]
    out = []
    for cluster in clusters:
        quota = weights_by.get(cluster)
        value = (quota.gpu.get(model) if model else getattr(quota, resource)) if quota else None
        out.append(value.value if value is not None else Decimal(0))
    return out


def _check_explicit(tenant: Tenant, platform: Platform, clusters: list[str], total: Quota,
                    file: str, problems: Problems) -> dict[str, Quota]:
    """Explicit per-cluster amounts must add up to the logical quota, resource by resource."""
    result = {c: tenant.placement[c].quota for c in clusters}
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
    models = set(total.gpu) | {m for q in result.values() for m in q.gpu}
    for model in sorted(models):
        given = exact_sum(q.gpu[model].value for q in result.values() if model in q.gpu)
        want = total.gpu.get(model)
        if want is None or given != want.value:
            problems.add(file, f"placement.*.quota.gpu.{model}",
                         f"cluster amounts sum to {given} but quota.gpu.{model} is {want or 0}",
                         "make the explicit amounts add up to the logical quota")
        for cluster, quota in result.items():
            if model in quota.gpu and model not in platform.cluster(cluster).gpu_models():  # type: ignore[union-attr]
                problems.add(file, f"placement.{cluster}.quota.gpu.{model}",
                             f"cluster '{cluster}' has no {model} GPUs", "place these GPUs on a cluster that has them")
    return result
