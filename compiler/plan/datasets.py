"""Datasets placed per tenant and cluster: own ones where the tenant wants them, imports where
the owner exports them, the platform's global datasets everywhere; their caches placed next to
the pods that read them; and the cache tiers checked against the pools' cache capacity.

Where caches go (compiler.fluid explains why, from Fluid's documented scheduling): a cached
dataset has a home cache on the cluster's CPU pools, named like the dataset, and a cache on the
pools of each GPU model whose pods read it there, `<dataset>-<model>`. Each is one Fluid Dataset
with its runtime, placed by the Dataset's nodeAffinity and tolerations (its pools' labels and
taints); a pod mounts the claim of the cache on its own kind of pool, so Fluid's cache affinity
can always place it next to its cache. An importer gets a Dataset referring to each of the
owner's caches its pods read.

Placing an import reads the owner's spec (its datasets, exports and clusters), and the GPU
caches of a dataset follow the pods of every tenant that reads it, so the plan records which
tenants each tenant read: the unit cache keys a unit on those specs too.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import NamedTuple

from compiler.errors import Problems
from compiler.fluid import CONSISTENT_ACROSS_CACHES, cache_name
from compiler.model import Specs, TenantSpec
from compiler.model.data import MAX_DATASET_NAME, Dataset
from compiler.model.platform import Cluster, NodePool
from compiler.quantity import FORMAT_BINARY, canonical

Placements = dict[tuple[str, str], list["DatasetPlacement"]]  # (tenant, cluster) -> datasets there


@dataclass(frozen=True)
class CacheSite:
    """One Fluid Dataset a placed dataset is drawn as, in its tenant's namespace: the home cache
    (gpu_model None; the only one of a dataset without cache), or the cache next to one GPU
    model's readers."""

    name: str  # the Dataset's (and its runtime's and Fluid's claim's) name
    gpu_model: str | None
    pools: tuple[NodePool, ...] = ()  # own cached datasets: where the cache workers run
    origin: str | None = None  # imports: the owner's Dataset this one refers to


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
    cached: bool = False  # a cache runtime keeps the data (the owner's runtime is not thin)
    sites: tuple[CacheSite, ...] = ()  # decided by place_caches once the readers are known


@dataclass(frozen=True)
class DatasetUse:
    """A dataset a pod mounts at /data/<name>, read-write only when its placement is writable,
    from the claim of the cache on the pod's own kind of pool."""

    name: str
    writable: bool
    cached: bool = False

    def claim(self, gpu_model: str | None) -> str:
        """The claim a pod mounts: a GPU pod (`gpu_model`) that of its model's cache, any other
        pod the home cache's (the dataset's own name)."""
        return cache_name(self.name, gpu_model) if self.cached else self.name


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
                        spec.source.path, cached=_keeps_cache(dataset)))
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
                DatasetPlacement(spec.tenant.name, ds.name, c, ds, None, not ds.read_only, spec.source.path,
                                 cached=_keeps_cache(ds)))
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


def _keeps_cache(ds: Dataset) -> bool:
    return ds.runtime.type != "thin"


def dataset_uses(names: list[str], placed: list[DatasetPlacement]) -> list[DatasetUse]:
    """The datasets `names` as a pod mounts them, for those placed (the others are reported
    by the caller)."""
    by_name = {p.local_name: p for p in placed}
    return [DatasetUse(name, by_name[name].writable, by_name[name].cached) for name in names if name in by_name]


def caches_read(uses: list[DatasetUse], names: list[str], gpu_models: list[str | None]) -> list[str]:
    """The claims (each a Fluid Dataset with its cache status) that pods of `gpu_models` (None:
    CPU pods) read for the datasets `names`, in the order of `names`: what a wait for those
    datasets must wait for."""
    by_name = {u.name: u for u in uses}
    out: list[str] = []
    for name in names:
        use = by_name.get(name)
        for model in sorted(set(gpu_models), key=lambda m: (m is not None, m or "")):
            claim = use.claim(model) if use is not None else name
            if claim not in out:
                out.append(claim)
    return out


class Reader(NamedTuple):
    """A pod template that mounts a dataset: its tenant and cluster, the dataset's name there,
    the GPU model of its pool (None: a CPU pod) and whether it mounts it read-write."""

    tenant: str
    cluster: str
    dataset: str
    gpu_model: str | None
    writes: bool = False


