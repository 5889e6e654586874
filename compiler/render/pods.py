"""Pod-template pieces shared by jobs, servings, notebooks and the cache-scaling CronJob:
resources, the agent's containers (sidecar, wait-for-data, cache scaler, flow runner) and the
pod extras of jobs, pipeline steps and servings (env and volumes by reference, /dev/shm, pull
secrets, the platform's containers). Placement is in compiler.render.placement, volumes in
compiler.render.volumes."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal

from compiler.agent.contract import (
    RUN_ENV,
    RUN_SOURCE_LABEL,
    STATUS_DIR,
    run_flow_argv,
    sidecar_argv,
    wait_dataset_argv,
)
from compiler.kinds import AGENT_RESOURCES, API_CLIENT_LABEL
from compiler.model.pods import EnvRef
from compiler.plan.pod_extras import PodExtras, ResolvedContainer
from compiler.quantity import FORMAT_BINARY, FORMAT_DECIMAL, canonical
from compiler.render.volumes import PodVolumes

AGENT_SERVICE_ACCOUNT = "tenantc-agent"
FLOW_RUNNER_ACCOUNT = "tenantc-flow-runner"  # may only start (and clean up) JobFlow runs
STATUS_VOLUME = "tenantc-status"
WAIT_TIMEOUT_SECONDS = 3600  # an init container: the job's pods hold their CPU while it waits
GATE_TIMEOUT_SECONDS = 6 * 3600  # the first flow of a JobFlow: one 10m-CPU pod, nothing else held


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


def api_client_labels() -> dict[str, str]:
    """Labels of a pod that runs tenantc-agent: NetworkPolicy lets only these reach the API server."""
    return {API_CLIENT_LABEL: "true"}


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


def wait_for_data(image: str, datasets: list[str], namespace: str, percent: int,
                  timeout: int = WAIT_TIMEOUT_SECONDS) -> dict:
    return agent_container("wait-for-data", image, wait_dataset_argv(datasets, namespace, percent, timeout))


def flow_runner(image: str, name: str, namespace: str, flows: Sequence[tuple[str, Sequence[str]]],
                concurrency_policy: str, keep_succeeded: int, keep_failed: int) -> dict:
    """`tenantc-agent run-flow` in a CronJob's pod: the run is named after the pod's Job, which
    the Job controller labels on the pod and the downward API passes in (contract.RUN_ENV)."""
    argv = run_flow_argv(name, namespace, f"$({RUN_ENV})", flows, concurrency_policy, keep_succeeded, keep_failed)
    run = {"fieldRef": {"fieldPath": f"metadata.labels['{RUN_SOURCE_LABEL}']"}}
    return {**agent_container("run-flow", image, argv), "env": [{"name": RUN_ENV, "valueFrom": run}]}


def env_refs(refs: Sequence[EnvRef]) -> list[dict]:
    """Env entries from Secret and ConfigMap keys (valueFrom; the values never pass tenantc)."""
    out = []
    for ref in refs:
        key_ref = ref.secret or ref.config_map
        assert key_ref is not None
        selector: dict = {"name": key_ref.name, "key": key_ref.key}
        if key_ref.optional:
            selector["optional"] = True
        source = "secretKeyRef" if ref.secret else "configMapKeyRef"
        out.append({"name": ref.name, "valueFrom": {source: selector}})
    return out


def container_env(plain: dict[str, str], refs: Sequence[EnvRef]) -> list[dict]:
    """A main container's env: its plain values (sorted by name), then the references."""
    return [{"name": k, "value": v} for k, v in sorted(plain.items())] + env_refs(refs)


def platform_container(resolved: ResolvedContainer, pod: PodVolumes) -> dict:
    """A platform pod template in a job's pod: a native sidecar (an init container with
    restartPolicy Always, running beside the main container for the pod's life) or an init
    container. Its own volumes (by reference) join the pod's; its shared emptyDirs already are."""
    template = resolved.template
    own = PodVolumes().references(template.volumes)
    pod.volumes += [v for v in own.volumes if not any(v["name"] == p["name"] for p in pod.volumes)]
    amounts = {"cpu": canonical(resolved.cpu, FORMAT_DECIMAL), "memory": canonical(resolved.memory, FORMAT_BINARY)}
    container: dict = {"name": template.name, "image": template.image}
    if template.kind == "sidecar":
        container["restartPolicy"] = "Always"
    if template.command:
        container["command"] = list(template.command)
    if template.args:
        container["args"] = list(template.args)
    if template.env_refs:
        container["env"] = env_refs(template.env_refs)
    container["resources"] = {"requests": dict(amounts), "limits": dict(amounts)}
    mounts = own.mounts + [{"name": d.name, "mountPath": d.mount_path} for d in template.shared]
    if mounts:
        container["volumeMounts"] = mounts
    return container


def extra_volumes(volumes: PodVolumes, extras: PodExtras) -> PodVolumes:
    """The extras' volumes added to a pod's (and its main container's mounts): the references,
    /dev/shm, and the emptyDirs the platform's containers share with the main container."""
    return volumes.references(extras.extra_volumes).shm(extras.shm_size).shared(
        [d for c in extras.containers for d in c.template.shared])


def extra_containers(extras: PodExtras, volumes: PodVolumes) -> list[dict]:
    """The platform's containers the extras add, as init containers (native sidecars or not);
    their own volumes join `volumes`."""
    return [platform_container(c, volumes) for c in extras.containers]


def pull_secrets(extras: PodExtras) -> dict:
    """The pod spec's imagePullSecrets, when the extras name any."""
    return {"imagePullSecrets": [{"name": n} for n in extras.image_pull_secrets]} if extras.image_pull_secrets else {}
