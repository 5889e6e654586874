"""What the rendered workloads and data objects mean: gangs, placement, plugins, the agent,
template inheritance, dataset sharing, credentials, least-privilege RBAC, storage quota."""
from __future__ import annotations

import re

import pytest

from compiler.agent.permissions import permission_set, rules_for
from compiler.fluid import RUNTIME_KINDS, runtime_resource
from compiler.identity import RenderedPath
from compiler.kinds import DATASET_CLAIM_ANNOTATION, QUEUE_READER_PREFIX
from compiler.plan.templates import merge
from compiler.quantity import Quantity

GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")


# -- gangs --------------------------------------------------------------------------------------

def test_gang_is_every_replica_by_default(examples):
    """MinAvailable is the sum of all task replicas when the job does not set it."""
    specs = list(examples.job_specs())
    assert len(specs) == 9  # 4 jobs, 1 schedule, 3 pipeline steps, 1 published template
    for _job, path, spec in specs:
        assert spec["minAvailable"] == sum(t["replicas"] for t in spec["tasks"]), path
    assert examples["gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml"]["spec"]["minAvailable"] == 8


def test_gang_may_be_set_lower(temp_repo):
    """A lower minAvailable is kept as given; replicas do not change."""
    out = temp_repo.set("vision.yaml", "jobs[0].minAvailable", 4).compile()
    spec = out["gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml"]["spec"]
    assert spec["minAvailable"] == 4
    assert sum(t["replicas"] for t in spec["tasks"]) == 8


# -- pool placement -----------------------------------------------------------------------------

def _pool_terms(pools) -> list[dict[str, list[str]]]:
    return [{k: [v] for k, v in p.labels.items()} for p in pools if p.labels]


def _pool_taints(pools) -> set[tuple[str, str, str]]:
    return {(t.key, t.value, t.effect) for p in pools for t in p.taints}


def test_tasks_land_on_their_pool(examples):
    """GPU tasks: the job's GPU-model pool's affinity and taints; CPU tasks: the CPU pool, and
    no toleration of any GPU pool's taint."""
    seen = set()
    for job, path, task in examples.tasks():
        cluster = examples.platform.cluster(job.cluster)
        pod = task["template"]["spec"]
        role = examples.role_of(job, task["name"])
        gpu_taints = _pool_taints(cluster.pools("gpu"))
        if role.gpu:
            pools = [p for p in cluster.pools("gpu") if p.gpu_model == job.gpu_model]
            assert pools, f"{path}: no {job.gpu_model} pool"
            assert examples.container(pod, task["name"])["resources"]["limits"][pools[0].gpu_resource] == str(role.gpu)
        else:
            pools = cluster.pools("cpu")
            assert not examples.toleration_keys(pod) & gpu_taints, f"{path}: CPU task {task['name']} tolerates GPUs"
        assert examples.affinity_terms(pod) == _pool_terms(pools), path
        assert examples.toleration_keys(pod) == _pool_taints(pools), path
        seen.add((role.pool, bool(role.gpu)))
    assert seen == {("cpu", False), ("gpu", True)}


@pytest.mark.parametrize("path, task, pool, tolerates_gpu", [
    ("cpu-west/recsys/jobtemplate.flow.volcano.sh-wide-deep-train.yaml", "ps", "cpu-general", False),
    ("cpu-west/recsys/jobtemplate.flow.volcano.sh-wide-deep-train.yaml", "worker", "gpu-a10", True),
    ("gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml", "launcher", "cpu-general", False),
    ("gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml", "worker", "gpu-a100", True),
])
def test_placement_of_known_roles(examples, path, task, pool, tolerates_gpu):
    """Anchors: parameter servers and MPI launchers stay on CPU nodes, workers go to GPUs."""
    spec = next(t for t in examples[path]["spec"]["tasks"] if t["name"] == task)["template"]["spec"]
    assert [term["node.example.com/pool"] for term in examples.affinity_terms(spec)] == [[pool]]
    assert (GPU_TAINT in examples.toleration_keys(spec)) is tolerates_gpu


