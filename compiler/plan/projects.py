"""Projects: a tenant's namespaces besides its own, decided per cluster.

Each project of tenant T is namespace and Volcano queue 'T-<project>' on every cluster T is
placed on; its queue's parent is T's queue. Volcano admits jobs into leaf queues only (its job
admission webhook: "can only submit job to leaf queue", volcano-sh/volcano
pkg/webhooks/admission/jobs/validate/util.go; hierarchical queues: https://volcano.sh/en/docs/
hierarchical_queue/), so once T has projects its own namespace's workloads go to a leaf queue
'T-default' as well, and T's queue only caps the sum.

Quota: the tenant's own namespace and its projects split the tenant's logical quota, by
weights or by explicit amounts that add up (a resource an explicit part leaves out is 0), as
clusters do. Each part is then spread over the tenant's clusters so that on every cluster the
parts add up to that cluster's share exactly and over the clusters each part adds up to its
logical amount exactly: cluster by cluster, the cluster's share is split in proportion to what
each part still needs (largest remainder, in a unit dividing every amount, so no part ever
takes more than it still needs), and the last cluster takes what is left.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.common import Member, quota_of
from compiler.model.projects import OWN_QUEUE_SUFFIX
from compiler.model.tenant import Quota, Tenant
from compiler.plan.quota import SCALARS, Shares
from compiler.plan.split import BYTE_UNITS, MILLI, SplitError, granularity, split, split_resource
from compiler.quantity import EXACT, Quantity, exact_sum

Amounts = dict[str, Decimal]  # 'cpu', 'memory', ..., 'gpu.<model>' -> amount


@dataclass(frozen=True)
class ResolvedProject:
    """One project on one cluster: where it lives, who may use it and its part of the share."""

    name: str
    namespace: str
    queue: str
    members: tuple[Member, ...]  # the tenant's admins first, then the project's own
    share: Quota  # every resource of the tenant's share on this cluster, 0 where the project has none


@dataclass
class ProjectPlan:
    """Every tenant's projects per cluster, its own namespace's part and all its namespaces."""

    units: dict[tuple[str, str], tuple[ResolvedProject, ...]] = field(default_factory=dict)  # (tenant, cluster)
    own_shares: dict[tuple[str, str], Quota] = field(default_factory=dict)  # the tenant namespace's part
    namespaces: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tenant -> all its namespaces

    def unit(self, tenant: str, cluster: str) -> tuple[ResolvedProject, ...]:
        return self.units.get((tenant, cluster), ())

    def own_queue(self, tenant: str) -> str:
        """The queue the tenant's own namespace's workloads go to."""
        return own_queue_name(tenant) if len(self.namespaces.get(tenant, ())) > 1 else tenant

    def namespaces_of(self, tenant: str) -> list[str]:
        return list(self.namespaces.get(tenant, (tenant,)))

    def own_namespace_quotas(self, quotas: dict[str, Shares]) -> dict[str, Shares]:
        """Each tenant's shares with its own namespace's part where it has projects."""
        return {t: {c: self.own_shares.get((t, c), q) for c, q in shares.items()} for t, shares in quotas.items()}


def project_namespace(tenant: str, project: str) -> str:
    return f"{tenant}-{project}"


def own_queue_name(tenant: str) -> str:
    return f"{tenant}-{OWN_QUEUE_SUFFIX}"


def plan_projects(specs: Specs, quotas: dict[str, Shares], problems: Problems) -> ProjectPlan:
    out = ProjectPlan()
    taken = _names_taken(specs)
    for spec in specs.tenants:
        tenant = spec.tenant
        if not tenant.projects:
            continue
        out.namespaces[tenant.name] = (tenant.name, *(project_namespace(tenant.name, p.name) for p in tenant.projects))
        _check_names(spec, taken, problems)
        parts = _logical_parts(spec, problems)
        shares = quotas.get(tenant.name, {})
        if parts is None or not shares:
            continue
        per_cluster = spread_parts(parts, shares, tenant.quota)
        if per_cluster is None:  # the cluster shares did not add up: reported by the quota split
            continue
        admins = tuple(m for m in tenant.members if m.role == "admin")
        for cluster, split_parts in per_cluster.items():
            out.own_shares[(tenant.name, cluster)] = split_parts[0]
            out.units[(tenant.name, cluster)] = tuple(
                ResolvedProject(p.name, project_namespace(tenant.name, p.name), project_namespace(tenant.name, p.name),
                                admins + tuple(p.members), share)
                for p, share in zip(tenant.projects, split_parts[1:], strict=True))
    return out


def _names_taken(specs: Specs) -> dict[str, str]:
    """Namespace and queue names already in use -> what uses them."""
    platform = specs.platform
    taken = {n: "a platform namespace" for n in (platform.dns_namespace, platform.ingress_namespace,
                                                   platform.monitoring_namespace)}
    taken.update({q.name: "a platform queue" for q in platform.queues})
    taken[platform.root_queue] = "the root queue"
    for spec in specs.tenants:
        taken[spec.tenant.name] = f"tenant '{spec.tenant.name}'"
        if spec.tenant.projects:
            taken[own_queue_name(spec.tenant.name)] = f"the queue of tenant '{spec.tenant.name}''s own namespace"
    for spec in specs.tenants:
        for project in spec.tenant.projects:
            taken.setdefault(project_namespace(spec.tenant.name, project.name),
                             f"project '{project.name}' of tenant '{spec.tenant.name}'")
    return taken


def _check_names(spec: TenantSpec, taken: dict[str, str], problems: Problems) -> None:
    tenant = spec.tenant.name
    for i, project in enumerate(spec.tenant.projects):
        name = project_namespace(tenant, project.name)
        owner = taken.get(name, "")
        if owner and owner != f"project '{project.name}' of tenant '{tenant}'":
            problems.add(spec.source.path, f"projects[{i}].name",
                         f"its namespace and queue '{name}' are already {owner}",
                         "choose another project name")


def _resources(quota: Quota) -> list[str]:
    return [r for r in SCALARS if getattr(quota, r) is not None] + [f"gpu.{m}" for m in quota.gpu]


def _amount(quota: Quota | None, resource: str) -> Quantity | None:
    if quota is None:
        return None
    if resource.startswith("gpu."):
        return quota.gpu.get(resource[4:])
    value: Quantity | None = getattr(quota, resource)
    return value


def _split_kind(resource: str) -> str:
    return "gpu" if resource.startswith("gpu.") else resource


def _logical_parts(spec: TenantSpec, problems: Problems) -> list[Amounts] | None:
    """The tenant's quota split into [own namespace, project...] logical amounts."""
    tenant, file = spec.tenant, spec.source.path
    entries = [tenant.own_share] + [p.share for p in tenant.projects]
    explicit = tenant.projects[0].share.quota is not None
    if explicit:
        return _explicit_parts(tenant, entries, file, problems)
    weights = [Decimal(e.weight if e is not None and e.weight is not None else 1) for e in entries]
    parts: list[Amounts] = [{} for _ in entries]
    ok = True
    for resource in _resources(tenant.quota):
        total = _amount(tenant.quota, resource)
        assert total is not None
        try:
            values = _split_logical(_split_kind(resource), total.value, weights)
        except SplitError as exc:
            problems.add(file, "projects", f"quota.{resource} cannot be split over the projects: {exc}",
                         "use weights that are not all 0 and an amount that divides into whole units")
            ok = False
            continue
        for part, value in zip(parts, values, strict=True):
            part[resource] = value
    return parts if ok else None


