"""Job, pipeline-step and serving pods as real work needs them, checked over the examples'
rendered pods against their specs: env and volumes by reference only, /dev/shm, pull secrets,
the platform's sidecars and init containers (one model, compiler/model/pods.py, and one plan
function, compiler/plan/pod_extras.py, for all three), Volcano lifecycle policies and
preemptability (jobs).

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
from helpers import CRD_DIR, copy_repo
from spec_edits import edit_yaml

from compiler import volcano
from compiler.model.pods import SECRET_LIKE_NAME, PodExtras
from compiler.model.workloads import Lifecycle
from compiler.pipeline import compile_repo
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
    [(metadata, pod)] = list(_pods(volcano_job))
    assert job.policies and job.preemptable is not None  # the example asks for both
    _assert_lifecycle(job, volcano_job, metadata)
    _assert_extras(example, job, pod, ["tenantc-agent"])


def _assert_extras(example, extras, pod, before: list[str]) -> None:
    """`pod` (a rendered pod spec with one main container) has exactly the extras the spec
    `extras` (a job's, step's or serving's) asks for; `before`: the init containers tenantc
    puts ahead of the platform's (the agent's sidecar in job pods)."""
    assert pod.get("imagePullSecrets", []) == [{"name": n} for n in extras.image_pull_secrets]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    [main] = pod["containers"]
    mounts = {m["mountPath"]: m for m in main.get("volumeMounts", [])}
    if extras.shm_size is None:
        assert "/dev/shm" not in mounts
    else:
        shm = volumes[mounts["/dev/shm"]["name"]]["emptyDir"]
        assert shm["medium"] == "Memory" and Quantity.parse(shm["sizeLimit"]).value == extras.shm_size.value
    refs = {e["name"]: e["valueFrom"] for e in main.get("env", []) if "valueFrom" in e}
    assert len(refs) == len(extras.env_refs)
    for ref in extras.env_refs:
        source = ref.secret or ref.config_map
        kind = "secretKeyRef" if ref.secret else "configMapKeyRef"
        assert refs[ref.name] == {kind: {"name": source.name, "key": source.key}}
    for extra in extras.extra_volumes:
        kind, name = extra.source
        volume = volumes[extra.name]
        assert (volume.get("secret", {}).get("secretName") or volume.get("configMap", {}).get("name")
                or volume["persistentVolumeClaim"]["claimName"]) == name
        assert mounts[extra.mount_path]["name"] == extra.name
    templates = {t.name: t for t in example.specs.platform.pod_templates}
    init = {c["name"]: c for c in pod.get("initContainers", [])}
    assert list(init)[:len(before) + len(extras.containers)] == [*before, *extras.containers]
    for name in extras.containers:
        template, container = templates[name], init[name]
        assert (container.get("restartPolicy") == "Always") == (template.kind == "sidecar")
        for shared in template.shared:  # the same emptyDir, mounted in the sidecar and the main container
            assert volumes[shared.name] == {"name": shared.name, "emptyDir": {}}
            assert {"name": shared.name, "mountPath": shared.mount_path} in container["volumeMounts"]
            assert mounts[shared.mount_path]["name"] == shared.name
        for own in template.volumes:
            assert own.name in volumes and own.name not in {m["name"] for m in main["volumeMounts"]}
        assert [e["name"] for e in container.get("env", [])] == [r.name for r in template.env_refs]


def _has_extras(spec) -> bool:
    return bool(spec.env_refs or spec.extra_volumes or spec.shm_size or spec.image_pull_secrets or spec.containers)


STEP_FIELDS = ("env_refs", "extra_volumes", "shm_size", "image_pull_secrets", "containers", "policies",
               "preemptable")


def test_the_step_fields_a_pipeline_gives_are_its_pod_extras_and_lifecycle():
    assert set(STEP_FIELDS) == set(PodExtras.model_fields) | set(Lifecycle.model_fields)


def _as_step_runs(pipeline, step):
    """The step as documented (compiler/model/workloads.py, Step): each pod extra and lifecycle
    field it does not set is its pipeline's."""
    return step.model_copy(update={f: getattr(pipeline, f) for f in STEP_FIELDS if f not in step.model_fields_set})


def test_pipeline_step_pods_get_what_their_step_asks_for(example):
    """Every task pod of every step's JobTemplate has the step's extras (and no other step's),
    those it leaves out being its pipeline's: templates carry none, so those are all its pods get."""
    checked, with_extras, with_lifecycle, inherited, replaced = _check_step_pods(example)
    assert checked and with_extras >= 3  # vision's detector-daily: a sidecar, /dev/shm, a Secret reference
    assert with_lifecycle >= 2  # and its own policies on one step, preemptable on another
    assert inherited >= 2 and replaced >= 1  # the pipeline's Secret reference: train and evaluate, not preprocess


