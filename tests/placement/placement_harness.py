"""Puts the examples' rendered pod templates in front of the real kube-scheduler.

One local control plane stands in for every cluster of the platform file:

- Nodes: `NODES_PER_POOL` per node pool, with the pool's labels and taints, annotated for
  kwok, and labelled `placement.tenantc.io/cluster` and `.../pool` (labels tenantc never
  renders, so they cannot help a template match). The cluster's capacity (cpu, memory, pods,
  ephemeral storage) is shared evenly by its nodes; each GPU resource of the capacity
  (`nvidia.com/gpu`, or a per-model name a pool's `gpuResource` gives) only by the nodes of
  the GPU pools that advertise it, as a device plugin would.
- Namespaces: a tenant's namespace on cluster C is `<tenant>--<C>`, with its rendered
  Namespace (Pod Security labels), LimitRange, ResourceQuota and ServiceAccounts.
- Volumes: every claim a pod mounts exists and is Bound by the PV binder: the rendered
  PersistentVolumeClaims to pre-bound network volumes without node affinity (what a
  provisioner makes), and each rendered Fluid Dataset's claim the way Fluid creates it
  (storage class `fluid`, a CSI volume of driver fuse.csi.fluid.io selected by the label
  `fluid.io/s-<namespace>-<dataset>`, with node affinity only for a fuse nodeSelector;
  fluid pkg/utils/dataset/volume/create.go). Storage therefore never decides placement.
- Pods: each pod template exactly as rendered, but in its cluster's namespace and with
  `placement.tenantc.io/cluster In [C]` ANDed into every required node-selector term, so
  it can only land on its own cluster's nodes.
"""
from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from compiler.cluster.components import apiserver_endpoint
from compiler.kube.client import KubeClient
from compiler.kube.transport import Endpoint
from compiler.model.platform import NodePool, Platform

CLUSTER_LABEL = "placement.tenantc.io/cluster"
POOL_LABEL = "placement.tenantc.io/pool"
RUN_LABEL = "placement.tenantc.io/case"  # value: an index into Harness.cases
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
NODES_PER_POOL = 2
FLUID_STORAGE_CLASS = "fluid"
FLUID_CSI_DRIVER = "fuse.csi.fluid.io"
FLUID_DEFAULT_CLAIM = "100Pi"  # Fluid's claim size when the Dataset has no size annotation
FLUID_CLAIM_SIZE_ANNOTATION = "pvc.fluid.io/resources.requests.storage"
FLUID_DATASET_LABEL = "fluid.io/dataset"  # on every cache worker: <namespace>-<dataset>
FLUID_PLACEMENT_LABEL = "fluid.io/dataset-placement"  # on every cache worker: the Dataset's placement


def namespace_for(tenant: str, cluster: str) -> str:
    name = f"{tenant}--{cluster}"
    assert len(name) <= 63, name
    return name


def fluid_cache_label(namespace: str, dataset: str) -> str:
    """The node label Fluid puts on nodes running a dataset's cache workers (and that its
    webhook's affinity refers to): fluid.io/s-<namespace>-<dataset>."""
    return f"fluid.io/s-{namespace}-{dataset}"


# -- nodes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeInfo:
    name: str
    cluster: str
    pool: NodePool


def _per_node(total: Decimal, nodes: int, unit: Decimal) -> str:
    """An even share of `total`, rounded down to whole `unit`s (cores, counts, or MiB)."""
    amount = (total / nodes / unit).to_integral_value(rounding=ROUND_FLOOR)
    return str(int(amount)) if unit == 1 else f"{int(amount)}Mi"


def build_nodes(platform: Platform, site: str = "") -> tuple[list[dict], dict[str, NodeInfo]]:
    """Nodes for every pool of every cluster. `site` prefixes their names and their cluster label,
    so several runs share one scheduling control plane without sharing nodes."""
    bodies, infos = [], {}
    for cluster in platform.clusters:
        count = NODES_PER_POOL * len(cluster.node_pools)
        gpu_resources = {p.gpu_resource for p in cluster.pools("gpu")}
        shared = {"cpu": Decimal(1), "memory": Decimal(2**20), "pods": Decimal(1), "ephemeral-storage": Decimal(2**20)}
        base = {res: _per_node(cluster.capacity[res].value, count, unit)
                for res, unit in shared.items() if res in cluster.capacity}
        base.setdefault("pods", "110")
        for pool in cluster.node_pools:
            capacity = dict(base)
            if pool.role == "gpu" and pool.gpu_resource in cluster.capacity:
                sharing = NODES_PER_POOL * len([p for p in cluster.pools("gpu") if p.gpu_resource == pool.gpu_resource])
                capacity[pool.gpu_resource] = _per_node(cluster.capacity[pool.gpu_resource].value, sharing, Decimal(1))
            assert pool.role == "gpu" or not set(capacity) & gpu_resources
            for i in range(NODES_PER_POOL):
                name = f"{site}{cluster.name}-{pool.name}-{i}"
                infos[name] = NodeInfo(name, cluster.name, pool)
                bodies.append({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1]},
                        "labels": {**pool.labels, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                   "kubernetes.io/arch": "amd64", CLUSTER_LABEL: f"{site}{cluster.name}",
                                   POOL_LABEL: pool.name},
                    },
                    "spec": {"taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints]},
                    "status": {"capacity": capacity, "allocatable": capacity},
                })
    return bodies, infos


