"""One bad input per feasibility rule: the examples with one small change must fail to compile
with a problem naming the right file and field path, and leave rendered/ as it was."""
from __future__ import annotations

import pytest

VISION, QUANT, RECSYS = "vision.yaml", "quant-research.yaml", "recsys.yaml"
BIG_BATCH = {"name": "big-batch", "template": "cpu-batch", "cluster": "gpu-east", "roles": [
    {"name": "worker", "replicas": 600, "image": "registry.example.com/ml/vision/prep:1.4",
     "resources": {"cpu": "4", "memory": "1Gi"}}]}

# id -> (edits [(op, file, path, value)], (file, path, message part), the only problem?)
CASES = {
    "job over the tenant's quota on its cluster": (
        [("set", RECSYS, "jobs[0].roles[2].replicas", 20)],
        (RECSYS, "jobs[0]", "gpu.A10 quota on cpu-west is 16"), True),
    "gang over the cluster's capacity": (
        [("set", VISION, "quota.cpu", "2500"), ("append", VISION, "jobs", BIG_BATCH)],
        (VISION, "jobs[1]", "the gang needs cpu 2406 but gpu-east has 2048 in all"), True),
    "GPU model the cluster lacks": (
        [("set", VISION, "jobs[0].gpuModel", "B200")],
        (VISION, "jobs[0].gpuModel", "cluster 'gpu-east' has no B200 GPUs"), True),
    "GPU model the cluster lacks (pipeline)": (
        [("set", VISION, "pipelines[0].gpuModel", "B200")],
        (VISION, "pipelines[0].gpuModel", "cluster 'gpu-east' has no B200 GPUs"), True),
    "unknown dataset": (
        [("set", VISION, "jobs[0].datasets", ["cifar"])],
        (VISION, "jobs[0].datasets[0]", "no dataset 'cifar' in this tenant on gpu-east"), True),
    "unknown template": (
        [("set", VISION, "jobs[0].template", "resnet-101")],
        (VISION, "jobs[0].template", "unknown template 'resnet-101'"), True),
    "unknown priority class": (
        [("set", VISION, "jobs[0].priorityClass", "urgent")],
        (VISION, "jobs[0].priorityClass", "unknown priority class 'urgent'"), True),
    "job image from a disallowed registry": (
        [("set", VISION, "jobs[0].roles[0].image", "docker.io/library/python:3.12")],
        (VISION, "jobs[0].roles[0].image", "is not from an allowed registry"), True),
    "template role image from a disallowed registry": (
        [("set", VISION, "templates[0].roles[0].image", "docker.io/library/python:3.12")],
        (VISION, "jobs[0].roles(master).image", "is not from an allowed registry"), False),
    "notebook image from a disallowed registry": (
        [("set", "platform.yaml", "notebooks.images.jupyter-torch", "docker.io/jupyter/pytorch-notebook:latest")],
        (VISION, "notebooks[0].image", "is not from an allowed registry"), True),
    "project volume without storage.project": (
        [("set", RECSYS, "jobs[0].volumes", ["project"])],
        (RECSYS, "jobs[0].volumes[0]", "the tenant has no project volume"), True),
    "cache tiers exceeding the CPU pools' cache capacity": (
        [("set", "ml-platform.yaml", "datasets[0].runtime.tiers[0].quota", "40Ti")],
        ("platform.yaml", "clusters.gpu-east.nodePools(cpu-general).cacheCapacity.SSD", "ml-platform/imagenet"),
        False),
    "cache tiers exceeding a GPU model's pools' cache capacity": (
        [("set", "ml-platform.yaml", "datasets[0].runtime.tiers[0].quota", "40Ti")],
        ("platform.yaml", "clusters.gpu-east.nodePools(gpu-a100).cacheCapacity.SSD", "ml-platform/imagenet-a100"),
        False),
    "cache scaling exceeding the cache capacity": (
        [("set", QUANT, "datasets[0].scaling[0].replicas", 30)],
        ("platform.yaml", "clusters.cpu-west.nodePools(cpu-general).cacheCapacity.SSD", "quant-research/market-data"),
        False),
    "GPU readers' cache exceeding their pools' cache capacity": (
        [("set", "platform.yaml", "clusters[1].nodePools[1].cacheCapacity.MEM", "64Gi")],
        ("platform.yaml", "clusters.cpu-west.nodePools(gpu-a10).cacheCapacity.MEM", "ml-platform/click-logs-a10"),
        True),
    "cache on a pool without labels to keep it there": (
        [("set", "platform.yaml", "clusters[1].nodePools[1].labels", {})],
        ("platform.yaml", "clusters.cpu-west.nodePools(gpu-a10).labels", "ml-platform/click-logs-a10"), False),
    "writes through one cache unseen by another's readers": (
        [("set", "ml-platform.yaml", "datasets[0].readOnly", False),
         ("set", "ml-platform.yaml", "datasets[0].exportTo", [{"tenant": "vision", "write": True}]),
         ("set", VISION, "imports", [{"tenant": "ml-platform", "dataset": "imagenet", "write": True}])],
        ("ml-platform.yaml", "datasets[0]", "alluxio caches would not see each other's writes"), True),
    "pipeline cycle": (
        [("set", VISION, "pipelines[0].steps[0].dependsOn", ["evaluate"])],
        (VISION, "pipelines[0].steps", "steps depend on each other in a cycle"), True),
    "pipeline unknown step": (
        [("set", VISION, "pipelines[0].steps[2].dependsOn", ["training"])],
        (VISION, "pipelines[0].steps[2].dependsOn[0]", "unknown step 'training'"), True),
    "notebook for a non-member": (
        [("set", VISION, "notebooks[0].user", "eve@example.com")],
        (VISION, "notebooks[0].user", "'eve@example.com' is not a member user of this tenant"), True),
    "unknown notebook size": (
        [("set", VISION, "notebooks[0].size", "xxl")],
        (VISION, "notebooks[0].size", "unknown notebook size 'xxl'"), True),
    "cpu-pool role asking for GPUs": (
        [("set", VISION, "jobs[0].roles[0].pool", "cpu")],
        (VISION, "jobs[0].roles[0].pool", "a cpu-pool role cannot ask for GPUs"), True),
    "minAvailable above replicas": (
        [("set", VISION, "jobs[0].minAvailable", 9)],
        (VISION, "jobs[0].minAvailable", "9 is more than the job's 8 replicas"), True),
    "unknown storage class": (
        [("set", VISION, "storage.project.storageClass", "gold")],
        (VISION, "storage.project.storageClass", "unknown storage class 'gold'"), True),
    "thin runtime without profile": (
        [("delete", QUANT, "datasets[1].runtime.profile", None)],
        (QUANT, "datasets[1].runtime", "a thin runtime needs profile"), True),
    "dataset mount with an unsupported scheme": (
        [("set", QUANT, "datasets[0].mounts[0].uri", "ftp://market/ticks/")],
        (QUANT, "datasets[0].mounts[0].uri", "is not a supported mount"), True),
    "runtime that cannot mount the scheme": (
        [("set", QUANT, "datasets[0].runtime.type", "juicefs")],
        (QUANT, "datasets[0]", "a juicefs runtime needs juicefs:// mounts"), True),
    "more pods than the pods quota": (
        [("set", VISION, "quota.pods", 7)],
        (VISION, "jobs[0]", "needs 8 pods but the tenant's pods quota on gpu-east is 7"), False),
    # waitForData must be satisfiable by what Fluid does (compiler/plan/datagate.py; oracle in
    # test_workloads_data_oracle.py)
    "wait on a thin dataset (Fluid reports cachedPercentage N/A)": (
        [("set", QUANT, "schedules[0].job.waitForData", {"minCachedPercent": 95})],
        (QUANT, "schedules[0].job.waitForData", "dataset 'backtest-results' has a thin runtime"), True),
    "wait on a dataset nothing preloads": (
        [("delete", "ml-platform.yaml", "datasets[0].preload", None)],
        (VISION, "jobs[0].waitForData", "nothing preloads dataset 'imagenet' (shared from ml-platform/imagenet)"),
        True),
    "wait on a dataset preloaded only in part": (
        [("set", "ml-platform.yaml", "datasets[0].preload.paths", ["/train"])],
        (VISION, "jobs[0].waitForData", "the preload of dataset 'imagenet' (shared from ml-platform/imagenet) "
                                        "loads only /train"), True),
    "wait on a dataset scaled to 0 cache workers": (
        [("set", QUANT, "datasets[0].scaling[1].replicas", 0)],
        (QUANT, "schedules[0].job.waitForData.datasets[0]", "is scaled to 0 cache workers at '0 19 * * 1-5'"), True),
    "wait for a dataset the job does not mount": (
        [("set", QUANT, "schedules[0].job.waitForData.datasets", ["imagenet"])],
        (QUANT, "schedules[0].job.waitForData.datasets[0]", "'imagenet' is not one of the job's datasets"), True),
    "wait without datasets": (
        [("set", RECSYS, "jobs[0].datasets", [])],
        (RECSYS, "jobs[0].waitForData", "the job mounts no datasets"), True),
    "preload of a thin dataset (ThinRuntime runs no DataLoad)": (
        [("set", QUANT, "datasets[1].preload", {"paths": ["/"]})],
        (QUANT, "datasets[1]", "a thin runtime cannot preload"), True),
    # names Volcano derives from a flow (compiler/plan/pipelines.py)
    "scheduled pipeline whose run's pods get too long a host name": (
        [("set", VISION, "pipelines[0].name", "detector-daily-with-a-long-name")],
        (VISION, "pipelines[0].name", "would be named 'detector-daily-with-a-long-name-NNNNNNNN-"), True),
    "scheduled pipeline name too long for its CronJob": (
        [("set", VISION, "pipelines[0].name", "d" * 53)],
        (VISION, "pipelines[0].name", "at most 52"), True),
    "gated job whose JobTemplate is a pipeline step's": (
        [("append", VISION, "jobs", {"name": "detector-daily-train", "template": "resnet", "cluster": "gpu-east",
                                     "gpuModel": "A100", "datasets": ["imagenet"], "waitForData": {}})],
        (VISION, "pipelines[0].name", "JobTemplate 'detector-daily-train' is also the JobTemplate of jobs[1]"),
        True),
    "role above the platform's container maximum": (
        [("set", VISION, "jobs[0].roles[0].resources", {"cpu": "128", "memory": "64Gi", "gpu": 1})],
        (VISION, "jobs[0].roles[0].resources.cpu", "128 per pod is above the platform's container maximum 96"), False),
}


@pytest.mark.parametrize("edits, expected, only", list(CASES.values()), ids=list(CASES))
def test_infeasible_spec_is_rejected(temp_repo, edits, expected, only):
    """The compile fails with the expected problem and writes nothing."""
    for op, file, path, value in edits:
        if op == "delete":
            temp_repo.delete(file, path)
        else:
            getattr(temp_repo, op)(file, path, value)
    file, path, message = expected
    problems = temp_repo.expect_problem(f"tenants/{file}", path, message)
    if only:
        assert len(problems) == 1, "expected one problem, got:\n" + "\n".join(map(str, problems))


def test_unchanged_copy_compiles(temp_repo):
    """The baseline the cases above edit is itself valid."""
    assert temp_repo.compile().objects
