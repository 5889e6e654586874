"""Datasets placed per tenant and cluster: own ones where the tenant wants them, imports where
the owner exports them, the platform's global datasets everywhere; and the cache tiers they
need checked against the cache pools.

Placing an import reads the owner's spec (its datasets, exports and clusters), so the plan
records which tenants each tenant read: the unit cache keys a unit on those specs too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.data import Dataset
from compiler.model.platform import Cluster
from compiler.quantity import FORMAT_BINARY, canonical

Placements = dict[tuple[str, str], list["DatasetPlacement"]]  # (tenant, cluster) -> datasets there


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


@dataclass(frozen=True)
class DatasetUse:
    """A dataset a pod mounts at /data/<name>, read-write only when its placement is writable."""

    name: str
    writable: bool


@dataclass
class PlacedDatasets:
    """Where every dataset landed, and whose specs each tenant's placements read."""

    placements: Placements = field(default_factory=dict)
    reads: dict[str, set[str]] = field(default_factory=dict)  # importer -> owners whose specs it read


class _Wanted(NamedTuple):
    """One dataset a tenant asks for from another: an import, or a platform global dataset."""

    where: str  # field path of the import (or of the platform's global dataset)
    owner: str
    dataset: str
    local_name: str
    write: bool
    is_global: bool


def place_datasets(specs: Specs, quotas: dict, problems: Problems) -> PlacedDatasets:
    """Own, imported and global datasets per (tenant, cluster), with the sharing rules checked."""
    out = PlacedDatasets()
    owners = {t.tenant.name: t for t in specs.tenants}
    dataset_clusters: dict[tuple[str, str], list[str]] = {}
    for spec in specs.tenants:
        _place_own(spec, list(quotas.get(spec.tenant.name, {})), owners, out.placements, dataset_clusters, problems)
    for spec in specs.tenants:
        tenant = spec.tenant.name
        for wanted in _wanted_by(spec, specs, problems):
            out.reads.setdefault(tenant, set()).add(wanted.owner)
            dataset = _granted(wanted, spec, owners, problems)
            if dataset is None:
                continue
            for c in quotas.get(tenant, {}):
                if c in dataset_clusters.get((wanted.owner, wanted.dataset), []):
                    out.placements.setdefault((tenant, c), []).append(DatasetPlacement(
                        tenant, wanted.local_name, c, None, (wanted.owner, wanted.dataset), wanted.write,
                        spec.source.path))
    return out


def _place_own(spec: TenantSpec, clusters: list[str], owners: dict[str, TenantSpec], out: Placements,
               dataset_clusters: dict[tuple[str, str], list[str]], problems: Problems) -> None:
    """The tenant's own datasets on the clusters it names (default: all of its clusters)."""
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
        _check_exports(spec, i, ds, owners, problems)


def _check_exports(spec: TenantSpec, i: int, ds: Dataset, owners: dict[str, TenantSpec], problems: Problems) -> None:
    for j, export in enumerate(ds.export_to):
        if export.tenant != "*" and export.tenant not in owners:
            problems.add(spec.source.path, f"datasets[{i}].exportTo[{j}].tenant", f"unknown tenant '{export.tenant}'",
                         "name an existing tenant or '*'")
        if export.write and ds.read_only:
            problems.add(spec.source.path, f"datasets[{i}].exportTo[{j}].write",
                         "cannot grant write on a read-only dataset", "set readOnly: false or write: false")


def _wanted_by(spec: TenantSpec, specs: Specs, problems: Problems) -> list[_Wanted]:
    """The tenant's imports, then the platform's global datasets it does not own or shadow."""
    wanted = [_Wanted(f"imports[{i}]", imp.tenant, imp.dataset, imp.local_name, imp.write, False)
              for i, imp in enumerate(spec.tenant.imports)]
    wanted += [_Wanted(f"(platform globalDatasets[{i}])", g.tenant, g.dataset, g.dataset, False, True)
               for i, g in enumerate(specs.platform.global_datasets)
               if g.tenant != spec.tenant.name and not _shadows_global(spec, g.tenant, g.dataset, problems)]
    return wanted


