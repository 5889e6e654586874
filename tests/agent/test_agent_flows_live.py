"""The data gate and the scheduled pipeline, end to end on the real local API server.

What tenantc renders for the example tenant `vision` (copied under a fresh name, so nothing
here meets another test's objects) is applied with `kubectl apply --server-side`, notebooks
aside (their StatefulSet would make a GPU pod of its own). No Volcano, Fluid, kubelet or
Job/CronJob controller runs here, so the test does, step by step, what their documentation
and source say they do, and checks what exists on the server after each step:

* Fluid writes a Dataset's `status.cacheStates.cachedPercentage` as a string ("40.0%"); for
  a Dataset sharing another (dataset://), it copies the shared Dataset's status
  (fluid pkg/ddc/thin/referencedataset/sync.go).
* Volcano's JobFlow controller creates the Job of a flow, named '<jobflow>-<template>', from
  the JobTemplate's spec, once every Job its flow depends on has `status.state.phase`
  Completed (volcano pkg/controllers/jobflow/jobflow_controller_action.go: deployJob, judge,
  createJob). `jobflow_step` below does exactly that, reading the JobFlow and JobTemplates
  back from the server.
* Volcano's job controller creates a Job's pods, '<job>-<task>-<index>', from its tasks'
  templates (pkg/controllers/job/job_controller_actions.go, PodNameFmt), and marks a Job whose
  pods all succeeded (minAvailable reached) Completed (pkg/controllers/job/state/running.go).
* The CronJob controller creates its Job named '<cronjob>-<scheduled time in minutes>'
  (kubernetes pkg/controller/cronjob/utils.go, getJobName); the API server itself labels a
  new Job's pod template with `batch.kubernetes.io/job-name` (pkg/registry/batch/job/strategy.go),
  which the test reads back rather than assumes; the kubelet resolves the downward-API env and
  expands `$(VAR)` in args.

The agent runs as the rendered ServiceAccount of the pod (a TokenRequest token), with the
args read back from the stored pod. The intent checked comes from tenants/vision.yaml.
"""
from __future__ import annotations

import base64
import re
import shutil
import time
import uuid
from pathlib import Path

import kubernetes
import pytest
import yaml
from agent_helpers import AgentProcess, agent_env, eventually, run_agent, write_kubeconfig
from kubernetes.client.rest import ApiException

from compiler.agent import contract
from compiler.pipeline import compile_repo

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"
CLUSTER = "gpu-east"
FLOW = ("flow.volcano.sh", "v1alpha1")
BATCH = ("batch.volcano.sh", "v1alpha1")
FLUID = ("data.fluid.io", "v1alpha1")
GPU = "nvidia.com/gpu"