def test_a_pipeline_gives_every_field_to_the_steps_that_leave_it_out(tmp_path, crds):
    """Each pod extra and lifecycle field set on a pipeline, taken by the steps without their own."""
    root = copy_repo(tmp_path / "repo")

    def give(data: dict) -> None:
        pipeline = data["pipelines"][0]
        pipeline.update(shmSize="8Gi", imagePullSecrets=["vision-registry"], containers=["krb5-renewer"],
                        policies=[{"event": "PodFailed", "action": "RestartTask"}], preemptable=False,
                        extraVolumes=[{"name": "labels", "configMap": "label-map", "mountPath": "/etc/labels"}])
        pipeline["steps"][2].update(preemptable=True, imagePullSecrets=[])  # evaluate keeps its own
    edit_yaml(root, "vision.yaml", give)
    result = compile_repo(root, crds=crds)
    pipeline = result.specs.tenant("vision").tenant.pipelines[0]
    assert set(STEP_FIELDS) - {"env_refs"} <= pipeline.model_fields_set
    checked, with_extras, with_lifecycle, inherited, replaced = _check_step_pods(result)
    assert checked and with_extras == with_lifecycle == 3 and inherited == 3 and replaced == 3


def _check_step_pods(result) -> tuple[int, int, int, int, int]:
    """Every step pod of `result` checked against its step as it runs (_as_step_runs): the pods
    checked, and the steps with extras, with a lifecycle, taking a field of their pipeline's that
    is set there and setting their own over one."""
    checked = with_extras = with_lifecycle = inherited = replaced = 0
    for spec in result.specs.tenants:
        for pipeline in spec.tenant.pipelines:
            for step in pipeline.steps:
                runs = _as_step_runs(pipeline, step)
                path = (f"{pipeline.cluster}/{spec.tenant.name}/jobtemplate.flow.volcano.sh-"
                        f"{pipeline.name}-{step.name}.yaml")
                job = result.objects[path]["spec"]
                for metadata, pod in _pods(job):
                    _assert_extras(result, runs, pod, ["tenantc-agent"])
                    _assert_lifecycle(runs, job, metadata)
                    checked += 1
                with_extras += _has_extras(runs)
                with_lifecycle += runs.policies is not None or runs.preemptable is not None
                given = [f for f in STEP_FIELDS if getattr(pipeline, f) is not None and f in pipeline.model_fields_set]
                inherited += any(f not in step.model_fields_set for f in given)
                replaced += any(f in step.model_fields_set for f in given)
    return checked, with_extras, with_lifecycle, inherited, replaced


def _assert_lifecycle(spec, job: dict, pod_metadata: dict) -> None:
    """A rendered Volcano job (spec) has the policies and preemptability `spec` asks for, or
    tenantc's default policies and the scheduler's own preemptability."""
    expected = [{"event": p.event, "action": p.action} for p in spec.policies] if spec.policies is not None \
        else [dict(p) for p in volcano.DEFAULT_POLICIES]
    assert job["policies"] == expected
    annotations = pod_metadata.get("annotations") or {}
    if spec.preemptable is None:
        assert volcano.PREEMPTABLE_ANNOTATION not in annotations
    else:
        assert annotations[volcano.PREEMPTABLE_ANNOTATION] == str(spec.preemptable).lower()


def test_serving_pods_get_what_their_serving_asks_for(example):
    """Every replica of a serving (its Deployment's pod template) has the serving's extras."""
    with_extras = 0
    for spec in example.specs.tenants:
        for serving in spec.tenant.servings:
            path = f"{serving.cluster}/{spec.tenant.name}/deployment-{serving.name}.yaml"
            pod = example.objects[path]["spec"]["template"]["spec"]
            _assert_extras(example, serving, pod, [])
            plain = {e["name"]: e["value"] for e in pod["containers"][0].get("env", []) if "value" in e}
            assert plain == (serving.env or {})
            with_extras += _has_extras(serving)
    assert with_extras >= 2  # recsys's ranker and ads-ranking's ctr (a native sidecar)


def test_jobs_without_policies_keep_the_gang_restart_default(example):
    job = example.objects["gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml"]
    assert job["spec"]["policies"] == [dict(p) for p in volcano.DEFAULT_POLICIES]