def test_gpu_tasks_follow_the_jobs_gpu_model(temp_repo):
    """With two GPU models on a cluster (gpu-east: A100 and H100, each under its own resource
    name), GPU tasks go to the job's model's pool only and ask for that model's resource."""
    out = (temp_repo.set("platform.yaml", "clusters[0].nodePools[2].taints",
                         [{"key": "example.com/h100", "value": "true", "effect": "NoSchedule"}])
           .set("ads-ranking.yaml", "jobs[0].gpuModel", "H100")
           .compile())
    tasks = {t["name"]: t["template"]["spec"]
             for t in out["gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml"]["spec"]["tasks"]}
    assert out.affinity_terms(tasks["worker"]) == [{"node.example.com/pool": ["gpu-h100"],
                                                    "nvidia.com/gpu.product": ["H100-SXM5-80GB"]}]
    assert out.toleration_keys(tasks["worker"]) == {("example.com/h100", "true", "NoSchedule")}
    assert out.container(tasks["worker"], "worker")["resources"]["limits"]["nvidia.com/h100"] == "2"
    assert "nvidia.com/gpu" not in out.container(tasks["worker"], "worker")["resources"]["limits"]
    assert out.affinity_terms(tasks["launcher"]) == [{"node.example.com/pool": ["cpu-general"]}]
    assert out.toleration_keys(tasks["launcher"]) == set()


@pytest.mark.parametrize("path, pool, gpu", [
    ("cpu-west/quant-research/statefulset-nb-lena.yaml", "cpu-general", False),
    ("gpu-east/vision/statefulset-nb-mei.yaml", "gpu-a100", True),
])
def test_notebook_placement(examples, path, pool, gpu):
    """CPU notebooks never tolerate GPU taints; GPU notebooks do and ask for a GPU."""
    pod = examples[path]["spec"]["template"]["spec"]
    assert [term["node.example.com/pool"] for term in examples.affinity_terms(pod)] == [[pool]]
    assert (GPU_TAINT in examples.toleration_keys(pod)) is gpu
    assert ("nvidia.com/gpu" in examples.container(pod, "notebook")["resources"]["limits"]) is gpu


# -- frameworks -----------------------------------------------------------------------------------

def test_framework_plugins(examples):
    """Pytorch -> pytorch+svc; tensorflow -> only the present roles; mpi -> mpi+ssh+svc."""
    def plugins(path):
        return examples[path]["spec"]["plugins"]

    assert plugins("gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml") == {
        "pytorch": ["--master=master", "--worker=worker", "--port=23456"], "svc": []}
    assert plugins("cpu-west/recsys/jobtemplate.flow.volcano.sh-wide-deep-train.yaml") == {
        "tensorflow": ["--ps=ps", "--worker=worker", "--chief=chief", "--port=2222"], "svc": []}
    assert plugins("gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml") == {
        "mpi": ["--master=launcher", "--worker=worker", "--port=22"], "ssh": [], "svc": []}


def test_job_policies(examples):
    """Every gang restarts on eviction; only the MPI launcher completes the job."""
    for job, path, spec in examples.job_specs():
        assert {"event": "PodEvicted", "action": "RestartJob"} in spec["policies"], path
        for task in spec["tasks"]:
            if job.framework == "mpi" and task["name"] == "launcher":
                assert task["policies"] == [{"event": "TaskCompleted", "action": "CompleteJob"}]
            else:
                assert "policies" not in task, f"{path}: {task['name']}"


# -- the agent ----------------------------------------------------------------------------------

def test_every_task_has_the_agent_sidecar(examples):
    """A native sidecar (restartPolicy Always) first, named for its job and task by env."""
    count = 0
    for job, path, task in examples.tasks():
        pod = task["template"]["spec"]
        sidecar = pod["initContainers"][0]
        assert sidecar["name"] == "tenantc-agent" and sidecar["restartPolicy"] == "Always", path
        assert sidecar["image"] == examples.platform.agent_image
        assert sidecar["args"][0] == "sidecar"
        env = {e["name"]: e for e in sidecar["env"]}
        assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        assert env["TENANTC_JOB"]["value"] == job.name
        assert env["TENANTC_TASK"]["value"] == task["name"]
        assert pod["serviceAccountName"] == "tenantc-agent"
        status = {m["mountPath"] for m in examples.container(pod, task["name"])["volumeMounts"]}
        assert "/var/run/tenantc" in status  # the main container writes the status file there
        count += 1
    assert count == 16  # tasks of the 9 Volcano jobs, schedules, steps and templates