# -- pods -------------------------------------------------------------------------------

def add_required_node_expression(spec: dict, expression: dict) -> None:
    """AND `expression` into every required node-selector term (creating one when none)."""
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({})
    for term in terms:
        term.setdefault("matchExpressions", []).append(copy.deepcopy(expression))


def pod_from_template(template: dict, name: str, namespace: str, cluster: str, case: int) -> dict:
    """A Pod made from a pod template as a controller would, confined to `cluster`'s nodes.
    The scheduler is the default one: no Volcano scheduler runs here."""
    metadata = copy.deepcopy(template.get("metadata") or {})
    spec = copy.deepcopy(template["spec"])
    spec["schedulerName"] = "default-scheduler"
    add_required_node_expression(spec, {"key": CLUSTER_LABEL, "operator": "In", "values": [cluster]})
    labels = {**(metadata.get("labels") or {}), RUN_LABEL: str(case)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "annotations": metadata.get("annotations") or {}},
            "spec": spec}


def confine_statefulset(sts: dict, namespace: str, cluster: str, case: int) -> dict:
    sts = copy.deepcopy(sts)
    sts["metadata"]["namespace"] = namespace
    template = sts["spec"]["template"]
    template.setdefault("metadata", {}).setdefault("labels", {})[RUN_LABEL] = str(case)
    add_required_node_expression(template["spec"], {"key": CLUSTER_LABEL, "operator": "In", "values": [cluster]})
    return sts


def cache_worker_template(runtime: dict, dataset: dict) -> dict:
    """The placement of a Fluid runtime's cache worker pods as Fluid builds it (fluid
    pkg/ctrl/affinity.go, BuildWorkersAffinity): the runtime's worker nodeSelector, the
    Dataset's nodeAffinity ("where the data may be cached", docs/en/samples/data_co_locality.md)
    as required node affinity, the Dataset's tolerations (docs/zh/samples/data_toleration.md);
    one worker of a dataset per node (its workers conflict on host ports); and by the Dataset's
    placement, Exclusive (the default): no other dataset's worker of the namespace on the node,
    or Shared: not next to an Exclusive one."""
    spec: dict = {"containers": [{"name": "worker", "image": "registry.example.com/platform/fluid-worker"}]}
    selector = ((runtime.get("spec") or {}).get("worker") or {}).get("nodeSelector")
    if selector:
        spec["nodeSelector"] = dict(selector)
    required = ((dataset.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": copy.deepcopy(required)}}
    tolerations = (dataset.get("spec") or {}).get("tolerations")
    if tolerations:
        spec["tolerations"] = copy.deepcopy(tolerations)
    meta = dataset["metadata"]
    dataset_id = f"{meta.get('namespace', '')}-{meta['name']}"
    placement = (dataset.get("spec") or {}).get("placement") or "Exclusive"
    def term(key: str, op: str, values: list[str] | None = None) -> dict:
        expression: dict = {"key": key, "operator": op, **({"values": values} if values else {})}
        return {"labelSelector": {"matchExpressions": [expression]}, "topologyKey": "kubernetes.io/hostname"}
    anti = [term(FLUID_DATASET_LABEL, "In", [dataset_id])]
    anti.append(term(FLUID_DATASET_LABEL, "Exists") if placement == "Exclusive"
                else term(FLUID_PLACEMENT_LABEL, "In", ["Exclusive"]))
    spec.setdefault("affinity", {})["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": anti}
    labels = {"role": "fluid-worker", "release": runtime["metadata"]["name"], FLUID_DATASET_LABEL: dataset_id,
              FLUID_PLACEMENT_LABEL: placement}
    return {"metadata": {"labels": labels}, "spec": spec}


# -- volumes ----------------------------------------------------------------------------

def volume_objects(namespace: str, claims: Iterable[dict], datasets: Iterable[dict],
                   runtimes: dict[str, dict]) -> list[dict]:
    """PersistentVolumes (and Fluid's claims) so that every claim in `namespace` gets Bound."""
    out: list[dict] = []
    for claim in claims:
        name = claim["metadata"]["name"]
        spec = claim["spec"]
        out.append({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{name}"},
            "spec": {"capacity": {"storage": spec["resources"]["requests"]["storage"]},
                     "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                     "storageClassName": spec.get("storageClassName", ""),
                     "claimRef": {"namespace": namespace, "name": name},
                     "persistentVolumeReclaimPolicy": "Retain",
                     "nfs": {"server": "nas.example.com", "path": f"/{namespace}/{name}"}},
        })
    for dataset in datasets:
        name = dataset["metadata"]["name"]
        size = (dataset["metadata"].get("annotations") or {}).get(FLUID_CLAIM_SIZE_ANNOTATION, FLUID_DEFAULT_CLAIM)
        modes = (dataset.get("spec") or {}).get("accessModes") or ["ReadOnlyMany"]
        label = fluid_cache_label(namespace, name)
        volume: dict = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{name}", "labels": {label: "true"}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": FLUID_STORAGE_CLASS,
                     "persistentVolumeReclaimPolicy": "Retain",
                     "csi": {"driver": FLUID_CSI_DRIVER, "volumeHandle": f"{namespace}-{name}"}},
        }
        fuse_selector = ((runtimes.get(name) or {}).get("spec", {}).get("fuse") or {}).get("nodeSelector")
        if fuse_selector:
            volume["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": k, "operator": "In", "values": [v]} for k, v in sorted(fuse_selector.items())]}]}}
        out.append(volume)
        out.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace, "labels": {label: "true"}},
            "spec": {"accessModes": modes, "storageClassName": FLUID_STORAGE_CLASS,
                     "selector": {"matchLabels": {label: "true"}},
                     "resources": {"requests": {"storage": size}}},
        })
    return out