def place_caches(specs: Specs, placed: PlacedDatasets, readers: list[Reader], problems: Problems) -> None:
    """Decide every placement's sites (see the module docstring): the home cache on the CPU
    pools, and a cache on each GPU model's pools where pods of that model read the dataset.
    Records in `placed.reads` that an owner's caches follow the readers of other tenants."""
    owner_models: dict[tuple[str, str, str], set[str]] = {}  # (owner, dataset, cluster) -> GPU models
    local_models: dict[tuple[str, str, str], set[str]] = {}  # (tenant, cluster, name) -> GPU models
    writers: dict[tuple[str, str, str], set[str]] = {}  # (owner, dataset, cluster) -> who mounts it read-write
    by_key = {(p.tenant, p.cluster, p.local_name): p for items in placed.placements.values() for p in items}
    for reader in readers:
        p = by_key.get((reader.tenant, reader.cluster, reader.dataset))
        if p is None or not p.cached:
            continue
        owner, dataset = p.origin or (p.tenant, p.local_name)
        if reader.writes:
            writers.setdefault((owner, dataset, p.cluster), set()).add(
                f"{reader.tenant}'s {reader.gpu_model or 'CPU'} pods")
        if reader.gpu_model is None:
            continue
        owner_models.setdefault((owner, dataset, p.cluster), set()).add(reader.gpu_model)
        local_models.setdefault((p.tenant, p.cluster, p.local_name), set()).add(reader.gpu_model)
        if owner != p.tenant:
            placed.reads.setdefault(owner, set()).add(p.tenant)
    for key, items in placed.placements.items():
        cluster = specs.platform.cluster(key[1])
        if cluster is None:
            continue
        placed.placements[key] = [_with_sites(specs, p, cluster, owner_models, local_models, problems) for p in items]
        for p in placed.placements[key]:
            _check_writes_seen(p, writers.get((p.tenant, p.local_name, p.cluster), set()), specs, problems)
        _check_site_names(specs, placed.placements[key], problems)
    _check_pools_labelled(specs, placed.placements, problems)


def _check_pools_labelled(specs: Specs, placements: Placements, problems: Problems) -> None:
    """A cache's Dataset selects its pools by their labels: a pool without any would let it run anywhere."""
    users: dict[tuple[str, str], list[str]] = {}
    for (tenant, cluster), items in placements.items():
        for p in items:
            for site in p.sites:
                for pool in site.pools:
                    if not pool.labels:
                        users.setdefault((cluster, pool.name), []).append(f"{tenant}/{site.name}")
    for (cluster, pool_name), caches in sorted(users.items()):
        problems.add(specs.platform_source.path, f"clusters.{cluster}.nodePools({pool_name}).labels",
                     f"{len(caches)} dataset cache(s) run on this pool ({', '.join(sorted(caches)[:3])}"
                     f"{', ...' if len(caches) > 3 else ''}) but it has no labels to keep them there",
                     "give the pool the labels its nodes carry")


def _with_sites(specs: Specs, p: DatasetPlacement, cluster: Cluster, owner_models: dict, local_models: dict,
                problems: Problems) -> DatasetPlacement:
    if not p.cached:
        return replace(p, sites=(CacheSite(p.local_name, None, origin=p.origin[1] if p.origin else None),))
    order = {m: i for i, m in enumerate(cluster.gpu_models())}
    if p.origin is not None:
        models = sorted(local_models.get((p.tenant, p.cluster, p.local_name), set()), key=order.__getitem__)
        home = CacheSite(p.local_name, None, origin=p.origin[1])
        return replace(p, sites=(home, *(CacheSite(cache_name(p.local_name, m), m, origin=cache_name(p.origin[1], m))
                                         for m in models)))
    assert p.own is not None
    models = sorted(owner_models.get((p.tenant, p.local_name, p.cluster), set()), key=order.__getitem__)
    where = f"datasets[{_index(specs, p)}]"
    if not cluster.pools("cpu"):
        problems.add(p.source, where, f"cluster '{cluster.name}' has no cpu pool for the dataset's home cache",
                     "give the cluster a cpu pool, or keep the dataset off it (clusters)")
    sites = [CacheSite(p.local_name, None, tuple(cluster.pools_for("cpu")))]  # shared pools: no resource group
    sites += [CacheSite(cache_name(p.local_name, m), m, tuple(cluster.pools_for("gpu", None, m)))
              for m in models]
    return replace(p, sites=tuple(sites))


def _check_writes_seen(p: DatasetPlacement, writers: set[str], specs: Specs, problems: Problems) -> None:
    """Pods that write through one cache while pods of another kind read through another: those
    caches would not see the writes (but for a runtime whose caches stay consistent). Writes
    to the storage itself reach every cache alike, through Fluid's metadata sync and refresh."""
    if p.own is None or len(p.sites) < 2 or not writers or p.own.runtime.type in CONSISTENT_ACROSS_CACHES:
        return
    kinds = ", ".join(["CPU", *(s.gpu_model or "" for s in p.sites[1:])])
    problems.add(p.source, f"datasets[{_index(specs, p)}]",
                 f"on {p.cluster}, {', '.join(sorted(writers))} write it and pods of several kinds ({kinds}) read "
                 f"it, each through the cache on its own pools: {p.own.runtime.type} caches would not see each "
                 "other's writes", "mount it read-only where it is read, let one kind of pod use it there, or use a "
                 "juicefs runtime")