class Unit:
    """The renamed vision tenant on gpu-east: its spec, rendered objects and API handles."""

    def __init__(self, control_plane, root: Path, kubectl):
        self.cp, self.kubectl = control_plane, kubectl
        self.tenant = f"vision-{uuid.uuid4().hex[:5]}"
        shutil.copytree(REPO / "tenants", root / "tenants")
        spec_text = (root / "tenants/vision.yaml").read_text().replace("\nname: vision\n", f"\nname: {self.tenant}\n")
        (root / "tenants/vision.yaml").unlink()
        (root / f"tenants/{self.tenant}.yaml").write_text(spec_text)
        self.spec = yaml.safe_load(spec_text)
        compiled = compile_repo(root, [SHARED_CRDS] if SHARED_CRDS.is_dir() else [])
        folder = f"{CLUSTER}/{self.tenant}/"
        self.objects = {p: o for p, o in compiled.objects.items() if p.startswith(folder)}
        self.files = {p: compiled.files[p] for p in self.objects}
        api = kubernetes.config.new_client_from_config(config_file=control_plane.kubeconfig_path)
        self.core = kubernetes.client.CoreV1Api(api)
        self.batch = kubernetes.client.BatchV1Api(api)
        self.custom = kubernetes.client.CustomObjectsApi(api)
        self.root = root

    @property
    def ns(self) -> str:
        return self.tenant

    def apply(self) -> None:
        """The rendered files but the notebooks' StatefulSets, stage by stage (namespace first)."""
        def stage(path: str) -> int:
            return int(self.objects[path]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])

        paths = [p for p in self.objects if self.objects[p]["kind"] != "StatefulSet"]
        for wave in sorted({stage(p) for p in paths}):
            files = [self.files[p].decode() for p in sorted(paths) if stage(p) == wave]
            self.kubectl("apply", "--server-side", "--field-manager=tenantc", "-f", "-", input="\n---\n".join(files))
            if wave == 1:  # the quota admission plugin refuses pods until the quota controller filled in its status
                eventually(lambda: all(q.status.hard for q in self.core.list_namespaced_resource_quota(self.ns).items),
                           120, 0.5, "ResourceQuota status")

    def delete(self) -> None:
        self.kubectl("delete", "namespace", self.ns, "--ignore-not-found", "--wait=false", check=False)
        self.kubectl("delete", "queues.scheduling.volcano.sh", self.ns, "--ignore-not-found", check=False)

    def rendered(self, kind: str, name: str) -> dict:
        found = [o for o in self.objects.values() if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name} rendered {len(found)} times"
        return found[0]

    # -- what exists on the server
    def volcano_jobs(self) -> dict[str, dict]:
        items = self.custom.list_namespaced_custom_object(*BATCH, self.ns, "jobs")["items"]
        return {i["metadata"]["name"]: i for i in items}

    def pods(self) -> dict[str, dict]:
        return {p.metadata.name: self.core.api_client.sanitize_for_serialization(p)
                for p in self.core.list_namespaced_pod(self.ns).items}

    def gpu_asks(self) -> list[str]:
        """Volcano Jobs and Pods on the server that request GPUs (JobTemplates create nothing)."""
        out = [f"Volcano Job {n}" for n, j in self.volcano_jobs().items()
               if any(_asks_gpu(t["template"]["spec"]) for t in j["spec"]["tasks"])]
        return out + [f"Pod {n}" for n, p in self.pods().items() if _asks_gpu(p["spec"])]

    # -- what the controllers would do
    def jobflow_step(self, jobflow: str) -> list[str]:
        """One reconcile of Volcano's JobFlow controller (deployJob): the Jobs it created."""
        flow = self.custom.get_namespaced_custom_object(*FLOW, self.ns, "jobflows", jobflow)
        existing = self.volcano_jobs()
        made = []
        for entry in flow["spec"]["flows"]:
            name = f"{jobflow}-{entry['name']}"
            if name in existing:
                continue
            targets = (entry.get("dependsOn") or {}).get("targets") or []
            if any(((existing.get(f"{jobflow}-{t}") or {}).get("status") or {}).get("state", {}).get("phase")
                   != "Completed" for t in targets):
                continue
            template = self.custom.get_namespaced_custom_object(*FLOW, self.ns, "jobtemplates", entry["name"])
            by = {"volcano.sh/createdByJobTemplate": f"{self.ns}.{entry['name']}",
                  "volcano.sh/createdByJobFlow": f"{self.ns}.{jobflow}"}
            body = {"apiVersion": "/".join(BATCH), "kind": "Job", "metadata": {
                "name": name, "labels": by, "annotations": by,
                "ownerReferences": [{"apiVersion": "/".join(FLOW), "kind": "JobFlow", "name": jobflow,
                                     "uid": flow["metadata"]["uid"], "controller": True,
                                     "blockOwnerDeletion": True}]},
                "spec": template["spec"]}
            self.custom.create_namespaced_custom_object(*BATCH, self.ns, "jobs", body)
            made.append(name)
        return made

    def job_pods(self, job: str) -> list[str]:
        """Volcano's job controller: the Job's pods, '<job>-<task>-<index>', made from its tasks."""
        spec = self.custom.get_namespaced_custom_object(*BATCH, self.ns, "jobs", job)["spec"]
        made = []
        for task in spec["tasks"]:
            for i in range(task.get("replicas", 1)):
                name = f"{job}-{task['name']}-{i}"
                template = task["template"]
                self.core.create_namespaced_pod(self.ns, {"metadata": {**template.get("metadata", {}), "name": name},
                                                          "spec": template["spec"]})
                made.append(name)
        return made

    def complete(self, job: str, pods: list[str]) -> None:
        """The kubelet reports the pods Succeeded; Volcano's job controller then the Job Completed."""
        for pod in pods:
            self.core.patch_namespaced_pod_status(pod, self.ns, {"status": {"phase": "Succeeded"}})
        self.custom.patch_namespaced_custom_object_status(*BATCH, self.ns, "jobs", job,
                                                          {"status": {"state": {"phase": "Completed"}}})

    def fluid_reports(self, dataset: str, percent: str) -> None:
        """Fluid's status of a Dataset (for a shared one: the shared dataset's, copied)."""
        self.custom.patch_namespaced_custom_object_status(*FLUID, self.ns, "datasets", dataset, {"status": {
            "conditions": [], "phase": "Bound",
            "cacheStates": {"cachedPercentage": percent, "cacheCapacity": "4.00TiB"}}})

    # -- the agent, as the pod would run it
    def agent_args_of(self, pod: dict, container: str) -> tuple[list[str], list[str]]:
        """(the container's args as the kubelet would run them, connection args of its account)."""
        spec = pod["spec"]
        found = next(c for c in spec["containers"] if c["name"] == container)
        env = {}
        for item in found.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                path = item["valueFrom"]["fieldRef"]["fieldPath"]
                label = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
                assert label, f"unexpected downward-API field {path}"
                env[item["name"]] = pod["metadata"]["labels"][label.group(1)]
        args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in found["args"]]
        return args, self.credentials(spec["serviceAccountName"])

    def credentials(self, account: str) -> list[str]:
        token = self.core.create_namespaced_service_account_token(
            account, self.ns, {"spec": {"expirationSeconds": 3600}}).status.token
        token_file = self.root / f"token-{account}"
        token_file.touch(mode=0o600)
        token_file.write_text(token)
        admin = yaml.safe_load(Path(self.cp.kubeconfig_path).read_text())
        cluster = admin["clusters"][0]["cluster"]
        ca = cluster.get("certificate-authority-data") or base64.b64encode(
            Path(cluster["certificate-authority"]).read_bytes()).decode()
        kubeconfig = write_kubeconfig(self.root / "agent.kubeconfig", cluster["server"], ca_data=ca)
        return ["--kubeconfig", str(kubeconfig), "--token-file", str(token_file)]


