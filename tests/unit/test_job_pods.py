"""Job pods as real jobs need them, checked over the examples' rendered pods against their
specs: env and volumes by reference only, /dev/shm, pull secrets, the platform's sidecars and
init containers, Volcano lifecycle policies and preemptability.

Upstream behaviour relied on:
- Volcano Job CRD (../shared/crds/volcano/batch.volcano.sh_jobs.yaml, from volcano-sh/volcano
  config/crd/volcano/bases): the policy events enum compiler/volcano.py accepts;
- https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/ (a sidecar is an init
  container with restartPolicy: Always, running for the pod's life);
- https://kubernetes.io/docs/concepts/storage/volumes/#emptydir (medium: Memory is a tmpfs with
  sizeLimit, what /dev/shm needs beyond the runtime's 64Mi default).
"""
from __future__ import annotations

import pytest
import yaml
from helpers import CRD_DIR

from compiler import volcano
from compiler.model.pods import SECRET_LIKE_NAME
from compiler.quantity import Quantity


def test_policy_events_are_the_volcano_job_crds():
    path = CRD_DIR / "volcano" / "batch.volcano.sh_jobs.yaml"
    if not path.is_file():
        pytest.skip("no upstream CRDs in ../shared/crds")
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    item = spec["policies"]["items"]["properties"]
    assert tuple(item["event"]["enum"]) == volcano.POLICY_EVENTS
    task_item = spec["tasks"]["items"]["properties"]["policies"]["items"]["properties"]
    assert tuple(task_item["event"]["enum"]) == volcano.POLICY_EVENTS
    assert item["action"]["type"] == "string"  # free text in the CRD: compiler/volcano.py lists the valid ones


def _pods(obj):
    """Every pod template spec inside a rendered object, with its metadata."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "spec" in node and isinstance(node["spec"], dict) and "containers" in node["spec"]:
                yield node.get("metadata", {}), node["spec"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def test_no_rendered_container_has_a_secret_like_plain_value(example):
    for path, obj in example.objects.items():
        for _, pod in _pods(obj):
            for container in pod["containers"] + pod.get("initContainers", []):
                for env in container.get("env", []):
                    assert not ("value" in env and SECRET_LIKE_NAME.search(env["name"])), (path, env["name"])


def test_backtest_pods_get_what_the_schedule_asks_for(example):
    spec = example.specs.tenant("quant-research")
    schedule = next(s for s in spec.tenant.schedules if s.name == "nightly-backtest")
    job = schedule.job
    cron = example.objects["cpu-west/quant-research/cronjob.batch.volcano.sh-nightly-backtest.yaml"]
    volcano_job = cron["spec"]["jobTemplate"]["spec"]
    assert volcano_job["policies"] == [{"event": p.event, "action": p.action} for p in job.policies]
    [(metadata, pod)] = list(_pods(volcano_job))
    assert metadata["annotations"][volcano.PREEMPTABLE_ANNOTATION] == str(job.preemptable).lower()
    assert pod["imagePullSecrets"] == [{"name": n} for n in job.image_pull_secrets]
    volumes = {v["name"]: v for v in pod["volumes"]}
    [main] = pod["containers"]
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    shm = volumes[mounts["/dev/shm"]["name"]]["emptyDir"]
    assert shm["medium"] == "Memory" and Quantity.parse(shm["sizeLimit"]).value == job.shm_size.value
    refs = {e["name"]: e["valueFrom"] for e in main["env"] if "valueFrom" in e}
    for ref in job.env_refs:
        source = ref.secret or ref.config_map
        kind = "secretKeyRef" if ref.secret else "configMapKeyRef"
        assert refs[ref.name] == {kind: {"name": source.name, "key": source.key}}
    for extra in job.extra_volumes:
        kind, name = extra.source
        volume = volumes[extra.name]
        assert (volume.get("secret", {}).get("secretName") or volume.get("configMap", {}).get("name")
                or volume["persistentVolumeClaim"]["claimName"]) == name
        assert mounts[extra.mount_path]["name"] == extra.name
    templates = {t.name: t for t in example.specs.platform.pod_templates}
    init = {c["name"]: c for c in pod["initContainers"]}
    for name in job.containers:
        template, container = templates[name], init[name]
        assert (container.get("restartPolicy") == "Always") == (template.kind == "sidecar")
        for shared in template.shared:  # the same emptyDir, mounted in the sidecar and the job's container
            assert volumes[shared.name] == {"name": shared.name, "emptyDir": {}}
            assert {"name": shared.name, "mountPath": shared.mount_path} in container["volumeMounts"]
            assert mounts[shared.mount_path]["name"] == shared.name
        for own in template.volumes:
            assert own.name in volumes and own.name not in {m["name"] for m in main["volumeMounts"]}
        assert [e["name"] for e in container.get("env", [])] == [r.name for r in template.env_refs]


def test_jobs_without_policies_keep_the_gang_restart_default(example):
    job = example.objects["gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml"]
    assert job["spec"]["policies"] == [dict(p) for p in volcano.DEFAULT_POLICIES]