def _index(specs: Specs, p: DatasetPlacement) -> int:
    owner = specs.tenant(p.tenant)
    assert owner is not None
    return next(i for i, d in enumerate(owner.tenant.datasets) if d.name == p.local_name)


def _check_site_names(specs: Specs, items: list[DatasetPlacement], problems: Problems) -> None:
    """A GPU model's cache is a Dataset named `<dataset>-<model>`: it must be a name of its own,
    and as short as a dataset name (its scaler CronJobs are named after it)."""
    taken = {p.local_name: p for p in items}
    for p in items:
        for site in p.sites[1:]:
            other = taken.get(site.name)
            if other is not None:
                at = other if other.own is not None else p  # a global import has no field of its own
                problems.add(at.source, _name_path(specs, at),
                             f"'{site.name}' is the name of {p.local_name}'s cache for the {site.gpu_model} pods "
                             f"on {p.cluster}, and of another dataset here", "rename one of the two datasets")
            if len(site.name) > MAX_DATASET_NAME:
                problems.add(p.source, _name_path(specs, p), f"its cache for the {site.gpu_model} pods on "
                             f"{p.cluster}, '{site.name}', is longer than {MAX_DATASET_NAME} characters",
                             "shorten the dataset's name")


def _name_path(specs: Specs, p: DatasetPlacement) -> str:
    """The field naming a placed dataset in its tenant's file."""
    if p.own is not None:
        return f"datasets[{_index(specs, p)}].name"
    spec = specs.tenant(p.tenant)
    assert spec is not None
    found = [i for i, imp in enumerate(spec.tenant.imports) if imp.local_name == p.local_name]
    return f"imports[{found[0]}].name" if found else "imports"


def check_cache_capacity(specs: Specs, placements: Placements, problems: Problems) -> None:
    """The cache tiers (quota x most replicas, scaling included) of every cache on a kind of pool
    (the CPU pools, or one GPU model's pools) must fit the cache capacity those pools declare."""
    for cluster in specs.platform.clusters:
        used, users, pools = _cache_use(cluster.name, placements)
        for group, by_medium in used.items():
            names = [q.name for q in pools[group]]
            capacity = _cache_capacity(pools[group])
            for medium, need in sorted(by_medium.items()):
                have = capacity.get(medium, Decimal(0))
                if need > have:
                    problems.add(specs.platform_source.path,
                                 f"clusters.{cluster.name}.nodePools({','.join(names)}).cacheCapacity.{medium}",
                                 f"dataset caches need {as_bytes(need)} of {medium} on {', '.join(names)} but these "
                                 f"pools declare {as_bytes(have)} (caches: {', '.join(sorted(users[group][medium]))})",
                                 "shrink the tiers or replicas, or declare more cacheCapacity on these pools")


_Group = str | None  # the kind of pool a cache is on: None for the CPU pools, else a GPU model


def _cache_use(cluster: str, placements: Placements) -> tuple[dict[_Group, dict[str, Decimal]],
                                                              dict[_Group, dict[str, list[str]]],
                                                              dict[_Group, tuple[NodePool, ...]]]:
    """Cache space per kind of pool and medium that the caches owned on a cluster need, which
    caches, and the pools of each kind."""
    used: dict[_Group, dict[str, Decimal]] = {}
    users: dict[_Group, dict[str, list[str]]] = {}
    pools: dict[_Group, tuple[NodePool, ...]] = {}
    for (tenant, c), items in placements.items():
        if c != cluster:
            continue
        for p in items:
            if p.own is None or not p.cached:
                continue
            # Scheduled scaling may grow the cache: count the largest size it reaches.
            replicas = max([p.own.runtime.replicas, *(step.replicas for step in p.own.scaling)])
            for site in p.sites:
                pools[site.gpu_model] = site.pools
                for tier in p.own.runtime.tiers:
                    by_medium = used.setdefault(site.gpu_model, {})
                    by_medium[tier.medium] = by_medium.get(tier.medium, Decimal(0)) + tier.quota.value * replicas
                    users.setdefault(site.gpu_model, {}).setdefault(tier.medium, []).append(f"{tenant}/{site.name}")
    return used, users, pools


def _cache_capacity(pools: tuple[NodePool, ...]) -> dict[str, Decimal]:
    capacity: dict[str, Decimal] = {}
    for pool in pools:
        for medium, q in pool.cache_capacity.items():
            capacity[medium] = capacity.get(medium, Decimal(0)) + q.value
    return capacity


def as_bytes(value: Decimal) -> str:
    """A byte amount in its canonical binary form ('1536Mi')."""
    return canonical(value, FORMAT_BINARY)
