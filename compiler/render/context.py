"""What a renderer sees: one tenant on one cluster (or the platform on one cluster)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler import delivery
from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_LABEL,
    PLATFORM_TENANT,
    PROJECT_LABEL,
    SOURCE_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
    TENANT_LABEL,
    stage_of,
)
from compiler.model.common import Member
from compiler.model.platform import Cluster, Platform
from compiler.model.tenant import Quota, Tenant
from compiler.plan import Plan, ResolvedProject, UnitWorkloads


@dataclass(frozen=True)
class TenantContext:
    """One tenant on one cluster: its share, and the workloads the plan decided for it; with
    `project` set, one of its projects' namespaces (compiler/render/projects.py)."""

    plan: Plan
    tenant: Tenant
    cluster: Cluster
    share: Quota
    guarantee: Quota | None
    source: str
    project: ResolvedProject | None = None

    @property
    def platform(self) -> Platform:
        return self.plan.specs.platform

    @property
    def namespace(self) -> str:
        return self.project.namespace if self.project else self.tenant.name

    @property
    def namespace_quota(self) -> Quota:
        """What this namespace's ResourceQuota holds: the project's part, the tenant namespace's
        part when the tenant has projects, else the tenant's whole share on the cluster."""
        if self.project:
            return self.project.share
        return self.plan.projects.own_shares.get((self.tenant.name, self.cluster.name), self.share)

    @property
    def members(self) -> list[Member]:
        return list(self.project.members) if self.project else self.tenant.members

    @property
    def queue(self) -> str:
        """The Volcano queue this namespace's workloads go to."""
        return self.project.queue if self.project else self.plan.projects.own_queue(self.tenant.name)

    @property
    def workloads(self) -> UnitWorkloads:
        return self.plan.workloads.unit(self.tenant.name, self.cluster.name)

    def obj(self, api_version: str, kind: str, name: str, namespaced: bool = True,
            labels: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        if self.project:
            labels = {**(labels or {}), PROJECT_LABEL: self.project.name}
        return make_object(api_version, kind, name, self.namespace if namespaced else None,
                           self.tenant.name, self.cluster.name, self.source, labels, body,
                           platform=self.plan.specs.platform.name)


@dataclass(frozen=True)
class PlatformContext:
    """The platform's own objects on one cluster (rendered/<cluster>/_platform/)."""

    plan: Plan
    cluster: Cluster
    source: str

    @property
    def platform(self) -> Platform:
        return self.plan.specs.platform

    def obj(self, api_version: str, kind: str, name: str, namespace: str | None = None,
            labels: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        return make_object(api_version, kind, name, namespace, PLATFORM_TENANT, self.cluster.name,
                           self.source, labels, body, platform=self.platform.name)


def make_object(api_version: str, kind: str, name: str, namespace: str | None, tenant: str,
                cluster: str, source: str, labels: dict[str, str] | None, body: dict[str, Any], *,
                platform: str) -> dict[str, Any]:
    """An object with tenantc's ownership labels, its source file, its apply stage and the
    Argo CD annotations of compiler.delivery's rules.

    apply and prune find what tenantc owns by these labels alone, so every object gets them.
    """
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {**(labels or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: tenant,
                   CLUSTER_LABEL: cluster, PLATFORM_LABEL: platform},
        "annotations": {SOURCE_ANNOTATION: source},
    }
    if namespace:
        metadata["namespace"] = namespace
    obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}
    metadata["annotations"][SYNC_WAVE_ANNOTATION] = str(stage_of(obj))
    metadata["annotations"].update(delivery.argocd_annotations(obj))  # Namespaces and PVCs: never pruned
    return obj