def test_wait_for_data_iff_the_job_waits(examples):
    """A CPU-only job that waits has the wait-dataset init container in every pod, for the
    datasets it waits for; a GPU job that waits has none (its JobFlow's first flow waits,
    before any GPU pod exists); no other job has one."""
    waiting, gated = set(), set()
    for job, path, task in examples.tasks():
        init = {c["name"]: c for c in task["template"]["spec"]["initContainers"]}
        added = [c.template.name for c in job.pod.containers]  # the platform's sidecars the job adds
        if job.wait is not None and job.wait.gate == "init":
            waiting.add(job.name)
            args = init["wait-for-data"]["args"]
            assert args[:1 + len(job.wait.datasets)] == ["wait-dataset", *job.wait.datasets]
            mounted = {v["persistentVolumeClaim"]["claimName"] for v in task["template"]["spec"]["volumes"]
                       if "persistentVolumeClaim" in v}
            assert set(job.wait.datasets) <= mounted, path  # a CPU pod reads (and waits for) the home caches
            assert args[args.index("--namespace") + 1] == job.tenant
            assert args[args.index("--min-cached-percent") + 1] == str(job.wait.percent)
            assert list(init) == ["tenantc-agent", *added, "wait-for-data"]  # after the sidecars start
        else:
            assert list(init) == ["tenantc-agent", *added], path
            if job.wait is not None:
                gated.add(job.name)
                assert job.gated_by_flow and any(r.gpu for r in job.roles), path
    assert waiting == {"nightly-backtest"}
    assert gated == {"resnet50-ddp", "wide-deep-train"}


# -- templates ----------------------------------------------------------------------------------

def test_merge_is_deep_and_roles_merge_by_name():
    """Dicts merge key by key, roles by name (new ones appended), everything else is replaced."""
    base = {"maxRetry": 3, "roles": [{"name": "master", "resources": {"cpu": "8", "gpu": "1"}, "args": ["a"]},
                                     {"name": "worker", "replicas": 3}]}
    override = {"roles": [{"name": "worker", "replicas": 7}, {"name": "evaluator"},
                          {"name": "master", "resources": {"cpu": "4"}, "args": ["b"]}]}
    assert merge(base, override) == {"maxRetry": 3, "roles": [
        {"name": "master", "resources": {"cpu": "4", "gpu": "1"}, "args": ["b"]},
        {"name": "worker", "replicas": 7},
        {"name": "evaluator"}]}
    assert base["roles"][1]["replicas"] == 3  # inputs untouched


def test_extends_chain_and_job_overrides(examples):
    """Resnet extends pytorch-ddp: images from resnet, sizes and retries from pytorch-ddp,
    replicas from the job."""
    job = examples.result.plan.workloads.resolved[("vision", "job", "resnet50-ddp")]
    master, worker = examples.role_of(job, "master"), examples.role_of(job, "worker")
    assert master.image == worker.image == "registry.example.com/ml/vision/resnet:2.0"
    assert master.command == ["torchrun", "train.py"] and master.ports == [23456]
    assert (master.cpu, master.gpu, master.replicas) == (8, 1, 1)
    assert worker.replicas == 7  # the job's override beats the template's 3
    assert (job.framework, job.max_retry) == ("pytorch", 3)
    # pytorch-ddp's TTL reaches what is submitted on its own (the published template), but not a
    # job run by a JobFlow, which re-creates a flow's Job that Volcano deleted after its TTL.
    assert job.gated_by_flow and job.ttl is None
    published = examples.result.plan.workloads.resolved[("vision", "template", "resnet@gpu-east")]
    assert published.ttl == 86400


def test_job_override_merges_into_role_resources(temp_repo):
    """A job overriding one resource keeps the template's others."""
    out = temp_repo.set("vision.yaml", "jobs[0].roles[0].resources", {"cpu": "4"}).compile()
    spec = out["gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml"]["spec"]
    tasks = {t["name"]: t for t in spec["tasks"]}
    limits = out.container(tasks["worker"]["template"]["spec"], "worker")["resources"]["limits"]
    assert limits == {"cpu": "4", "memory": "64Gi", "nvidia.com/gpu": "1"}
    assert out.container(tasks["master"]["template"]["spec"], "master")["resources"]["limits"]["cpu"] == "8"


