"""What tenantc knows about Fluid, written once: read by the model (which runtimes and mounts a
spec may name), the plan (what each dataset costs in storage quota) and render (the objects).

Fluid (data.fluid.io) caches a Dataset through a runtime of the same name and namespace; the
runtime kind follows the cache engine. It creates a PVC for every Dataset, own or shared,
which counts against the namespace's storage quota. The agent package keeps its own copy of
the runtime plurals (it imports nothing of the compiler); a test checks the two agree.
"""
from __future__ import annotations

from typing import Literal, get_args

from compiler.kinds import DATASET_CLAIM_ANNOTATION

__all__ = [
    "API_VERSION", "GROUP", "RuntimeType", "RUNTIME_TYPES", "RUNTIME_KINDS", "runtime_kind", "runtime_resource",
    "CacheMedium", "CACHE_MEDIUMS", "MOUNT_SCHEMES", "runtime_mount_error", "THIN_NEEDS_PROFILE",
    "DATASET_CLAIM_SIZE", "DATASET_CLAIM_ANNOTATION", "access_modes", "shared_dataset_uri", "dataload_policy",
]

GROUP = "data.fluid.io"
API_VERSION = f"{GROUP}/v1alpha1"

# Cache engines a dataset may use (the spec's runtime.type) and the runtime kind of each.
RuntimeType = Literal["jindo", "alluxio", "juicefs", "thin"]
RUNTIME_TYPES: tuple[str, ...] = get_args(RuntimeType)
RUNTIME_KINDS = {"jindo": "JindoRuntime", "alluxio": "AlluxioRuntime", "juicefs": "JuiceFSRuntime",
                 "thin": "ThinRuntime"}

# Media a cache tier (and a cache node pool's capacity) is counted in.
CacheMedium = Literal["MEM", "SSD", "HDD"]
CACHE_MEDIUMS: tuple[str, ...] = get_args(CacheMedium)

# URI schemes a dataset mount may use. JuiceFS runtimes mount juicefs:// volumes (the metaurl
# comes from a Secret) and nothing else; no other runtime mounts juicefs://.
MOUNT_SCHEMES = ("oss", "s3", "hdfs", "pvc", "nfs", "local", "juicefs")
_ONLY_SCHEME = {"juicefs": "juicefs"}  # runtime type -> the one scheme it mounts

# A thin runtime is configured by a ThinRuntimeProfile, which the dataset must name.
THIN_NEEDS_PROFILE = "a thin runtime needs profile (a ThinRuntimeProfile name)"

# Fluid creates a PVC for every Dataset (own or imported) in its namespace, 100Pi unless the
# Dataset's annotation (DATASET_CLAIM_ANNOTATION) says otherwise, which no storage quota
# admits. We ask for a nominal size and count it against the quota (persistentvolumeclaims and
# requests.storage).
DATASET_CLAIM_SIZE = "1Gi"


def runtime_kind(runtime_type: str) -> str:
    """'jindo' -> 'JindoRuntime'."""
    return RUNTIME_KINDS[runtime_type]


def runtime_resource(kind: str) -> str:
    """'JindoRuntime' -> 'jindoruntimes': the resource name RBAC rules and the API use."""
    return kind.lower() + "s"


def runtime_mount_error(runtime_type: str, schemes: list[str]) -> str | None:
    """Why a runtime cannot mount these URI schemes, or None when it can."""
    for runtime, scheme in _ONLY_SCHEME.items():
        if runtime_type == runtime and not all(s == scheme for s in schemes):
            return f"a {runtime} runtime needs {scheme}:// mounts (with the metaurl in secrets)"
        if runtime_type != runtime and scheme in schemes:
            return f"{scheme}:// mounts need runtime type {runtime}, not {runtime_type}"
    return None


def access_modes(writable: bool) -> list[str]:
    """A Dataset's access modes: shared read-write, or shared read-only."""
    return ["ReadWriteMany"] if writable else ["ReadOnlyMany"]


def shared_dataset_uri(owner_namespace: str, dataset: str) -> str:
    """The mount point of a Dataset that shares another namespace's Dataset (Fluid dataset sharing)."""
    return f"dataset://{owner_namespace}/{dataset}"


def dataload_policy(schedule: str | None) -> dict[str, str]:
    """A DataLoad's policy fields: once, or refreshed on a cron schedule."""
    return {"policy": "Cron", "schedule": schedule} if schedule else {"policy": "Once"}
