"""Pod-template pieces shared by jobs, notebooks and the cache-scaling CronJob:
pool placement, resources, the agent sidecar and wait-for-data init container, volumes."""
from __future__ import annotations

import copy
from decimal import Decimal

from compiler.agent.contract import STATUS_DIR, sidecar_argv, wait_dataset_argv
from compiler.kinds import AGENT_RESOURCES
from compiler.model.platform import Cluster, NodePool
from compiler.quantity import FORMAT_BINARY, FORMAT_DECIMAL, canonical

AGENT_SERVICE_ACCOUNT = "tenantc-agent"
STATUS_VOLUME = "tenantc-status"
WAIT_TIMEOUT_SECONDS = 3600


def pools_for(cluster: Cluster, pool: str, gpu_model: str | None = None) -> list[NodePool]:
    pools = cluster.pools(pool)
    if pool == "gpu" and gpu_model:
        pools = [p for p in pools if p.gpu_model == gpu_model]
    return pools


def placement(cluster: Cluster, pool: str, gpu_model: str | None = None) -> dict:
    """Node affinity to the pool's labels and tolerations for its taints only. CPU work never
    tolerates the GPU pools' taints, so it stays off GPU nodes."""
    pools = pools_for(cluster, pool, gpu_model)
    terms = [{"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(p.labels.items())]}
             for p in pools if p.labels]
    out: dict = {}
    if terms:
        out["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    tolerations = tolerations_for(pools)
    if tolerations:
        out["tolerations"] = tolerations
    return out


def tolerations_for(pools: list[NodePool]) -> list[dict]:
    seen, out = set(), []
    for p in pools:
        for t in p.taints:
            key = (t.key, t.value, t.effect)
            if key not in seen:
                seen.add(key)
                out.append({"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect})
    return out


def resources(cpu: Decimal | None, memory: Decimal | None, gpu: int, gpu_resource: str) -> dict:
    """Requests equal limits: training pods get guaranteed resources and predictable gangs."""
    amounts = {}
    if cpu is not None:
        amounts["cpu"] = canonical(cpu, FORMAT_DECIMAL)
    if memory is not None:
        amounts["memory"] = canonical(memory, FORMAT_BINARY)
    if gpu:
        amounts[gpu_resource] = str(gpu)
    return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}


def agent_container(name: str, image: str, args: list[str]) -> dict:
    """A container running tenantc-agent, with the small resources every agent use asks for."""
    return {"name": name, "image": image, "args": args, "resources": copy.deepcopy(AGENT_RESOURCES)}


def agent_sidecar(image: str, job: str, task: str) -> dict:
    """tenantc-agent as a native sidecar (init container with restartPolicy Always)."""
    def field(path: str) -> dict:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    return {
        **agent_container("tenantc-agent", image, sidecar_argv()),
        "restartPolicy": "Always",
        "env": [
            {"name": "POD_NAME", **field("metadata.name")},
            {"name": "POD_NAMESPACE", **field("metadata.namespace")},
            {"name": "TENANTC_JOB", "value": job},
            {"name": "TENANTC_TASK", "value": task},
        ],
        "volumeMounts": [{"name": STATUS_VOLUME, "mountPath": STATUS_DIR}],
    }


def wait_for_data(image: str, datasets: list[str], namespace: str, percent: int) -> dict:
    return agent_container("wait-for-data", image,
                           wait_dataset_argv(datasets, namespace, percent, WAIT_TIMEOUT_SECONDS))


def claim_volume(name: str, claim: str, read_only: bool = False) -> dict:
    volume: dict = {"name": name, "persistentVolumeClaim": {"claimName": claim}}
    if read_only:
        volume["persistentVolumeClaim"]["readOnly"] = True
    return volume