def test_extends_cycle_is_an_error(temp_repo):
    """Templates extending each other in a cycle are reported, used or not."""
    temp_repo.append("vision.yaml", "templates", {"name": "ping", "extends": "pong"})
    temp_repo.append("vision.yaml", "templates", {"name": "pong", "extends": "ping"})
    temp_repo.expect_problem("tenants/vision.yaml", "templates[1].extends", "cycle: ping -> pong -> ping")


# -- dataset sharing ----------------------------------------------------------------------------

def test_import_of_unexported_dataset_names_both_tenants(temp_repo):
    """Importing what the owner does not export is an error naming owner and importer."""
    temp_repo.append("recsys.yaml", "imports", {"tenant": "quant-research", "dataset": "backtest-results"})
    problems = temp_repo.expect_problem("tenants/recsys.yaml", "imports[2]", "does not export")
    problem = next(p for p in problems if p.path == "imports[2]")
    assert "'quant-research'" in problem.message and "'recsys'" in problem.message


def test_write_import_of_read_only_export(temp_repo):
    """Asking write on a read-only export is an error at the import's write field."""
    temp_repo.set("recsys.yaml", "imports[0].write", True)
    problems = temp_repo.expect_problem("tenants/recsys.yaml", "imports[0].write", "read-only")
    assert "'quant-research'" in problems[0].message and "'recsys'" in problems[0].message


def test_global_dataset_is_imported_read_only_everywhere(examples):
    """Every other tenant gets imagenet on each of its clusters as a read-only dataset:// ref."""
    owner = examples.platform.global_datasets[0]
    placed = {(c, t.tenant.name) for t in examples.result.specs.tenants if t.tenant.name != owner.tenant
              for c in examples.result.plan.quotas[t.tenant.name]}
    refs = {}
    for path, ds in examples.of_kind("Dataset").items():
        if ds["metadata"]["name"] == owner.dataset and ds["metadata"]["namespace"] != owner.tenant:
            rendered = RenderedPath.parse(path)
            refs[(rendered.cluster, rendered.unit)] = ds["spec"]
    assert set(refs) == placed and len(placed) == 8
    for spec in refs.values():
        assert spec["mounts"] == [{"mountPoint": f"dataset://{owner.tenant}/{owner.dataset}",
                                   "name": owner.dataset, "readOnly": True}]
        assert spec["accessModes"] == ["ReadOnlyMany"]


