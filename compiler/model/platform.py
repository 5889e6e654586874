"""The platform file (tenants/platform.yaml): clusters, pools, defaults, shared settings."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from compiler.fluid import CacheMedium
from compiler.model.common import DnsName, QuantityField, Spec, duplicate_names
from compiler.model.data import GlobalDataset, PlatformStorage
from compiler.model.workloads import NotebookSettings, Template


class Taint(Spec):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(Spec):
    """A group of nodes; GPU pools name their GPU model, which tenants' GPU quota refers to."""

    name: DnsName
    role: Literal["cpu", "gpu", "cache"] = "cpu"
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    gpu_model: str | None = None
    gpu_resource: str = "nvidia.com/gpu"
    cache_capacity: dict[CacheMedium, QuantityField] = Field(
        default_factory=dict, description="cache pools: total cache space per medium, for Fluid tiers")

    @model_validator(mode="after")
    def _gpu_model_for_gpu_pools(self) -> NodePool:
        if self.role == "gpu" and not self.gpu_model:
            raise ValueError("a gpu pool needs gpuModel (e.g. A100)")
        if self.role != "gpu" and self.gpu_model:
            raise ValueError("only pools with role: gpu may set gpuModel")
        return self


class Cluster(Spec):
    name: DnsName
    kubernetes_version: str = Field(pattern=r"^v?1\.\d+(\.\d+)?$")
    context: str = Field(description="kubeconfig context name of this cluster")
    capacity: dict[str, QuantityField] = Field(
        description="allocatable capacity per resource: cpu, memory, pods, storage, persistentvolumeclaims, "
        "and extended resources such as nvidia.com/gpu"
    )
    overcommit: dict[str, Decimal] = Field(
        default_factory=dict, description="quota may sum to capacity x ratio per resource (default 1)"
    )
    node_pools: list[NodePool] = Field(default_factory=list)
    api_server_cidrs: list[str] = Field(
        default_factory=list, description="where the API server is reachable from pods; with default-deny egress, "
        "the agent sidecar needs this to report heartbeats (rendered as an egress NetworkPolicy)")
    api_server_port: int = Field(default=443, ge=1, le=65535)

    @field_validator("api_server_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(v, strict=True)) for v in values]
        except ValueError as exc:
            raise ValueError(f"not a CIDR ({exc}); write e.g. 10.96.0.1/32") from None

    @field_validator("overcommit")
    @classmethod
    def _positive_ratios(cls, ratios: dict[str, Decimal]) -> dict[str, Decimal]:
        for resource, ratio in ratios.items():
            if ratio < 1:
                raise ValueError(f"overcommit of {resource} must be at least 1, got {ratio}")
        return ratios

    def pools(self, role: str) -> list[NodePool]:
        return [p for p in self.node_pools if p.role == role]

    def gpu_models(self) -> dict[str, str]:
        """GPU model -> extended resource name, for the models this cluster's pools have."""
        return {p.gpu_model: p.gpu_resource for p in self.pools("gpu") if p.gpu_model}

    def ratio(self, resource: str) -> Decimal:
        return self.overcommit.get(resource, Decimal(1))


class ContainerLimits(Spec):
    """LimitRange settings for containers (each map: resource -> quantity)."""

    default: dict[str, QuantityField] = Field(default_factory=dict, description="default limits")
    default_request: dict[str, QuantityField] = Field(default_factory=dict)
    max: dict[str, QuantityField] = Field(default_factory=dict)
    min: dict[str, QuantityField] = Field(default_factory=dict)


class PlatformDefaults(Spec):
    limit_range: ContainerLimits = Field(default_factory=ContainerLimits)
    pod_security: Literal["privileged", "baseline", "restricted"] = "baseline"


class PlatformQueue(Spec):
    """A Volcano queue the platform owns (the root, or a parent for a group of tenants)."""

    name: DnsName
    parent: str | None = None
    weight: int = Field(default=1, ge=1)
    reclaimable: bool = True


class ArgoCd(Spec):
    """Where Argo CD runs and reads rendered/ from; enables rendered/_argocd/."""

    namespace: DnsName = "argocd"
    repo_url: str = Field(description="the Git repository that holds rendered/")
    target_revision: str = "HEAD"
    servers: dict[str, str] = Field(default_factory=dict,
                                    description="cluster -> API server URL; clusters not listed are addressed by name")
    cluster: str = Field(default="argocd", description="the cluster Argo CD runs on (label of the _argocd objects)")


class Platform(Spec):
    name: DnsName
    owners: list[str] = Field(min_length=1, description="who approves platform-wide changes")
    clusters: list[Cluster] = Field(min_length=1)
    defaults: PlatformDefaults = Field(default_factory=PlatformDefaults)
    ingress_namespace: DnsName = "ingress-nginx"
    monitoring_namespace: DnsName = "monitoring"
    dns_namespace: DnsName = "kube-system"
    allowed_registries: list[str] = Field(default_factory=list)
    root_queue: DnsName = "root"
    queues: list[PlatformQueue] = Field(default_factory=list, description="platform-owned parent queues")
    agent_image: str = Field(default="registry.example.com/platform/tenantc-agent:0.1.0",
                             description="image of tenantc-agent, the sidecar in every job pod")
    priority_classes: list[str] = Field(default_factory=list, description="PriorityClasses jobs may use")
    storage: PlatformStorage | None = None
    global_datasets: list[GlobalDataset] = Field(default_factory=list,
                                                 description="datasets every tenant imports read-only")
    notebooks: NotebookSettings = Field(default_factory=NotebookSettings)
    templates: list[Template] = Field(default_factory=list, description="job templates every tenant may use")
    argocd: ArgoCd | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Platform:
        for label, names in (("clusters", [c.name for c in self.clusters]), ("queues", [q.name for q in self.queues]),
                             ("templates", [t.name for t in self.templates])):
            dupes = duplicate_names(names)
            if dupes:
                raise ValueError(f"duplicate {label}: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _argocd_servers_are_clusters(self) -> Platform:
        if self.argocd is not None:
            unknown = sorted(set(self.argocd.servers) - {c.name for c in self.clusters})
            if unknown:
                raise ValueError(f"argocd.servers names unknown clusters: {', '.join(unknown)}")
        return self

    def cluster(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters if c.name == name), None)

    def image_allowed(self, image: str) -> bool:
        return not self.allowed_registries or any(image.startswith(r) for r in self.allowed_registries)