# -- talking to the cluster -------------------------------------------------------------

@dataclass
class Outcome:
    """What became of one pod: bound to a node, or why the scheduler could not bind it."""

    pod: str
    namespace: str
    node: str | None = None
    phase: str | None = None
    unschedulable: str | None = None
    rejected: str | None = None  # the API server refused the pod (admission)
    note: str = ""               # what else a test may want to show (the quota it passed)

    @property
    def decided(self) -> bool:
        return bool(self.node or self.unschedulable or self.rejected)


class Api:
    """The few API calls a placement run makes, as the admin, with plain JSON bodies
    (compiler.kube's client over the standard library's transport)."""

    COLLECTIONS = {
        "Namespace": "/api/v1/namespaces", "Node": "/api/v1/nodes", "PersistentVolume": "/api/v1/persistentvolumes",
        "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
        "LimitRange": "/api/v1/namespaces/{ns}/limitranges",
        "ResourceQuota": "/api/v1/namespaces/{ns}/resourcequotas",
        "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
        "Pod": "/api/v1/namespaces/{ns}/pods",
        "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    }

    def __init__(self, endpoint: Endpoint):
        self.client = KubeClient.for_endpoint(endpoint, timeout=30)

    def collection(self, kind: str, namespace: str | None = None) -> str:
        return self.COLLECTIONS[kind].format(ns=namespace)

    def create(self, obj: dict) -> dict:
        """POST `obj`; raises compiler.kube's ApiError (with the server's message) when refused."""
        path = self.collection(obj["kind"], obj["metadata"].get("namespace"))
        return self.client.request("POST", path, body=json.dumps(obj).encode(), content_type="application/json")

    def items(self, kind: str, namespace: str | None = None, **params: str) -> list[dict]:
        return self.client.get(self.collection(kind, namespace), params or None).get("items") or []

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict:
        return self.client.get(f"{self.collection(kind, namespace)}/{name}")

    def merge_patch(self, kind: str, name: str, patch: dict, namespace: str | None = None) -> dict:
        return self.client.request("PATCH", f"{self.collection(kind, namespace)}/{name}",
                                   body=json.dumps(patch).encode(), content_type="application/merge-patch+json")

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.client.request("DELETE", f"{self.collection(kind, namespace)}/{name}",
                            body=json.dumps({"gracePeriodSeconds": 0}).encode(), content_type="application/json")

    def wait(self, what: str, check: Callable[[], object], timeout: float, interval: float = 0.25) -> object:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"after {timeout:.0f}s: {what}")
            time.sleep(interval)

    def outcomes(self, label: str) -> dict[tuple[str, str], Outcome]:
        """What became of every pod carrying `label`, by (namespace, name)."""
        out = {}
        pods = self.client.get("/api/v1/pods", {"labelSelector": label})
        for pod in pods.get("items") or []:
            meta, status = pod["metadata"], pod.get("status") or {}
            outcome = Outcome(meta["name"], meta["namespace"], pod["spec"].get("nodeName"), status.get("phase"))
            for condition in status.get("conditions") or []:
                if condition["type"] == "PodScheduled" and condition["status"] == "False" \
                        and condition.get("reason") == "Unschedulable":
                    outcome.unschedulable = condition.get("message", "Unschedulable")
            out[(outcome.namespace, outcome.pod)] = outcome
        return out


def endpoint_of(plane) -> Endpoint:
    """The admin endpoint of a compiler.cluster.ControlPlane."""
    port = int(plane.server.rsplit(":", 1)[1])
    return apiserver_endpoint(plane.pki, port)