def test_read_only_datasets_are_mounted_read_only(examples):
    """Pods mount read-only datasets read-only and writable ones read-write."""
    writable = {("quant-research", "backtest-results")}
    checked = 0
    pods = [(RenderedPath.parse(p).tenant, t["template"]["spec"]) for _, p, t in examples.tasks()]
    pods += [(RenderedPath.parse(p).tenant, o["spec"]["template"]["spec"])
             for p, o in examples.of_kind("StatefulSet").items()]
    for tenant, pod in pods:
        claims = {v["name"]: v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
        for c in pod["containers"]:
            for mount in c["volumeMounts"]:
                if mount["name"].startswith("data-"):
                    ro = (tenant, claims[mount["name"]]["claimName"]) not in writable
                    assert mount.get("readOnly", False) is ro and claims[mount["name"]].get("readOnly", False) is ro
                    checked += 1
    assert checked > 10


def test_a_global_dataset_name_cannot_be_reused(temp_repo):
    """An own dataset named like a global one is an error at its name, not a file collision."""
    temp_repo.append("vision.yaml", "datasets", {"name": "imagenet", "mounts": [{"uri": "s3://vision/imagenet/"}]})
    temp_repo.expect_problem("tenants/vision.yaml", "datasets[0].name", "global dataset ml-platform/imagenet")


# -- caches next to their readers -----------------------------------------------------------------

def _pod_templates(examples):
    """(cluster, namespace, path, pod spec) of every task and notebook the examples render."""
    for _job, path, task in examples.tasks():
        yield path.split("/")[0], examples[path]["metadata"]["namespace"], path, task["template"]["spec"]
    for path, sts in examples.of_kind("StatefulSet").items():
        yield path.split("/")[0], sts["metadata"]["namespace"], path, sts["spec"]["template"]["spec"]


def _pools_of(examples, cluster: str, pod_or_dataset_affinity: list[dict[str, list[str]]]) -> set[str]:
    """The pools of `cluster` whose labels satisfy one of the required node-selector terms."""
    return {p.name for p in examples.platform.cluster(cluster).node_pools
            if any(all(p.labels.get(k) in v for k, v in term.items()) for term in pod_or_dataset_affinity)}


def test_every_reader_mounts_a_cache_on_its_own_pools(examples):
    """Issue 12: Fluid places a runtime's workers by its Dataset's nodeAffinity (fluid
    pkg/ctrl/affinity.go) and its webhook puts a reader next to the workers of the Dataset behind
    the claim it mounts (docs/en/operation/pod_schedule_optimization.md). So every claim of a
    cached dataset a pod mounts must be a Dataset whose caches may run on every pool the pod may
    run on, tolerating their taints; a reference (dataset://) counts as the owner's Dataset."""
    datasets = {(o["metadata"]["namespace"], o["metadata"]["name"], p.split("/")[0]): o
                for p, o in examples.of_kind("Dataset").items()}
    cached = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in examples.objects.values()
              if o["kind"] in RUNTIME_KINDS.values() and o["kind"] != "ThinRuntime"}
    checked = set()
    for cluster, namespace, path, pod in _pod_templates(examples):
        pod_pools = _pools_of(examples, cluster, examples.affinity_terms(pod))
        for volume in pod.get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            ds = datasets.get((namespace, claim, cluster))
            if ds is None:
                continue
            point = ds["spec"]["mounts"][0]["mountPoint"]
            if point.startswith("dataset://"):
                namespace_, _, name = point.removeprefix("dataset://").partition("/")
                ds = datasets[(namespace_, name, cluster)]
            owner = (ds["metadata"]["namespace"], ds["metadata"]["name"])
            if owner not in cached:
                continue
            cache_terms = [{e["key"]: e["values"] for e in t["matchExpressions"]}
                           for t in ds["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]]
            assert pod_pools <= _pools_of(examples, cluster, cache_terms), (path, claim, owner)
            pool_taints = {(t.key, t.value, t.effect) for p in examples.platform.cluster(cluster).node_pools
                           if p.name in pod_pools for t in p.taints}
            assert pool_taints <= examples.toleration_keys(ds["spec"]), (path, owner)
            assert ds["spec"]["placement"] == "Shared", owner
            checked.add((path, owner))
    assert {o for _, o in checked} >= {("ml-platform", "imagenet"), ("ml-platform", "imagenet-a100"),
                                       ("ml-platform", "click-logs"), ("ml-platform", "click-logs-a10"),
                                       ("quant-research", "market-data")}


def test_a_gpu_models_cache_is_the_datasets_on_that_models_pools(examples):
    """imagenet-a100 is imagenet (same mounts, runtime, tiers, preload) on the A100 pools."""
    home = examples["gpu-east/ml-platform/dataset.data.fluid.io-imagenet.yaml"]["spec"]
    a100 = examples["gpu-east/ml-platform/dataset.data.fluid.io-imagenet-a100.yaml"]["spec"]
    assert home["mounts"] == a100["mounts"]
    assert _pools_of(examples, "gpu-east", [{e["key"]: e["values"] for e in t["matchExpressions"]}
                                            for t in a100["nodeAffinity"]["required"]["nodeSelectorTerms"]]) == {
        "gpu-a100"}
    runtimes = [examples[f"gpu-east/ml-platform/alluxioruntime.data.fluid.io-{n}.yaml"]["spec"]
                for n in ("imagenet", "imagenet-a100")]
    assert runtimes[0] == runtimes[1]
    load = examples["gpu-east/ml-platform/dataload.data.fluid.io-imagenet-a100-preload.yaml"]["spec"]
    assert load["dataset"]["name"] == "imagenet-a100"
    # cpu-west has no GPU reader of imagenet: only its home cache.
    assert "cpu-west/ml-platform/dataset.data.fluid.io-imagenet-a10.yaml" not in examples.objects


def test_a_juicefs_dataset_read_by_gpu_and_cpu_pods_gets_a_cache_for_each(temp_repo):
    """feature-snapshots is read-write on JuiceFS, whose caches stay consistent (every client goes
    through the volume's metadata engine; alluxio or jindo ones written through one cache and
    read through another are refused, see test_workloads_infeasible): a GPU job of its owner
    writing it gets an H100 cache."""
    out = temp_repo.set("ads-ranking.yaml", "jobs[1].datasets", ["feature-snapshots"]).compile()
    spec = out["gpu-east/ads-ranking/dataset.data.fluid.io-feature-snapshots-h100.yaml"]["spec"]
    assert spec["accessModes"] == ["ReadWriteMany"]
    tasks = out["gpu-east/ads-ranking/job.batch.volcano.sh-ctr-distill.yaml"]["spec"]["tasks"]
    claims = {v["persistentVolumeClaim"]["claimName"] for t in tasks for v in t["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    assert claims == {"feature-snapshots-h100"}


def test_a_gpu_cache_name_must_be_free(temp_repo):
    """`<dataset>-<model>` must not be another dataset's name in the namespace."""
    clash = {"name": "imagenet-a100", "mounts": [{"uri": "pvc://shared/"}],
             "runtime": {"type": "thin", "profile": "nas-profile"}}
    temp_repo.set("vision.yaml", "datasets", [clash])
    temp_repo.expect_problem("tenants/vision.yaml", "datasets[0].name", "'imagenet-a100' is the name of imagenet's")


def test_a_gpu_cache_name_must_be_short(temp_repo):
    """`<dataset>-<model>` names the cache's scaler CronJobs too: it is held to a dataset's length."""
    longer = "click-logs-for-the-wide-and-deep-jobs"  # 37 characters: its A10 cache's would be 41
    temp_repo.set("recsys.yaml", "imports[1].name", longer).set("recsys.yaml", "jobs[0].datasets", [longer])
    temp_repo.expect_problem("tenants/recsys.yaml", "imports[1].name", "is longer than 40 characters")


# -- credentials --------------------------------------------------------------------------------

CREDENTIAL_KEY = re.compile(r"(secret|password|token|access.?key)", re.IGNORECASE)
CREDENTIAL_VALUE = re.compile(r"^(AKIA|LTAI)[A-Za-z0-9]{8,}$|^[A-Za-z0-9+/=]{30,}$")


def test_encrypt_options_reference_secrets_by_name(examples):
    """Secret options are secretKeyRefs (name and key only); plain options hold no credentials."""
    refs = 0
    for path, ds in examples.of_kind("Dataset").items():
        for mount in ds["spec"]["mounts"]:
            for option in mount.get("encryptOptions", []):
                assert set(option) == {"name", "valueFrom"}, path
                assert set(option["valueFrom"]) == {"secretKeyRef"}
                assert set(option["valueFrom"]["secretKeyRef"]) == {"name", "key"}
                refs += 1
            for key, value in mount.get("options", {}).items():
                assert not CREDENTIAL_KEY.search(key), f"{path}: option {key}"
                assert not CREDENTIAL_VALUE.match(value), f"{path}: option {key} looks like a credential"
    # market-data, imagenet on two clusters and its A100 cache on gpu-east, two keys each; feature-snapshots' metaurl
    assert refs == 9


def test_credential_looking_option_is_rejected(temp_repo):
    """A credential put in options instead of secrets is an error at that mount's options."""
    def leak(data):
        data["datasets"][0]["mounts"][0]["options"]["fs.oss.accessKeySecret"] = "hunter2hunter2"
    temp_repo.edit("quant-research.yaml", leak)
    temp_repo.expect_problem("tenants/quant-research.yaml", "datasets[0].mounts[0].options", "looks like a credential")


# -- RBAC -----------------------------------------------------------------------------------------

def test_agent_role_is_exactly_what_the_agent_uses(examples):
    """In every tenant namespace: the agent Role equals the declared sidecar+wait-dataset rules."""
    roles = {p: o for p, o in examples.of_kind("Role").items() if o["metadata"]["name"] == "tenantc-agent"}
    namespaces = {p.rsplit("/", 1)[0] for p, o in examples.of_kind("Namespace").items()}
    assert {p.rsplit("/", 1)[0] for p in roles} == namespaces
    for path, role in roles.items():
        assert role["rules"] == rules_for("sidecar", "wait-dataset"), path
        binding = examples[path.replace("/role-", "/rolebinding-")]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenantc-agent"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tenantc-agent",
                                        "namespace": role["metadata"]["namespace"]}]


def test_fluid_facts_agree_with_the_agent_and_the_apply_stages():
    """compiler.fluid is the compiler's one copy of Fluid's kinds; the import-free agent keeps
    its own list of runtime resources, and compiler.kinds gives every Fluid kind a stage."""
    from compiler.agent.permissions import FLUID_RUNTIMES
    from compiler.agent.scale_runtime import RUNTIME_KINDS as AGENT_RUNTIMES
    from compiler.fluid import GROUP, RUNTIME_TYPES
    from compiler.kinds import KNOWN_KINDS

    assert set(RUNTIME_KINDS) == set(RUNTIME_TYPES)
    assert sorted(runtime_resource(kind) for kind in RUNTIME_KINDS.values()) == sorted(FLUID_RUNTIMES)
    assert {kind.lower(): runtime_resource(kind) for kind in RUNTIME_KINDS.values()} == AGENT_RUNTIMES
    assert {(GROUP, kind) for kind in [*RUNTIME_KINDS.values(), "Dataset", "DataLoad"]} <= KNOWN_KINDS


def test_scaler_may_patch_only_its_runtime(examples):
    """The cache scaler's Role names one runtime kind and one object, with the declared verbs."""
    scalers = {p: o for p, o in examples.of_kind("Role").items() if o["metadata"]["name"].endswith("-scaler")}
    assert scalers
    for role in scalers.values():
        dataset, namespace = role["metadata"]["name"].removesuffix("-scaler"), role["metadata"]["namespace"]
        runtimes = [o for o in examples.objects.values() if o["kind"] in RUNTIME_KINDS.values()
                    and o["metadata"]["name"] == dataset and o["metadata"]["namespace"] == namespace]
        assert len(runtimes) == 1
        for rule in role["rules"]:
            assert rule["resources"] == [runtime_resource(runtimes[0]["kind"])]
            assert rule["resourceNames"] == [dataset]
        assert permission_set(role["rules"]) <= permission_set(rules_for("scale-runtime"))
        for cron in (o for o in examples.of_kind("CronJob", "batch/").values()
                     if o["metadata"]["namespace"] == role["metadata"]["namespace"]):
            pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == role["metadata"]["name"]
            assert pod["containers"][0]["args"][:2] == ["scale-runtime", f"{runtimes[0]['kind'].lower()}/{dataset}"]


def test_no_wildcards_and_no_cluster_wide_rbac(examples):
    """Nothing in rendered/ grants '*'; the only ClusterRoles are the platform's member roles (bound
    per namespace) and each tenant's queue reader, the only ClusterRoleBindings bind those readers."""
    docs = examples.yaml_docs()
    readers = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert readers and all(name.startswith(QUEUE_READER_PREFIX) for name in readers)
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"} == \
        {"tenantc-member-admin", "tenantc-member-edit", "tenantc-member-view"} | readers
    rules = [rule for d in docs if d["kind"] in ("Role", "ClusterRole") for rule in d["rules"]]
    assert rules
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert not any("*" in value for value in rule.get(field, [])), rule


# -- storage --------------------------------------------------------------------------------------

def test_claims_fit_the_storage_quota(examples):
    """Per namespace: PVCs plus the Fluid claim of each dataset fit requests.storage and the
    persistentvolumeclaims count of the ResourceQuota."""
    for path, quota in examples.of_kind("ResourceQuota").items():
        folder = path.rsplit("/", 1)[0] + "/"
        here = [o for p, o in examples.objects.items() if p.startswith(folder)]
        pvcs = [Quantity.parse(o["spec"]["resources"]["requests"]["storage"]).value
                for o in here if o["kind"] == "PersistentVolumeClaim"]
        datasets = [Quantity.parse(o["metadata"]["annotations"][DATASET_CLAIM_ANNOTATION]).value
                    for o in here if o["kind"] == "Dataset"]
        assert len(datasets) == len([o for o in here if o["kind"] == "Dataset"])  # none asks for Fluid's 100Pi
        hard = quota["spec"]["hard"]
        if "requests.storage" in hard:
            assert sum(pvcs + datasets) <= Quantity.parse(hard["requests.storage"]).value, path
        if "persistentvolumeclaims" in hard:
            assert len(pvcs) + len(datasets) <= Quantity.parse(hard["persistentvolumeclaims"]).value, path


@pytest.mark.parametrize("edit, message", [
    (("storage.project.size", "200Ti"), "storage quota there is"),
    (("quota.pvcs", 3), "pvcs quota there is"),
], ids=["size", "count"])
def test_storage_counts_against_the_quota(temp_repo, edit, message):
    """Volumes larger, or more, than the storage quota allows are an error."""
    temp_repo.set("quant-research.yaml", *edit)
    temp_repo.expect_problem("tenants/quant-research.yaml", "storage", message)
