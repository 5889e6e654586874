"""What tenantc knows about Fluid, written once: read by the model (which runtimes and mounts a
spec may name), the plan (what each dataset costs in storage quota, where its caches go) and
render (the objects).

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
    "THIN_CANNOT_PRELOAD", "REPORTS_CACHED_PERCENTAGE", "preload_loads", "loads_whole_dataset",
    "cache_name", "CACHE_PLACEMENT", "CONSISTENT_ACROSS_CACHES",
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
# Fluid's ThinRuntime engine runs no DataLoad: for any data operation but DataProcess it answers
# NotSupported (fluid pkg/ddc/thin/operate.go, GetDataOperationValueFile).
THIN_CANNOT_PRELOAD = "a thin runtime cannot preload: Fluid's ThinRuntime runs no DataLoad (it keeps no cache)"

# Runtime types whose Fluid engine writes a Dataset's status.cacheStates.cachedPercentage as a
# number ("95.0%"): cached bytes over the whole dataset (fluid pkg/ddc/{jindofsx,alluxio,juicefs}
# cache.go and status.go). The ThinRuntime engine writes "N/A" there (pkg/ddc/thin/status.go),
# so nothing can wait for a thin dataset's percentage. A Dataset sharing another one
# (dataset://) gets the shared dataset's status copied (pkg/ddc/thin/referencedataset/sync.go):
# what counts is the runtime of the dataset it shares.
REPORTS_CACHED_PERCENTAGE = frozenset({"jindo", "alluxio", "juicefs"})

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


def preload_loads(dataset: str, schedule: str | None) -> list[tuple[str, dict[str, str]]]:
    """The DataLoads of a dataset's preload, (name, policy fields): '<dataset>-preload' (Once)
    warms the cache as soon as Fluid can, and with a schedule '<dataset>-refresh' (Cron) loads
    again at those times. Both are needed: a Cron DataLoad is a CronJob that first runs at its
    first scheduled time, never when it is created (fluid charts/fluid-dataloader/*/templates:
    cronjob.yaml for policy cron, job.yaml for once)."""
    loads = [(f"{dataset}-preload", dataload_policy(None))]
    if schedule:
        loads.append((f"{dataset}-refresh", dataload_policy(schedule)))
    return loads


def loads_whole_dataset(paths: list[str]) -> bool:
    """Whether DataLoad targets at `paths` load all of a dataset (a target of '/', as a DataLoad
    with no target does: fluid docs/en/samples/data_warmup.md, "By default, it'll preload all
    the data in the target dataset")."""
    return any(not p.strip().strip("/") for p in paths)


# Where caches run (Fluid's documented scheduling, which tenantc's placement follows):
# - A cache runtime's workers are placed by the Dataset's `nodeAffinity.required` (and its
#   `tolerations`): Fluid copies the required node affinity onto the worker StatefulSet
#   (fluid pkg/ctrl/affinity.go, BuildWorkersAffinity; docs/en/samples/data_co_locality.md) and
#   lets workers onto tainted nodes the Dataset tolerates (docs/zh/samples/data_toleration.md).
# - Fluid labels each node running a worker `fluid.io/s-<namespace>-<dataset>=true`, and its
#   webhook gives a pod that mounts the dataset's claim a preferred node affinity to that label,
#   a required one when the pod is labelled `fluid.io/dataset.<dataset>.sched: required`
#   (docs/en/operation/pod_schedule_optimization.md, Demos 2 and 3).
# - One Dataset has one runtime, and nothing in a runtime spreads its workers over node pools.
# So a pod can only be placed next to its cache if a cache of the data runs on its own pool:
# tenantc gives every cached dataset a home cache on the CPU pools (under the dataset's name)
# and, for each GPU model whose pods read it on a cluster, a cache on that model's pools
# (`<dataset>-<model>`); GPU pods mount the claim of their model's cache.


def cache_name(dataset: str, gpu_model: str | None) -> str:
    """The Fluid Dataset (and runtime, and claim) that caches `dataset` for readers of
    `gpu_model`, or the home cache on the CPU pools ('imagenet', 'imagenet-a100')."""
    if gpu_model is None:
        return dataset
    label = "".join(c if c.isalnum() else "-" for c in gpu_model.lower()).strip("-")
    return f"{dataset}-{label}"


# Fluid's charts label every cache worker pod `fluid.io/dataset: <namespace>-<dataset>`
# (fluid charts/alluxio/templates/worker/statefulset.yaml, the same in the jindo, juicefs and
# efc charts). A cache on a GPU pool has workers that tolerate the GPU taint without requesting
# a GPU: the gpu-pools guardrail lets exactly these through (compiler/guardrails/cel.py).
WORKER_DATASET_LABEL = "fluid.io/dataset"


def worker_dataset_label(namespace: str, dataset: str) -> str:
    """The `fluid.io/dataset` value on the cache worker pods of `dataset` in `namespace`."""
    return f"{namespace}-{dataset}"


# Caches share the nodes of their pools with the pods that read them and with other datasets'
# caches (the cache capacity check counts a pool's capacity for all of them together). Fluid's
# default placement, Exclusive, would keep any other dataset's worker off a worker's node (a
# required pod anti-affinity to every `fluid.io/dataset` pod); Shared only prefers to spread
# (fluid pkg/ctrl/affinity.go, BuildWorkersAffinity).
CACHE_PLACEMENT = "Shared"

# Runtimes whose caches stay consistent when one dataset is written through several of them:
# a JuiceFS volume keeps data in object storage and metadata in its metadata engine, every
# client (each runtime) goes through them, with close-to-open consistency. Alluxio and Jindo
# caches of one writable dataset would not see each other's writes.
CONSISTENT_ACROSS_CACHES = frozenset({"juicefs"})