def _asks_gpu(pod_spec: dict) -> bool:
    return any(GPU in ((c.get("resources") or {}).get(kind) or {})
               for c in [*pod_spec.get("containers", []), *pod_spec.get("initContainers", [])]
               for kind in ("requests", "limits"))


@pytest.fixture(scope="module")
def unit(control_plane, kubectl, tmp_path_factory):
    made = Unit(control_plane, tmp_path_factory.mktemp("flows-live"), kubectl)
    made.apply()
    eventually(lambda: made.core.read_namespaced_service_account("tenantc-agent", made.ns), 30, 0.3,
               "rendered ServiceAccount stored")
    yield made
    made.delete()


def test_gpu_job_takes_no_gpu_until_its_data_gate_passed(unit):
    """resnet50-ddp asks for 8 A100s and waits for 90% of imagenet: nothing requesting a GPU
    exists on the server until the gate, run as its rendered pod, saw the data cached."""
    job = next(j for j in unit.spec["jobs"] if j["name"] == "resnet50-ddp")
    waited = (job["waitForData"].get("datasets") or job["datasets"], job["waitForData"]["minCachedPercent"])
    assert waited == (["imagenet"], 90)
    # All its pods are A100 pods: they read imagenet from its cache on the A100 pools, which the
    # gate waits for (README, "Caches next to their readers": '<dataset>-<model>').
    caches = ["imagenet-a100"]
    # Applied, the rendered objects request no GPU yet: a Volcano Job asking for GPUs would be
    # gang-scheduled at once and hold them however long its pods then wait.
    assert unit.gpu_asks() == [] and unit.volcano_jobs() == {}, "applying the rendered objects starts nothing"
    flow = unit.rendered("JobFlow", job["name"])

    gate_jobs = unit.jobflow_step(flow["metadata"]["name"])
    assert len(gate_jobs) == 1, f"only the first flow starts: {gate_jobs}"
    assert unit.gpu_asks() == [], "the first flow asks for no GPU"
    gate_pods = unit.job_pods(gate_jobs[0])  # admitted by the real API server (quota, limits, account)
    assert len(gate_pods) == 1
    pod = unit.pods()[gate_pods[0]]
    args, connection = unit.agent_args_of(pod, "wait-for-data")
    parsed = contract.parse(args)
    assert (parsed.command, parsed.names, parsed.namespace, parsed.min_cached_percent) == \
        (contract.WAIT_DATASET, caches, unit.ns, float(waited[1]))

    unit.fluid_reports("imagenet-a100", "40.0%")
    with AgentProcess(*args, "--poll", "0.3", *connection, env=agent_env()) as gate:
        gate.wait_for(f"{unit.ns}/imagenet-a100: 40% cached", timeout=60)
        assert unit.jobflow_step(flow["metadata"]["name"]) == [], "the gate has not completed: nothing more starts"
        time.sleep(1)
        assert gate.proc.poll() is None, "40% < 90%: the gate still waits"
        assert unit.gpu_asks() == [], "no GPU is requested while the gate waits"
        unit.fluid_reports("imagenet-a100", "95.0%")
        assert gate.proc.wait(timeout=60) == 0, gate.output
    unit.complete(gate_jobs[0], gate_pods)

    started = unit.jobflow_step(flow["metadata"]["name"])
    assert started == [f"{flow['metadata']['name']}-{job['name']}"], started
    gpu_pods = unit.job_pods(started[0])  # 8 A100s fit the tenant's ResourceQuota
    assert len(gpu_pods) == 8 and {f"Pod {p}" for p in gpu_pods} <= set(unit.gpu_asks())