def _split_logical(kind: str, total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split as clusters are (split_resource), but in a finer unit when that makes the split
    exact: 3Ti by 2:1:1 is 1.5Ti, 768Gi, 768Gi rather than whole Ti."""
    coarse = granularity(kind, total)
    units = {"memory": BYTE_UNITS, "storage": BYTE_UNITS, "cpu": [Decimal(1), MILLI]}.get(kind, [])
    finer = [u for u in units if u <= coarse]
    whole = [int(w) for w in weights]
    if whole == weights and sum(whole) > 0:
        for unit in finer:
            count = EXACT.divide_int(total, unit)
            if EXACT.multiply(count, unit) == total and all(int(count) * w % sum(whole) == 0 for w in whole):
                return split(total, weights, unit)
    return split_resource(kind, total, weights)


def _explicit_parts(tenant: Tenant, entries: list, file: str, problems: Problems) -> list[Amounts] | None:
    quotas: list[Quota | None] = [e.quota if e is not None else None for e in entries]
    wheres = ["ownShare.quota"] + [f"projects[{i}].share.quota" for i in range(len(tenant.projects))]
    wanted = set(_resources(tenant.quota))
    ok = True
    for quota, where in zip(quotas, wheres, strict=True):
        for resource in _resources(quota) if quota is not None else []:
            if resource not in wanted:
                problems.add(file, f"{where}.{resource}", f"{resource} is given to a project but the tenant's quota "
                             "has none", f"add quota.{resource} or remove it here")
                ok = False
    for resource in sorted(wanted):
        total = _amount(tenant.quota, resource)
        assert total is not None
        given = exact_sum(a.value for q in quotas if (a := _amount(q, resource)) is not None)
        if given != total.value:
            problems.add(file, f"projects[*].share.quota.{resource}",
                         f"the projects and ownShare sum to {Quantity(given, total.fmt)} but quota.{resource} is "
                         f"{total}", "make the explicit amounts (ownShare.quota included) add up to the tenant's quota")
            ok = False
    if not ok:
        return None
    return [{r: (a.value if (a := _amount(q, r)) is not None else Decimal(0)) for r in wanted} for q in quotas]


def spread_parts(parts: list[Amounts], shares: Shares, total: Quota) -> dict[str, list[Quota]] | None:
    """Each part's amounts over the clusters (see the module docstring); None when the cluster
    shares do not add up to the quota (an error already reported)."""
    out: dict[str, list[dict]] = {c: [{"gpu": {}} for _ in parts] for c in shares}
    for resource in _resources(total):
        kind, fmt = _split_kind(resource), _amount(total, resource)
        assert fmt is not None
        clusters = [c for c in shares if _amount(shares[c], resource) is not None]
        cluster_amounts = [_amount(shares[c], resource) for c in clusters]
        if exact_sum(a.value for a in cluster_amounts if a is not None) != fmt.value:
            return None
        remaining = [p[resource] for p in parts]
        for i, (cluster, amount) in enumerate(zip(clusters, cluster_amounts, strict=True)):
            assert amount is not None
            values = remaining if i == len(clusters) - 1 else _split_needs(kind, amount.value, remaining)
            remaining = [EXACT.subtract(r, v) for r, v in zip(remaining, values, strict=True)]
            for target, value in zip(out[cluster], values, strict=True):
                if resource.startswith("gpu."):
                    target["gpu"][resource[4:]] = Quantity(value, amount.fmt)
                else:
                    target[resource] = Quantity(value, amount.fmt)
    return {c: [quota_of(**fields) for fields in per] for c, per in out.items()}


def _split_needs(kind: str, amount: Decimal, needs: list[Decimal]) -> list[Decimal]:
    """`amount` split in proportion to `needs`, in a unit that divides every number involved."""
    unit = min(granularity(kind, value) for value in [amount, *needs])
    return split(amount, needs, unit)