def _granted(wanted: _Wanted, spec: TenantSpec, owners: dict[str, TenantSpec], problems: Problems) -> Dataset | None:
    """The owner's dataset when it exists and is exported to this tenant as asked, else None
    (with the problem reported)."""
    tenant, file = spec.tenant.name, spec.source.path
    owner = owners.get(wanted.owner)
    dataset = next((d for d in owner.tenant.datasets if d.name == wanted.dataset), None) if owner else None
    if dataset is None:
        problems.add(file, wanted.where, f"tenant '{wanted.owner}' has no dataset '{wanted.dataset}'",
                     "import a dataset the other tenant declares")
        return None
    grant = next((e for e in dataset.export_to if e.tenant in (tenant, "*")), None)
    if not wanted.is_global and grant is None:
        problems.add(file, wanted.where,
                     f"tenant '{wanted.owner}' does not export dataset '{wanted.dataset}' to '{tenant}'",
                     f"ask {wanted.owner} to add {tenant} to datasets.{wanted.dataset}.exportTo")
        return None
    if wanted.write and not (grant and grant.write):
        problems.add(file, f"{wanted.where}.write",
                     f"tenant '{wanted.owner}' exports '{wanted.dataset}' to '{tenant}' read-only",
                     "import it read-only or ask for write in exportTo")
        return None
    return dataset


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


def dataset_uses(names: list[str], placed: list[DatasetPlacement]) -> list[DatasetUse]:
    """The datasets `names` as a pod mounts them, for those placed (the others are reported
    by the caller)."""
    by_name = {p.local_name: p for p in placed}
    return [DatasetUse(name, by_name[name].writable) for name in names if name in by_name]


def check_cache_capacity(specs: Specs, placements: Placements, problems: Problems) -> None:
    """Cache tiers (quota x most replicas, scaling included) of all datasets on a cluster must fit
    its cache pools."""
    for cluster in specs.platform.clusters:
        used, users = _cache_use(cluster.name, placements)
        capacity = _cache_capacity(cluster)
        for medium, need in sorted(used.items()):
            have = capacity.get(medium, Decimal(0))
            if need > have:
                problems.add(specs.platform_source.path,
                             f"clusters.{cluster.name}.nodePools(cache).cacheCapacity.{medium}",
                             f"dataset caches need {as_bytes(need)} of {medium} but the cache pools have "
                             f"{as_bytes(have)} (datasets: {', '.join(sorted(users[medium]))})",
                             "shrink the tiers or replicas, or add cache capacity")


def _cache_use(cluster: str, placements: Placements) -> tuple[dict[str, Decimal], dict[str, list[str]]]:
    """Cache space per medium that the datasets owned on a cluster need, and which datasets."""
    used: dict[str, Decimal] = {}
    users: dict[str, list[str]] = {}
    for (tenant, c), items in placements.items():
        if c != cluster:
            continue
        for p in items:
            if p.own is None:
                continue
            # Scheduled scaling may grow the cache: count the largest size it reaches.
            replicas = max([p.own.runtime.replicas, *(step.replicas for step in p.own.scaling)])
            for tier in p.own.runtime.tiers:
                used[tier.medium] = used.get(tier.medium, Decimal(0)) + tier.quota.value * replicas
                users.setdefault(tier.medium, []).append(f"{tenant}/{p.local_name}")
    return used, users


def _cache_capacity(cluster: Cluster) -> dict[str, Decimal]:
    capacity: dict[str, Decimal] = {}
    for pool in cluster.pools("cache"):
        for medium, q in pool.cache_capacity.items():
            capacity[medium] = capacity.get(medium, Decimal(0)) + q.value
    return capacity


def as_bytes(value: Decimal) -> str:
    """A byte amount in its canonical binary form ('1536Mi')."""
    return canonical(value, FORMAT_BINARY)
