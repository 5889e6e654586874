"""The platform file (tenants/platform.yaml): clusters, pools, defaults, shared settings."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from compiler.fluid import CacheMedium
from compiler.guardrails.rules import RegistryError, registry_prefix
from compiler.model.common import DnsName, QuantityField, Spec, duplicate_names
from compiler.model.data import GlobalDataset, PlatformStorage
from compiler.model.pods import PodTemplate
from compiler.model.serving import ServingSettings
from compiler.model.workloads import NotebookSettings, Template

DEFAULT_GPU_RESOURCE = "nvidia.com/gpu"
CRDS_DIR = "crds"  # each cluster's CRDs: crds/<cluster>/<group>/<name>.yaml (`tenantc crds pull`)


class Taint(Spec):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(Spec):
    """A group of nodes; GPU pools name their GPU model, which tenants' GPU quota refers to."""

    name: DnsName
    role: Literal["cpu", "gpu"] = "cpu"
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    gpu_model: str | None = None
    gpu_resource: str = Field(
        default=DEFAULT_GPU_RESOURCE,
        description="the extended resource this pool's GPUs are advertised as; give each GPU model of a cluster "
        "its own (e.g. nvidia.com/h100, renamed by the NVIDIA device plugin) so that quota counts each model apart")
    cache_capacity: dict[CacheMedium, QuantityField] = Field(
        default_factory=dict, description="total space per medium the pool's nodes give the Fluid caches placed on "
        "it (dataset caches run on the pools of the pods that read them: the CPU pools, and a GPU model's pools)")

    @field_validator("role", mode="before")
    @classmethod
    def _no_cache_pools(cls, role: object) -> object:
        if role == "cache":
            raise ValueError("there are no cache pools: dataset caches run next to the pods that read them, on cpu "
                             "and gpu pools; declare cacheCapacity on those pools instead")
        return role

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
    crds: str | None = Field(
        default=None, description="folder of this cluster's CustomResourceDefinitions, relative to the repository "
        "root, that compile, check and review validate its custom kinds against (default crds/<name>; "
        "`tenantc crds pull` fills it from the live cluster; --crd-dir overrides it for every cluster)")

    @field_validator("api_server_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(v, strict=True)) for v in values]
        except ValueError as exc:
            raise ValueError(f"not a CIDR ({exc}); write e.g. 10.96.0.1/32") from None

    @field_validator("crds")
    @classmethod
    def _inside_repository(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.replace("\\", "/").split("/")
        if value.startswith(("/", "~")) or ":" in parts[0] or ".." in parts or not value.strip("./"):
            raise ValueError(f"{value!r} must be a folder inside the repository, relative to its root "
                             "(e.g. crds/gpu-east)")
        return value

    def crd_folder(self) -> str:
        """Where this cluster's CRDs are, relative to the repository root."""
        return self.crds or f"{CRDS_DIR}/{self.name}"

    @model_validator(mode="after")
    def _one_resource_name_per_model(self) -> Cluster:
        names: dict[str, str] = {}
        for pool in self.pools("gpu"):
            assert pool.gpu_model is not None
            first = names.setdefault(pool.gpu_model, pool.gpu_resource)
            if first != pool.gpu_resource:
                raise ValueError(f"GPU model {pool.gpu_model} is advertised as {first} and as {pool.gpu_resource} "
                                 f"(pool {pool.name}); give every pool of a model the same gpuResource")
        return self

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

    def gpu_resources(self) -> list[str]:
        """Every GPU resource name a pod could ask for here: those the GPU pools advertise, and
        nvidia.com/gpu when the capacity declares it (sorted)."""
        names = {p.gpu_resource for p in self.pools("gpu")}
        if DEFAULT_GPU_RESOURCE in self.capacity:
            names.add(DEFAULT_GPU_RESOURCE)
        return sorted(names)

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


HostFeature = Literal["privileged", "hostPath", "hostNetwork", "hostPID"]


def _every_host_feature() -> list[HostFeature]:
    return ["privileged", "hostPath", "hostNetwork", "hostPID"]


class Guardrails(Spec):
    """Admission guardrails (docs/guardrails.md): ValidatingAdmissionPolicies per cluster and a
    parameters ConfigMap per tenant, enforcing at admission what tenantc checks at compile time.
    Registries, queues, storage classes and GPU pools come from the rest of the platform file."""

    priority_classes: dict[str, list[str]] = Field(
        default_factory=dict, description="priority class -> tenants or platform queues (every tenant under it) "
        "that may use it; classes not listed here are open to every tenant")
    ingress_classes: list[str] | None = Field(
        default=None, description="ingress classes tenants may use (default: notebooks.ingressClass)")
    ingress_hosts: list[str] | None = Field(
        default=None, description="host patterns with {tenant}, an exact host or '*.' + host "
        "(default: notebooks.ingressHost with {user} as '*')")
    forbid: list[HostFeature] = Field(
        default_factory=_every_host_feature,
        description="host access denied even where the Pod Security level would allow it")
    cpu_off_gpu_pools: bool = Field(default=True, description="pods without GPUs may not tolerate GPU pools' taints")


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
    serving: ServingSettings = Field(default_factory=ServingSettings,
                                     description="model serving templates and ingress (compiler/model/serving.py)")
    pod_templates: list[PodTemplate] = Field(default_factory=list, description="sidecars and init containers "
                                             "jobs add by name (containers: [...])")
    argocd: ArgoCd | None = None
    guardrails: Guardrails | None = Field(default=None, description="enforce the platform's rules at admission "
                                          "(Kubernetes 1.30+); see docs/guardrails.md")

    @model_validator(mode="after")
    def _unique_names(self) -> Platform:
        for label, names in (("clusters", [c.name for c in self.clusters]), ("queues", [q.name for q in self.queues]),
                             ("templates", [t.name for t in self.templates]),
                             ("serving templates", [t.name for t in self.serving.templates]),
                             ("pod templates", [t.name for t in self.pod_templates])):
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

    def registry_prefixes(self) -> list[str]:
        """AllowedRegistries as prefixes that end at a '/' (entries that are not prefixes are
        reported by compiler.plan.guardrails and left out here)."""
        out = []
        for entry in self.allowed_registries:
            try:
                out.append(registry_prefix(entry))
            except RegistryError:
                continue
        return out

    def image_allowed(self, image: str) -> bool:
        """The registries guardrail's own match: `registry.example.com` admits
        `registry.example.com/x`, never `registry.example.com.evil/x`."""
        return not self.allowed_registries or any(image.startswith(p) for p in self.registry_prefixes())