def test_a_runtime_without_a_cached_percentage_fails_the_gate_at_once(unit):
    """A ThinRuntime's Fluid status says "N/A": tenantc refuses such a wait at compile time,
    and were one deployed anyway, the gate exits 2 (fails its Job) instead of waiting."""
    name = f"thin-{uuid.uuid4().hex[:5]}"
    unit.custom.create_namespaced_custom_object(*FLUID, unit.ns, "datasets", {
        "apiVersion": "/".join(FLUID), "kind": "Dataset", "metadata": {"name": name},
        "spec": {"mounts": [{"name": "nas", "mountPoint": "pvc://nas/"}]}})
    unit.fluid_reports(name, "N/A")
    result = run_agent(*contract.wait_dataset_argv([name], unit.ns, 90, 30), *unit.credentials("tenantc-agent"),
                       env=agent_env())
    assert result.returncode == 2 and "does not report" in result.stderr, result.stderr


def test_scheduled_pipeline_run_creates_its_jobflow(unit):
    """detector-daily has a schedule: its CronJob's pod, run as the rendered account, creates a
    JobFlow of the pipeline's steps, and Volcano can start it from the rendered JobTemplates."""
    pipeline = next(p for p in unit.spec["pipelines"] if p["name"] == "detector-daily")
    assert pipeline["schedule"] and not [o for o in unit.objects.values() if o["kind"] == "JobFlow"
                                         and o["metadata"]["name"] == pipeline["name"]], "no one-shot JobFlow"
    expected = [{"name": f"{pipeline['name']}-{s['name']}",
                 **({"dependsOn": {"targets": [f"{pipeline['name']}-{d}" for d in s["dependsOn"]]}}
                    if s.get("dependsOn") else {})} for s in pipeline["steps"]]
    cron = unit.batch.read_namespaced_cron_job(pipeline["name"], unit.ns)
    assert (cron.spec.schedule, cron.spec.time_zone) == (pipeline["schedule"], pipeline.get("timeZone"))

    # The CronJob controller's Job for the 03:00 run: '<cronjob>-<minutes>' from the jobTemplate.
    minutes = int(time.time() // 60)
    job_name = f"{pipeline['name']}-{minutes}"
    template = unit.core.api_client.sanitize_for_serialization(cron.spec.job_template)
    unit.batch.create_namespaced_job(unit.ns, {
        "metadata": {"name": job_name, "labels": (template.get("metadata") or {}).get("labels", {}),
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cron.metadata.name,
                                          "uid": cron.metadata.uid, "controller": True}]},
        "spec": template["spec"]})
    stored = unit.core.api_client.sanitize_for_serialization(unit.batch.read_namespaced_job(job_name, unit.ns))
    pod_labels = stored["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[contract.RUN_SOURCE_LABEL] == job_name, "the API server labels the Job's pods with its name"
    # The Job controller's pod, admitted by the real API server.
    unit.core.create_namespaced_pod(unit.ns, {"metadata": {"name": f"{job_name}-x1", "labels": pod_labels},
                                              "spec": stored["spec"]["template"]["spec"]})
    args, connection = unit.agent_args_of(unit.pods()[f"{job_name}-x1"], "run-flow")
    assert contract.parse(args).run == job_name

    result = run_agent(*args, *connection, env=agent_env())
    assert result.returncode == 0, result.stderr
    runs = unit.custom.list_namespaced_custom_object(*FLOW, unit.ns, "jobflows",
                                                     label_selector=f"tenantc.io/pipeline={pipeline['name']}")["items"]
    assert [r["metadata"]["name"] for r in runs] == [job_name]
    assert runs[0]["spec"]["flows"] == expected
    assert runs[0]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tenantc-agent"  # never pruned

    # A second pod of the same Job (a retry) starts nothing more.
    again = run_agent(*args, *connection, env=agent_env())
    assert again.returncode == 0 and "exists already" in again.stderr, again.stderr
    # Volcano can run it: the first step's JobTemplate exists, and only that step starts.
    started = unit.jobflow_step(job_name)
    assert started == [f"{job_name}-{expected[0]['name']}"], started
    with pytest.raises(ApiException) as missing:
        unit.custom.get_namespaced_custom_object(*FLOW, unit.ns, "jobflows", pipeline["name"])
    assert missing.value.status == 404
