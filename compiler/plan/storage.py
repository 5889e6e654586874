"""The user and project storage levels: a home claim per member user and one project claim,
with their storage classes decided, and everything that counts against the storage quota
checked (those claims plus the PVC Fluid makes for each dataset).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from compiler.errors import Problems
from compiler.fluid import DATASET_CLAIM_SIZE
from compiler.model import Specs, TenantSpec
from compiler.model.common import user_handle
from compiler.model.data import PlatformStorage, Volume
from compiler.model.tenant import Quota, Tenant
from compiler.model.workloads import Notebook
from compiler.plan.datasets import Placements, as_bytes
from compiler.quantity import Quantity

PROJECT_CLAIM = "project"


def home_claim(user: str) -> str:
    return f"home-{user_handle(user)}"


@dataclass(frozen=True)
class ResolvedClaim:
    """A PersistentVolumeClaim of a storage level, with its class and access mode decided."""

    name: str
    size: Quantity
    storage_class: str
    access_mode: str
    level: str  # 'user' (home) or 'project'


def notebook_cluster(tenant: Tenant, nb: Notebook, clusters: list[str]) -> str | None:
    """The notebook's cluster: its own, the tenant's default, else the first of `clusters`."""
    return nb.cluster or tenant.notebook_defaults.cluster or (clusters[0] if clusters else None)


def home_users(tenant: Tenant, cluster: str, clusters: list[str]) -> list[str]:
    """The users with a notebook on `cluster`: only they get a home volume there (and only their
    notebooks mount it)."""
    return sorted({nb.user for nb in tenant.notebooks if notebook_cluster(tenant, nb, clusters) == cluster})


def resolve_claims(spec: TenantSpec, settings: PlatformStorage | None, users: list[str]) -> list[ResolvedClaim]:
    """Home claims (one per user in `users`, ReadWriteOnce) then the project claim (ReadWriteMany);
    none when the platform declares no storage (check_storage reports volumes asked for then)."""
    storage = spec.tenant.storage
    if settings is None:
        return []
    claims = []
    if storage.home is not None:
        claims += [ResolvedClaim(home_claim(user), storage.home.size, storage.home.storage_class or settings.home_class,
                                 "ReadWriteOnce", "user") for user in users]
    if storage.project is not None:
        project_class = storage.project.storage_class or settings.project_class
        claims.append(ResolvedClaim(PROJECT_CLAIM, storage.project.size, project_class, "ReadWriteMany", "project"))
    return claims


def check_storage(specs: Specs, quotas: dict, placements: Placements, problems: Problems) -> None:
    """Home volumes (one per user with a notebook on the cluster) and the project volume count
    against the storage quota; so does the PVC Fluid creates for each dataset (own or imported),
    sized DATASET_CLAIM_SIZE."""
    for spec in specs.tenants:
        storage = spec.tenant.storage
        shares = quotas.get(spec.tenant.name, {})
        _check_classes(spec, specs.platform.storage, [("storage.home", storage.home, 1),
                                                      ("storage.project", storage.project, 1)], problems)
        for cluster, share in shares.items():
            homes = len(home_users(spec.tenant, cluster, list(shares)))
            volumes = [("storage.home", storage.home, homes), ("storage.project", storage.project, 1)]
            # Fluid makes a claim for every Dataset: each cache of a dataset is one (plan/datasets.py).
            datasets = sum(len(p.sites) or 1 for p in placements.get((spec.tenant.name, cluster), []))
            _check_quota(spec, cluster, share, volumes, datasets, problems)


_Volumes = list[tuple[str, Volume | None, int]]  # (field path, volume, how many claims)
_DATASET_CLAIM_BYTES = Quantity.parse(DATASET_CLAIM_SIZE).value


def _check_classes(spec: TenantSpec, settings: PlatformStorage | None, volumes: _Volumes, problems: Problems) -> None:
    for where, volume, _ in volumes:
        if volume is None:
            continue
        if settings is None:
            problems.add(spec.source.path, where, "the platform declares no storage classes",
                         "add storage to tenants/platform.yaml")
            continue
        if volume.storage_class and volume.storage_class not in settings.classes:
            problems.add(spec.source.path, f"{where}.storageClass", f"unknown storage class '{volume.storage_class}'",
                         f"use one of: {', '.join(settings.classes)}")


def _check_quota(spec: TenantSpec, cluster: str, share: Quota, volumes: _Volumes, datasets: int,
                 problems: Problems) -> None:
    """The claims and `datasets` dataset claims on one cluster within its storage and pvcs quota."""
    need = sum((v.size.value * n for _, v, n in volumes if v is not None), Decimal(0))
    claims = sum(n for _, v, n in volumes if v is not None)
    with_datasets = need + datasets * _DATASET_CLAIM_BYTES
    also = f" (with {datasets} dataset claims of {DATASET_CLAIM_SIZE})" if datasets else ""
    if need and share.storage is None:
        problems.add(spec.source.path, "storage", f"volumes need {as_bytes(need)} on {cluster} but the storage "
                     "quota there is 0", "raise quota.storage or shrink the volumes")
    elif share.storage is not None and with_datasets > share.storage.value:
        problems.add(spec.source.path, "storage", f"volumes need {as_bytes(with_datasets)}{also} on {cluster} "
                     f"but the storage quota there is {share.storage}", "raise quota.storage or shrink the volumes")
    if claims + datasets and share.pvcs is not None and claims + datasets > share.pvcs.value:
        problems.add(spec.source.path, "storage", f"{claims + datasets} volumes{also} on {cluster} but the "
                     f"pvcs quota there is {share.pvcs}", "raise quota.pvcs")
