"""What each guardrail allows, defined once for the compiler and the API server.

This module imports nothing of the spec models (they import it): it knows the rules, their
parameters and the matching functions. `compiler.guardrails.cel` renders the same rules as
CEL; `compiler.plan.guardrails` computes each tenant's parameters from the specs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# rule id -> what it enforces; denial messages, docs/guardrails.md and review use these ids.
RULES: dict[str, str] = {
    "registries": "images only from the platform's allowed registries (a prefix match that ends at a '/')",
    "queues": "Volcano jobs, pod groups and volcano-scheduled pods only into the tenant's own queue",
    "priority-classes": "priorityClassName only from the classes the platform allows the tenant",
    "storage-classes": "claims only of the platform's storage classes, never bound to a named volume",
    "ingress": "ingress class and hosts only from what the platform allows the tenant; no catch-all",
    "gpu-pools": "GPU requests only pinned to a GPU pool the tenant has quota for on the cluster; "
                 "pods without GPUs never tolerate the GPU pools' taints; no nodeName",
    "resource-groups": "no pod tolerates the taints of a node pool the platform dedicates to another tenant",
    "host-access": "no privileged containers, hostPath, hostNetwork or hostPID where the Pod Security "
                   "level would allow them and the platform forbids them",
    "datasets": "Datasets mount only the tenant's own datasets and its imports; pods mount data only "
                "through claims (no inline nfs, iscsi, csi, ... volumes)",
    "parameters": "the tenant's guardrail parameters (ConfigMap tenantc-guardrails) change only with the platform",
}

PARAMS_NAME = "tenantc-guardrails"  # the parameters ConfigMap in every tenant namespace
POLICY_PREFIX = "tenantc-"  # policies and bindings: tenantc-<shape>

# Parameter keys of the ConfigMap: space-separated lists (no value contains a space).
PARAM_KEYS = ("registries", "queues", "priorityClasses", "storageClasses", "ingressClasses", "ingressHosts",
              "gpuPools", "gpuCaches", "datasetMounts", "writableDatasets")

HOST_FEATURES = ("privileged", "hostPath", "hostNetwork", "hostPID")
# Pod Security Standards: the levels that already forbid each feature.
FORBIDDEN_BY_LEVEL = {"privileged": (), "baseline": HOST_FEATURES, "restricted": HOST_FEATURES}

# Pod volume types through which no data outside the tenant's namespace is reached. hostPath
# is left to the host-access rule and Pod Security; image volumes to the registries rule.
VOLUME_TYPES = ("persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected", "downwardAPI",
                "ephemeral", "image", "hostPath")
VOLUME_WORDS = "claims, emptyDir, configMap, secret, projected, downwardAPI, ephemeral and image volumes"

# Where Volcano reads a pod's queue (scheduling.volcano.sh/queue-name on pods and owners).
QUEUE_ANNOTATIONS = ("scheduling.volcano.sh/queue-name", "volcano.sh/queue-name")
FLUID_STORAGE_CLASS = "fluid"  # Fluid binds each dataset's claim to the volume <namespace>-<name>
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


class RegistryError(ValueError):
    """An allowed-registry entry that is not a prefix (wildcard, scheme, tag or digest)."""


class HostPatternError(ValueError):
    """An ingress host pattern admission cannot match (a '*' other than a leading label)."""


_HOST = r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?"
_PATH = r"[a-z0-9]+([._-]+[a-z0-9]+)*"
_REGISTRY = re.compile(rf"^{_HOST}(/{_PATH})*/?$")
_DNS_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def registry_prefix(entry: str) -> str:
    """'registry.example.com/ml' -> 'registry.example.com/ml/': the prefix an image must start
    with. The match ends at a path boundary, so 'registry.example.com' never admits
    'registry.example.com.evil/x' nor 'registry.example.com:5000/x' (another registry)."""
    if not _REGISTRY.fullmatch(entry):
        raise RegistryError(f"'{entry}' is not a registry prefix")
    return entry if entry.endswith("/") else entry + "/"


def image_allowed(image: str, prefixes: list[str] | tuple[str, ...]) -> bool:
    """The registries rule: `prefixes` are registry_prefix() results. CEL: prefixes.exists(p, image.startsWith(p))."""
    return any(image.startswith(p) for p in prefixes)


def host_pattern(pattern: str) -> str:
    """An ingress host pattern: an exact host or '*.' followed by one (a wildcard for exactly
    one leading DNS label, as Ingress hosts mean it)."""
    rest = pattern[2:] if pattern.startswith("*.") else pattern
    if not _DNS_NAME.fullmatch(rest) or "." not in rest and pattern.startswith("*."):
        raise HostPatternError(f"'{pattern}' is not a host or '*.' followed by a host")
    return pattern


def host_allowed(host: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """The ingress hosts rule. A host equal to a pattern, or one DNS label in front of a
    '*.' pattern's suffix. CEL: see compiler.guardrails.cel.HOST_MATCH."""
    for p in patterns:
        if host == p:
            return True
        if p.startswith("*.") and host.endswith(p[1:]) and len(host) > len(p) - 1 \
                and "." not in host[:len(host) - len(p) + 1]:
            return True
    return False


@dataclass(frozen=True)
class Pool:
    """A node pool as the gpu-pools rule sees it."""

    name: str
    labels: dict[str, str]
    taints: tuple[tuple[str, str, str], ...]  # (key, value, effect)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))


@dataclass(frozen=True)
class ClusterFacts:
    """What the policies of one cluster hold as constants (the same for every tenant)."""

    cluster: str
    rules: tuple[str, ...]  # enabled rule ids
    gpu_pools: tuple[Pool, ...] = ()
    gpu_resources: tuple[str, ...] = ()  # extended resource names of GPUs on this cluster
    cpu_off_gpu_pools: bool = True
    host_features: tuple[str, ...] = ()  # forbidden by the platform and allowed by the Pod Security level
    group_taints: tuple[tuple[str, str, str, str], ...] = ()  # (key, value, effect, tenant) of resource groups

    def gpu_taints(self) -> list[tuple[str, str, str]]:
        seen: list[tuple[str, str, str]] = []
        for pool in self.gpu_pools:
            for taint in pool.taints:
                if taint not in seen:
                    seen.append(taint)
        return seen

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.gpu_pools if p.name == name), None)


@dataclass(frozen=True)
class TenantParams:
    """One tenant's parameters on one cluster: the ConfigMap's data, as lists."""

    tenant: str
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # PARAM_KEYS -> allowed values

    def get(self, key: str) -> tuple[str, ...]:
        return self.values.get(key, ())

    def data(self) -> dict[str, str]:
        """The ConfigMap's data: every list joined by single spaces."""
        return {"tenant": self.tenant, **{k: " ".join(v) for k, v in self.values.items()}}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> TenantParams:
        return cls(data.get("tenant", ""), {k: tuple(x for x in v.split(" ") if x) for k, v in data.items()
                                            if k != "tenant"})


def one_of(values: tuple[str, ...] | list[str], none: str) -> str:
    """'a', 'one of a, b' or `none` when empty: how messages list what is allowed."""
    if not values:
        return none
    return values[0] if len(values) == 1 else "one of " + ", ".join(values)
