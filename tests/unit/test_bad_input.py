"""Bad input, one harness: each case edits a copy of the compiled example repository and runs
the real CLI, which must exit 2 with one line per problem naming the file and (where there is
one) the field path, no traceback, and leave rendered/ byte for byte as it was.

Cases are data (tests/spec_edits.py says what an edit is): spec syntax and types,
cross-file rules, feasibility of jobs, datasets, notebooks and storage, and data gates.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import PROBLEM_LINE, compile_cli, snapshot
from spec_edits import apply_edits, replace_once


@dataclass(frozen=True)
class Case:
    edits: list[tuple]
    expect: list[tuple[str, str | None, str]]  # (file, field path or None, message part)
    only: bool = False  # the expected problem is the only one
    tags: tuple[str, ...] = field(default=())


VISION, QUANT, RECSYS, ADS = "vision.yaml", "quant-research.yaml", "recsys.yaml", "ads-ranking.yaml"
BIG_BATCH = {
    "name": "big-batch",
    "template": "cpu-batch",
    "cluster": "gpu-east",
    "roles": [
        {
            "name": "worker",
            "replicas": 600,
            "image": "registry.example.com/ml/vision/prep:1.4",
            "resources": {"cpu": "4", "memory": "1Gi"},
        }
    ],
}


def _outside_import(root: Path) -> None:
    (root.parent / "outside.libsonnet").write_text("{ name: 'sandbox-interns' }")
    (root / "tenants/sandbox-interns.jsonnet").write_text("local x = import '../../outside.libsonnet';\nx\n")


def _duplicate(root: Path) -> None:
    (root / "tenants/vision.jsonnet").write_text(
        "{name: 'vision', displayName: 'V', owner: 'a@example.com', quota: {cpu: '1'},"
        " placement: {'gpu-east': {weight: 1}}}\n"
    )


def _queue_cycle(root: Path) -> None:
    replace_once(root / "tenants/quant-research.yaml", "parent: research", "parent: ml-platform")
    replace_once(
        root / "tenants/ml-platform.yaml", "queue:\n  weight: 1\n", "queue:\n  weight: 1\n  parent: quant-research\n"
    )


def _only_platform(root: Path) -> None:
    for path in (root / "tenants").iterdir():
        if path.is_file() and path.name != "platform.yaml":
            path.unlink()


CASES = {
    "yaml-syntax": Case(
        [("text", "vision.yaml", "quota:\n", "quota: [\n")], [("tenants/vision.yaml", None, "YAML syntax error: line")]
    ),
    "unknown-field": Case(
        [("text", "vision.yaml", "owner: mei@example.com", "owner: mei@example.com\nownr: mei")],
        [("tenants/vision.yaml", "ownr", "unknown field")],
    ),
    "wrong-type": Case(
        [("text", "vision.yaml", "  weight: 4\n", "  weight: lots\n")],
        [("tenants/vision.yaml", "queue.weight", "valid integer")],
    ),
    "negative-quantity": Case(
        [("text", "vision.yaml", 'cpu: "512"', 'cpu: "-512"')],
        [("tenants/vision.yaml", "quota.cpu", "must not be negative, got -512")],
    ),
    "malformed-quantity": Case(
        [("text", "vision.yaml", "memory: 4Ti", "memory: 4TB")],
        [("tenants/vision.yaml", "quota.memory", "'4TB' is not a quantity")],
    ),
    "fractional-gpus": Case(
        [("text", "vision.yaml", "A100: 64}", "A100: 2.5}")],
        [("tenants/vision.yaml", "quota.gpu.A100", "must be a whole number, got 2.5")],
    ),
    "stem-differs": Case(
        [("call", lambda root: (root / "tenants/vision.yaml").rename(root / "tenants/visionx.yaml"))],
        [("tenants/visionx.yaml", "name", "'vision' differs from the file name 'visionx'")],
    ),
    "duplicate-name": Case(
        [("call", _duplicate)],
        [("tenants/vision.yaml", "name", "duplicate tenant name 'vision' (also in tenants/vision.jsonnet)")],
    ),
    "jsonnet-runtime-error": Case(
        [("call", lambda root: (root / "tenants/sandbox-interns.jsonnet").write_text("error 'no quota here'\n"))],
        [("tenants/sandbox-interns.jsonnet", None, "no quota here")],
    ),
    "jsonnet-import-outside": Case(
        [("call", _outside_import)],
        [("tenants/sandbox-interns.jsonnet", None, "'../../outside.libsonnet' leaves the repository")],
    ),
    "quota-over-capacity": Case(
        [("text", "vision.yaml", "A100: 64}", "A100: 640}")],
        [("tenants/platform.yaml", "clusters.gpu-east.capacity.nvidia.com/gpu", "vision")],
    ),
    "gpu-model-missing": Case(
        [("text", "recsys.yaml", "gpu: {A10: 16}", "gpu: {A10: 16, A100: 4}")],
        [("tenants/recsys.yaml", "quota.gpu.A100", "no cluster of this tenant has A100 GPUs")],
    ),
    # Issue 12: with the H100 pool advertised as nvidia.com/gpu like the A100s, per-model quota
    # cannot be enforced (ResourceQuota counts names), so every tenant holding either is refused.
    "gpu-models-share-a-resource-name": Case(
        [("text", "platform.yaml", "        gpuResource: nvidia.com/h100\n", "")],
        [("tenants/ads-ranking.yaml", "placement.gpu-east.quota.gpu.A100",
          "GPU models A100 and H100 are all advertised as nvidia.com/gpu"),
         ("tenants/ads-ranking.yaml", "placement.gpu-east.quota.gpu.A100", "gpuResource of node pool gpu-h100"),
         ("tenants/vision.yaml", "quota.gpu.A100", "would let it take 64 GPUs of any of them")],
    ),
    "gpu-models-share-a-resource-name (issue 12's {A100: 56, H100: 8})": Case(
        [("text", "platform.yaml", "        gpuResource: nvidia.com/h100\n", ""),
         ("text", "vision.yaml", "gpu: {A100: 64}", "gpu: {A100: 56, H100: 8}")],
        [("tenants/vision.yaml", "quota.gpu.A100", "this tenant's {A100: 56, H100: 8} there would let it take 64 GPUs"),
         ("tenants/vision.yaml", "quota.gpu.A100", "e.g. nvidia.com/h100")],
    ),
    "gpu-model-under-two-resource-names": Case(
        [("text", "platform.yaml", "        gpuModel: H100\n", "        gpuModel: A100\n")],
        [("tenants/platform.yaml", "clusters[0]", "advertised as nvidia.com/gpu and as nvidia.com/h100")],
    ),
    "unknown-allowed-from": Case(
        [("text", "recsys.yaml", "allowFromTenants: [ads-ranking]", "allowFromTenants: [nobody]")],
        [("tenants/recsys.yaml", "network.allowFromTenants[0]", "unknown tenant 'nobody'")],
    ),
    "queue-cycle": Case(
        [("call", _queue_cycle)],
        [
            ("tenants/quant-research.yaml", "queue.parent", "cycle: quant-research -> ml-platform -> quant-research"),
            ("tenants/ml-platform.yaml", "queue.parent", "cycle: ml-platform -> quant-research -> ml-platform"),
        ],
    ),
    "no-tenants": Case([("call", _only_platform)], [("tenants/", None, "no tenant files found")]),
    "wait-on-thin-dataset": Case(
        [
            (
                "text",
                "quant-research.yaml",
                "waitForData: {minCachedPercent: 95, datasets: [market-data]}",
                "waitForData: {minCachedPercent: 95}",
            )
        ],
        [
            (
                "tenants/quant-research.yaml",
                "schedules[0].job.waitForData",
                'reports no cached percentage (cachedPercentage "N/A"), so this wait could never pass (wait only for '
                "datasets with a cache",
            )
        ],
    ),
    "wait-on-unpreloaded-dataset": Case(
        [
            (
                "text",
                "ml-platform.yaml",
                "    preload: {paths: [/], loadMetadata: true}   # all of it",
                "    # no preload",
            )
        ],
        [
            (
                "tenants/vision.yaml",
                "jobs[0].waitForData",
                "nothing preloads dataset 'imagenet' (shared from ml-platform/imagenet)",
            ),
            (
                "tenants/vision.yaml",
                "jobs[0].waitForData",
                "(add preload: {paths: [/]} to dataset 'imagenet' in tenants/ml-platform.yaml, or remove waitForData)",
            ),
        ],
    ),
    "several-at-once": Case(
        [
            ("text", "vision.yaml", "owner: mei@example.com", "owner: mei@example.com\nownr: x"),
            ("text", "recsys.yaml", 'cpu: "800"', 'cpu: "-800"'),
            ("text", "ads-ranking.yaml", "quota:\n", "quota: [\n"),
        ],
        [
            ("tenants/vision.yaml", "ownr", "unknown field"),
            ("tenants/recsys.yaml", "quota.cpu", "must not be negative"),
            ("tenants/ads-ranking.yaml", None, "YAML syntax error"),
        ],
    ),
    # quota split, guarantees and placement (compiler/plan/quota.py, queues.py)
    "quota-over-capacity-names-its-numbers": Case(
        [("text", "vision.yaml", "A100: 64}", "A100: 640}")],
        [("tenants/platform.yaml", "clusters.gpu-east.capacity.nvidia.com/gpu", "128")],
    ),
    "guarantee-of-a-gpu-model-outside-the-quota": Case(  # once a division by zero and a traceback
        [("text", "vision.yaml", "guarantee: {gpu: {A100: 16}}", "guarantee: {gpu: {A10: 2}}")],
        [("tenants/vision.yaml", "queue.guarantee.gpu.A10", "exceeds the quota")],
    ),
    "guarantee-above-quota": Case(
        [("text", "quant-research.yaml", 'guarantee: {cpu: "120"', 'guarantee: {cpu: "601"')],
        [("tenants/quant-research.yaml", "queue.guarantee.cpu", "exceeds the quota 600")],
    ),
    "explicit-amounts-must-add-up": Case(
        [("text", "ads-ranking.yaml", 'quota: {cpu: "400"', 'quota: {cpu: "401"')],
        [("tenants/ads-ranking.yaml", "placement.*.quota.cpu", "701"),
         ("tenants/ads-ranking.yaml", "placement.*.quota.cpu", "700")],
    ),
    "unknown-cluster-in-placement": Case(
        [("text", "vision.yaml", "gpu-east: {weight: 1}", "gpu-east: {weight: 1}\n  gpu-north: {weight: 1}")],
        [("tenants/vision.yaml", "placement.gpu-north", "gpu-east"),
         ("tenants/vision.yaml", "placement.gpu-north", "cpu-west")],
    ),
    "container-default-cpu-above-the-platform-maximum": Case(
        [("text", "quant-research.yaml", 'default: {cpu: "4", memory: 16Gi}', 'default: {cpu: "97", memory: 16Gi}')],
        [("tenants/quant-research.yaml", "containerDefaults.default.cpu", "above the platform maximum")],
    ),
    "container-default-memory-above-the-platform-maximum": Case(
        [("text", "quant-research.yaml", 'default: {cpu: "4", memory: 16Gi}', 'default: {cpu: "4", memory: 769Gi}')],
        [("tenants/quant-research.yaml", "containerDefaults.default.memory", "above the platform maximum")],
    ),
    "job over the tenant's quota on its cluster": Case(
        [("set", RECSYS, "jobs[0].roles[2].replicas", 20)],
        [("tenants/" + RECSYS, "jobs[0]", "gpu.A10 quota on cpu-west is 16")],
        only=True,
    ),
    "gang over the cluster's capacity": Case(
        [("set", VISION, "quota.cpu", "2500"), ("append", VISION, "jobs", BIG_BATCH)],
        [("tenants/" + VISION, "jobs[1]", "the gang needs cpu 2406 but gpu-east has 2048 in all")],
        only=True,
    ),
    "GPU model the cluster lacks": Case(
        [("set", VISION, "jobs[0].gpuModel", "B200")],
        [("tenants/" + VISION, "jobs[0].gpuModel", "cluster 'gpu-east' has no B200 GPUs")],
        only=True,
    ),
    "GPU model the cluster lacks (pipeline)": Case(
        [("set", VISION, "pipelines[0].gpuModel", "B200")],
        [("tenants/" + VISION, "pipelines[0].gpuModel", "cluster 'gpu-east' has no B200 GPUs")],
        only=True,
    ),
    "unknown dataset": Case(
        [("set", VISION, "jobs[0].datasets", ["cifar"])],
        [("tenants/" + VISION, "jobs[0].datasets[0]", "no dataset 'cifar' in this tenant on gpu-east")],
        only=True,
    ),
    "unknown template": Case(
        [("set", VISION, "jobs[0].template", "resnet-101")],
        [("tenants/" + VISION, "jobs[0].template", "unknown template 'resnet-101'")],
        only=True,
    ),
    "unknown priority class": Case(
        [("set", VISION, "jobs[0].priorityClass", "urgent")],
        [("tenants/" + VISION, "jobs[0].priorityClass", "unknown priority class 'urgent'")],
        only=True,
    ),
    "job image from a disallowed registry": Case(
        [("set", VISION, "jobs[0].roles[0].image", "docker.io/library/python:3.12")],
        [("tenants/" + VISION, "jobs[0].roles[0].image", "is not from an allowed registry")],
        only=True,
    ),
    "template role image from a disallowed registry": Case(
        [("set", VISION, "templates[0].roles[0].image", "docker.io/library/python:3.12")],
        [("tenants/" + VISION, "jobs[0].roles(master).image", "is not from an allowed registry")],
    ),
    "notebook image from a disallowed registry": Case(
        [("set", "platform.yaml", "notebooks.images.jupyter-torch", "docker.io/jupyter/pytorch-notebook:latest")],
        [("tenants/" + VISION, "notebooks[0].image", "is not from an allowed registry")],
        only=True,
    ),
    "project volume without storage.project": Case(
        [("set", RECSYS, "jobs[0].volumes", ["project"])],
        [("tenants/" + RECSYS, "jobs[0].volumes[0]", "the tenant has no project volume")],
        only=True,
    ),
    # Issue 12: caches run next to their readers, each kind of pool declaring its cacheCapacity.
    "cache tiers exceeding the CPU pools' cache capacity": Case(
        [("set", "ml-platform.yaml", "datasets[0].runtime.tiers[0].quota", "40Ti")],
        [("tenants/platform.yaml", "clusters.gpu-east.nodePools(cpu-general).cacheCapacity.SSD",
          "ml-platform/imagenet")],
    ),
    "cache tiers exceeding a GPU model's pools' cache capacity": Case(
        [("set", "ml-platform.yaml", "datasets[0].runtime.tiers[0].quota", "40Ti")],
        [("tenants/platform.yaml", "clusters.gpu-east.nodePools(gpu-a100).cacheCapacity.SSD",
          "ml-platform/imagenet-a100")],
    ),
    "cache scaling exceeding the cache capacity": Case(
        [("set", QUANT, "datasets[0].scaling[0].replicas", 30)],
        [
            (
                "tenants/platform.yaml",
                "clusters.cpu-west.nodePools(cpu-general).cacheCapacity.SSD",
                "quant-research/market-data",
            )
        ],
    ),
    "GPU readers' cache exceeding their pools' cache capacity": Case(
        [("set", "platform.yaml", "clusters[1].nodePools[1].cacheCapacity.MEM", "64Gi")],
        [("tenants/platform.yaml", "clusters.cpu-west.nodePools(gpu-a10).cacheCapacity.MEM",
          "ml-platform/click-logs-a10")],
        only=True,
    ),
    "cache on a pool without labels to keep it there": Case(
        [("set", "platform.yaml", "clusters[1].nodePools[1].labels", {})],
        [("tenants/platform.yaml", "clusters.cpu-west.nodePools(gpu-a10).labels", "ml-platform/click-logs-a10")],
    ),
    "writes through one cache unseen by another's readers": Case(
        [("set", "ml-platform.yaml", "datasets[0].readOnly", False),
         ("set", "ml-platform.yaml", "datasets[0].exportTo", [{"tenant": "vision", "write": True}]),
         ("set", VISION, "imports", [{"tenant": "ml-platform", "dataset": "imagenet", "write": True}])],
        [("tenants/ml-platform.yaml", "datasets[0]", "alluxio caches would not see each other's writes")],
        only=True,
    ),
    "cache pool (there are none: caches run next to their readers)": Case(
        [("text", "platform.yaml", "      - name: gpu-a10\n        role: gpu\n",
          "      - name: gpu-a10\n        role: cache\n")],
        [("tenants/platform.yaml", "clusters[1].nodePools[1].role", "there are no cache pools")],
    ),
    "pipeline cycle": Case(
        [("set", VISION, "pipelines[0].steps[0].dependsOn", ["evaluate"])],
        [("tenants/" + VISION, "pipelines[0].steps", "steps depend on each other in a cycle")],
        only=True,
    ),
    "pipeline unknown step": Case(
        [("set", VISION, "pipelines[0].steps[2].dependsOn", ["training"])],
        [("tenants/" + VISION, "pipelines[0].steps[2].dependsOn[0]", "unknown step 'training'")],
        only=True,
    ),
    "notebook for a non-member": Case(
        [("set", VISION, "notebooks[0].user", "eve@example.com")],
        [("tenants/" + VISION, "notebooks[0].user", "'eve@example.com' is not a member user of this tenant")],
        only=True,
    ),
    "unknown notebook size": Case(
        [("set", VISION, "notebooks[0].size", "xxl")],
        [("tenants/" + VISION, "notebooks[0].size", "unknown notebook size 'xxl'")],
        only=True,
    ),
    "cpu-pool role asking for GPUs": Case(
        [("set", VISION, "jobs[0].roles[0].pool", "cpu")],
        [("tenants/" + VISION, "jobs[0].roles[0].pool", "a cpu-pool role cannot ask for GPUs")],
        only=True,
    ),
    "minAvailable above replicas": Case(
        [("set", VISION, "jobs[0].minAvailable", 9)],
        [("tenants/" + VISION, "jobs[0].minAvailable", "9 is more than the job's 8 replicas")],
        only=True,
    ),
    "unknown storage class": Case(
        [("set", VISION, "storage.project.storageClass", "gold")],
        [("tenants/" + VISION, "storage.project.storageClass", "unknown storage class 'gold'")],
        only=True,
    ),
    "thin runtime without profile": Case(
        [("delete", QUANT, "datasets[1].runtime.profile")],
        [("tenants/" + QUANT, "datasets[1].runtime", "a thin runtime needs profile")],
        only=True,
    ),
    "dataset mount with an unsupported scheme": Case(
        [("set", QUANT, "datasets[0].mounts[0].uri", "ftp://market/ticks/")],
        [("tenants/" + QUANT, "datasets[0].mounts[0].uri", "is not a supported mount")],
        only=True,
    ),
    "runtime that cannot mount the scheme": Case(
        [("set", QUANT, "datasets[0].runtime.type", "juicefs")],
        [("tenants/" + QUANT, "datasets[0]", "a juicefs runtime needs juicefs:// mounts")],
        only=True,
    ),
    "more pods than the pods quota": Case(
        [("set", VISION, "quota.pods", 7)],
        [("tenants/" + VISION, "jobs[0]", "needs 8 pods but the tenant's pods quota on gpu-east is 7")],
    ),
    # waitForData must be satisfiable by what Fluid does (compiler/plan/datagate.py; oracle in
    # test_workloads_data_oracle.py)
    "wait on a thin dataset (Fluid reports cachedPercentage N/A)": Case(
        [("set", QUANT, "schedules[0].job.waitForData", {"minCachedPercent": 95})],
        [("tenants/" + QUANT, "schedules[0].job.waitForData", "dataset 'backtest-results' has a thin runtime")],
        only=True,
    ),
    "wait on a dataset nothing preloads": Case(
        [("delete", "ml-platform.yaml", "datasets[0].preload")],
        [
            (
                "tenants/" + VISION,
                "jobs[0].waitForData",
                "nothing preloads dataset 'imagenet' (shared from ml-platform/imagenet)",
            )
        ],
        only=True,
    ),
    "wait on a dataset preloaded only in part": Case(
        [("set", "ml-platform.yaml", "datasets[0].preload.paths", ["/train"])],
        [
            (
                "tenants/" + VISION,
                "jobs[0].waitForData",
                "the preload of dataset 'imagenet' (shared from ml-platform/imagenet) loads only /train",
            )
        ],
        only=True,
    ),
    "wait on a dataset scaled to 0 cache workers": Case(
        [("set", QUANT, "datasets[0].scaling[1].replicas", 0)],
        [
            (
                "tenants/" + QUANT,
                "schedules[0].job.waitForData.datasets[0]",
                "is scaled to 0 cache workers at '0 19 * * 1-5'",
            )
        ],
        only=True,
    ),
    "wait for a dataset the job does not mount": Case(
        [("set", QUANT, "schedules[0].job.waitForData.datasets", ["imagenet"])],
        [
            (
                "tenants/" + QUANT,
                "schedules[0].job.waitForData.datasets[0]",
                "'imagenet' is not one of the job's datasets",
            )
        ],
        only=True,
    ),
    "wait without datasets": Case(
        [("set", RECSYS, "jobs[0].datasets", [])],
        [("tenants/" + RECSYS, "jobs[0].waitForData", "the job mounts no datasets")],
        only=True,
    ),
    "preload of a thin dataset (ThinRuntime runs no DataLoad)": Case(
        [("set", QUANT, "datasets[1].preload", {"paths": ["/"]})],
        [("tenants/" + QUANT, "datasets[1]", "a thin runtime cannot preload")],
        only=True,
    ),
    # names Volcano derives from a flow (compiler/plan/pipelines.py)
    "scheduled pipeline whose run's pods get too long a host name": Case(
        [("set", VISION, "pipelines[0].name", "detector-daily-with-a-long-name")],
        [("tenants/" + VISION, "pipelines[0].name", "would be named 'detector-daily-with-a-long-name-NNNNNNNN-")],
        only=True,
    ),
    "scheduled pipeline name too long for its CronJob": Case(
        [("set", VISION, "pipelines[0].name", "ddddddddddddddddddddddddddddddddddddddddddddddddddddd")],
        [("tenants/" + VISION, "pipelines[0].name", "at most 52")],
        only=True,
    ),
    "gated job whose JobTemplate is a pipeline step's": Case(
        [
            (
                "append",
                VISION,
                "jobs",
                {
                    "name": "detector-daily-train",
                    "template": "resnet",
                    "cluster": "gpu-east",
                    "gpuModel": "A100",
                    "datasets": ["imagenet"],
                    "waitForData": {},
                },
            )
        ],
        [
            (
                "tenants/" + VISION,
                "pipelines[0].name",
                "JobTemplate 'detector-daily-train' is also the JobTemplate of jobs[1]",
            )
        ],
        only=True,
    ),
    "role above the platform's container maximum": Case(
        [("set", VISION, "jobs[0].roles[0].resources", {"cpu": "128", "memory": "64Gi", "gpu": 1})],
        [
            (
                "tenants/" + VISION,
                "jobs[0].roles[0].resources.cpu",
                "128 per pod is above the platform's container maximum 96",
            )
        ],
    ),
    # -- servings and job pods (issue 16): templates, quota at maxReplicas, references only --
    "unknown serving template": Case(
        [("set", ADS, "servings[0].template", "triton")],
        [("tenants/" + ADS, "servings[0].template", "unknown serving template 'triton'")], only=True,
    ),
    "serving beyond the quota at maxReplicas": Case(
        [("set", ADS, "servings[0].replicas.max", 200)],
        [("tenants/" + ADS, "servings[0]", "at maxReplicas the servings on cpu-west (ctr) request cpu 800")],
        only=True,
    ),
    "serving replicas min above max": Case(
        [("set", ADS, "servings[0].replicas", {"min": 5, "max": 2})],
        [("tenants/" + ADS, "servings[0].replicas", "min 5 is above max 2")], only=True,
    ),
    "serving on a GPU model its cluster lacks": Case(
        [("set", RECSYS, "servings[0].gpuModel", "H100")],
        [("tenants/" + RECSYS, "servings[0].gpuModel", "cluster 'cpu-west' has no H100 GPUs")],
    ),
    "secret value instead of a reference": Case(
        [("set", QUANT, "schedules[0].job.envRefs[0]", {"name": "TICKDB_PASSWORD", "value": "hunter2"})],
        [("tenants/" + QUANT, "schedules[0].job.envRefs[0]", "'value' is not allowed")], only=True,
    ),
    "secret in plain env": Case(
        [("set", QUANT, "schedules[0].job.roles[0].env", {"DB_PASSWORD": "hunter2"})],
        [("tenants/" + QUANT, "schedules[0].job.roles[0].env.DB_PASSWORD", "looks like a secret value")], only=True,
    ),
    "secret contents in an extra volume": Case(
        [("set", QUANT, "schedules[0].job.extraVolumes[0]",
          {"name": "creds", "mountPath": "/creds", "secret": "creds", "stringData": {"k": "v"}})],
        [("tenants/" + QUANT, "schedules[0].job.extraVolumes[0]", "contents are not allowed")], only=True,
    ),
    "bad policy event": Case(
        [("set", QUANT, "schedules[0].job.policies[0].event", "PodCrashed")],
        [("tenants/" + QUANT, "schedules[0].job.policies[0].event", "'PodEvicted'")], only=True,
    ),
    "bad policy action": Case(
        [("set", QUANT, "schedules[0].job.policies[0].action", "Reboot")],
        [("tenants/" + QUANT, "schedules[0].job.policies[0].action", "'RestartTask'")], only=True,
    ),
    "pod template image from a disallowed registry": Case(
        [("set", "platform.yaml", "podTemplates[0].image", "docker.io/krb5/renewer:1")],
        [("tenants/platform.yaml", "podTemplates[0].image", "not from an allowed registry")],
    ),
    "unknown pod template": Case(
        [("set", QUANT, "schedules[0].job.containers", ["krb5"])],
        [("tenants/" + QUANT, "schedules[0].job.containers[0]", "unknown pod template 'krb5'")], only=True,
    ),
}


def _matches(line: str, file: str, path: str | None, fragment: str) -> bool:
    prefix = f"error: {file}: " + (f"{path}: " if path else "")
    return line.startswith(prefix) and fragment in line


@pytest.fixture(scope="module")
def runs(compiled_template, tmp_path_factory):
    """Case -> (CLI result, rendered/ before, rendered/ after). Every case gets its own copy of
    the compiled example repository; the CLI processes run a few at a time (each is a second
    of interpreter start and compile, and the cases are independent)."""
    prepared = {}
    for case, spec in CASES.items():
        root = tmp_path_factory.mktemp("case") / "repo"
        shutil.copytree(compiled_template, root, symlinks=True)
        prepared[case] = (root, snapshot(root / "rendered"))
        apply_edits(root, spec.edits)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(prepared, pool.map(compile_cli, [root for root, _ in prepared.values()]), strict=True))
    return {case: (results[case], before, snapshot(root / "rendered")) for case, (root, before) in prepared.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_reported_and_nothing_is_written(runs, case):
    """Exit 2, each problem on its own line with file and field path, rendered/ untouched."""
    result, before, after = runs[case]
    assert before, "the good repository compiles to files first"
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    problem_lines, summary = lines[:-1], lines[-1]
    assert summary == f"{len(problem_lines)} error(s); nothing was written"
    for line in problem_lines:
        assert PROBLEM_LINE.match(line), line
    for file, path, fragment in CASES[case].expect:
        assert any(_matches(line, file, path, fragment) for line in problem_lines), (file, path, fragment, lines)
    if CASES[case].only:
        assert len(problem_lines) == 1, "expected one problem, got:\n" + "\n".join(problem_lines)
    assert after == before
