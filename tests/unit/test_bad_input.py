"""Bad input, one harness: each case edits a copy of the compiled example repository and runs
the real CLI, which must exit 2 with one line per problem naming the file and (where there is
one) the field path, no traceback, and leave rendered/ byte for byte as it was.

Cases are data (tests/spec_edits.py says what an edit is): spec syntax and types,
cross-file rules, feasibility of jobs, datasets, notebooks and storage, and data gates; and
hostile input (issue 14, the cases after HOSTILE below): tracebacks, escapes from the
repository, unbounded cost, names the platform uses, files tenants/ would skip, unchecked
values and policy. Every case also keeps a folder beside the repository ('{outside}' in
edits) byte for byte, prints no control characters, and ends within TIME_CAP; the cost cases
run the CLI as a child process whose peak RSS must stay within MEMORY_CAP.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from bad_input_harness import (
    MEMORY_CAP,
    TIME_CAP,
    Run,
    check_output,
    commit_base,
    copy_repo_fast,
    run_case,
    tree_bytes,
)
from spec_edits import apply_edits, replace_once


@dataclass(frozen=True)
class Case:
    edits: list[tuple]
    expect: list[tuple[str, str | None, str]]  # (file, field path or None, message part)
    only: bool = False  # the expected problem is the only one
    tags: tuple[str, ...] = field(default=())
    kind: str = "spec"  # class of the case (counted in test_corpus)
    child: bool = False  # run the CLI as a child process, its time and peak memory measured
    env: tuple[tuple[str, str], ...] = ()
    command: str = "compile"


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
        "{name: 'vision', displayName: 'V', owner: 'a@example.com', members: [{user: 'a@example.com', role: 'admin'}],"
        " quota: {cpu: '1'},"
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
        [("tenants/" + RECSYS, "jobs[0]", "gpu.A10 quota on cpu-west is 12")],  # its namespace's 6/8 of 16
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
        [("tenants/" + VISION, "notebooks[0].image", "is not from an allowed registry"),
         ("tenants/" + VISION, "notebooks[1].image", "is not from an allowed registry")],  # mei's two notebooks
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
    "two notebooks of one member without names": Case(
        [("append", VISION, "notebooks", {"user": "mei@example.com", "size": "small"})],
        [("tenants/" + VISION, None, "duplicate names in notebooks: mei@example.com")], only=True,
    ),
    "notebook that names no image, in a tenant without defaults": Case(
        [("delete", VISION, "notebooks[0].image")],
        [("tenants/" + VISION, "notebooks[0].image", "names no image and notebookDefaults none")], only=True,
    ),
    "unknown default notebook image": Case(
        [("set", QUANT, "notebookDefaults.image", "jupyter-cobol")],
        [("tenants/" + QUANT, "notebookDefaults.image", "unknown notebook image 'jupyter-cobol'")],
    ),
    "default notebook cluster the tenant is not on": Case(
        [("set", QUANT, "notebookDefaults.cluster", "mars-1")],
        [("tenants/" + QUANT, "notebookDefaults.cluster", "'mars-1' is not a cluster of this tenant")],
    ),
    "users listed under a member user": Case(
        [("set", VISION, "members[0].users", ["ann@example.com"])],
        [("tenants/" + VISION, "members[0]", "only a group lists users")], only=True,
    ),
    "notebook for a non-member": Case(
        [("set", VISION, "notebooks[0].user", "eve@example.com")],
        [("tenants/" + VISION, "notebooks[0].user", "'eve@example.com' is neither a member user of this tenant nor "
          "listed under a member group's users")],
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
        [("set", ADS, "servings[0].replicas.max", 120)],
        [("tenants/" + ADS, "servings[0]", "at maxReplicas the servings on cpu-west (ctr) request cpu 486")],
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
    "bad policy event on a pipeline step": Case(
        [("set", VISION, "pipelines[0].steps[0].policies[0].event", "PodCrashed")],
        [("tenants/" + VISION, "pipelines[0].steps[0].policies[0].event", "'PodEvicted'")], only=True,
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
    # pod extras of pipeline steps and servings: the model and checks of jobs' (compiler/plan/pod_extras.py)
    "secret value instead of a reference on a serving": Case(
        [("set", ADS, "servings[0].envRefs[0]", {"name": "FEATURE_STORE_TOKEN", "value": "hunter2"})],
        [("tenants/" + ADS, "servings[0].envRefs[0]", "'value' is not allowed")], only=True,
    ),
    "secret in a serving's plain env": Case(
        [("set", ADS, "servings[0].env", {"FEATURE_STORE_TOKEN": "hunter2"})],
        [("tenants/" + ADS, "servings[0].env.FEATURE_STORE_TOKEN", "looks like a secret value")], only=True,
    ),
    "secret value instead of a reference on a step": Case(
        [("set", VISION, "pipelines[0].steps[0].envRefs", [{"name": "TRACKING_TOKEN", "value": "hunter2"}])],
        [("tenants/" + VISION, "pipelines[0].steps[0].envRefs[0]", "'value' is not allowed")], only=True,
    ),
    "secret value instead of a reference on a pipeline": Case(
        [("set", VISION, "pipelines[0].envRefs[0]", {"name": "TRACKING_TOKEN", "value": "hunter2"})],
        [("tenants/" + VISION, "pipelines[0].envRefs[0]", "'value' is not allowed")], only=True,
    ),
    # a pipeline's extras are checked for each step that takes them, and reported at the pipeline once
    "unknown pod template on a pipeline": Case(
        [("set", VISION, "pipelines[0].containers", ["krb5"])],
        [("tenants/" + VISION, "pipelines[0].containers[0]", "unknown pod template 'krb5'")], only=True,
    ),
    "a pipeline's /dev/shm beyond the memory of a step that takes it": Case(
        [("set", VISION, "pipelines[0].shmSize", "100Gi")],
        [("tenants/" + VISION, "pipelines[0].shmSize", "100Gi of /dev/shm is more than the memory of container")],
        only=True,
    ),
    "unknown pod template on a step": Case(
        [("set", VISION, "pipelines[0].steps[0].containers", ["krb5"])],
        [("tenants/" + VISION, "pipelines[0].steps[0].containers[0]", "unknown pod template 'krb5'")], only=True,
    ),
    "unknown pod template on a serving": Case(
        [("set", ADS, "servings[0].containers", ["vault-agent"])],
        [("tenants/" + ADS, "servings[0].containers[0]", "unknown pod template 'vault-agent'")], only=True,
    ),
    "step volume named like its sidecar's": Case(
        [("set", VISION, "pipelines[0].steps[0].extraVolumes",
          [{"name": "krb5-keytab", "secret": "other-keytab", "mountPath": "/etc/other"}])],
        [("tenants/" + VISION, "pipelines[0].steps[0].extraVolumes[0].name", "volume name 'krb5-keytab' is used "
          "twice")], only=True,
    ),
    "step /dev/shm above its containers' memory": Case(
        [("set", VISION, "pipelines[0].steps[1].shmSize", "100Gi")],
        [("tenants/" + VISION, "pipelines[0].steps[1].shmSize", "100Gi of /dev/shm is more than the memory of "
          "container 'master' (64Gi), 'worker' (64Gi)")], only=True,
    ),
    "serving /dev/shm above the server's memory": Case(
        [("set", RECSYS, "servings[0].shmSize", "20Gi")],
        [("tenants/" + RECSYS, "servings[0].shmSize", "of container 'server' (16Gi)")], only=True,
    ),
    "job /dev/shm above its container's memory": Case(
        [("set", QUANT, "schedules[0].job.shmSize", "17Gi")],
        [("tenants/" + QUANT, "schedules[0].job.shmSize", "of container 'worker' (16Gi)")], only=True,
    ),
    "pod extras on a job template (a step's own are all it gets)": Case(
        [("set", VISION, "templates[0].shmSize", "8Gi")],
        [("tenants/" + VISION, "templates[0].shmSize", "unknown field")], only=True,
    ),
    # 127 x (4 cpu + the agent's 10m) fits vision's 512 on gpu-east; with the renewer's 50m per pod it does not
    "step sidecars counted in the gang's quota": Case(
        [("set", VISION, "pipelines[0].steps[0].roles[0].replicas", 127)],
        [("tenants/" + VISION, "pipelines[0].steps[0]", "needs cpu 515.62 in total but the tenant's cpu quota on "
          "gpu-east is 512")], only=True,
    ),
    # 100 x 4 cpu is exactly ads-ranking's 400 on cpu-west; the renewer's 50m per replica is not
    "serving sidecars counted at maxReplicas": Case(
        [("set", ADS, "servings[0].replicas.max", 100)],
        [("tenants/" + ADS, "servings[0]", "at maxReplicas the servings on cpu-west (ctr) request cpu 405")],
        only=True,
    ),
    # ---- projects (issue 16; compiler/model/projects.py, compiler/plan/projects.py) ----
    "project quotas that do not add up to the tenant's": Case(
        [
            ("set", RECSYS, "ownShare", {"quota": {"cpu": "400", "memory": "1Ti", "gpu": {"A10": 8}, "pods": 750,
                                                   "pvcs": 15, "storage": "15Ti"}}),
            ("set", RECSYS, "projects[0].share", {"quota": {"cpu": "300", "memory": "1Ti", "gpu": {"A10": 4},
                                                            "pods": 375, "pvcs": 8, "storage": "8Ti"}}),
            ("set", RECSYS, "projects[1].share", {"quota": {"cpu": "200", "memory": "1Ti", "gpu": {"A10": 4},
                                                            "pods": 375, "pvcs": 7, "storage": "7Ti"}}),
        ],
        [("tenants/" + RECSYS, "projects[*].share.quota.cpu", "sum to 900 but quota.cpu is 800")],
        only=True,
    ),
    "projects mixing weights and explicit quota": Case(
        [("set", RECSYS, "projects[0].share", {"quota": {"cpu": "100"}})],
        [("tenants/" + RECSYS, "projects", "use weights for every project")],
        only=True,
    ),
    "project whose namespace is another tenant's": Case(
        [("call", lambda root: (root / "tenants/recsys-ranking.yaml").write_text(
            "name: recsys-ranking\ndisplayName: R\nowner: a@example.com\n"
            "members: [{user: a@example.com, role: admin}]\nquota: {cpu: '1'}\n"
            "placement: {cpu-west: {weight: 1}}\n"))],
        [("tenants/" + RECSYS, "projects[0].name", "are already tenant 'recsys-ranking'")],
    ),
    "project named like the tenant namespace's own queue": Case(
        [("set", RECSYS, "projects[0].name", "default")],
        [("tenants/" + RECSYS, "projects[0].name", "'default' is reserved")],
        only=True,
    ),
    "projects whose weights are all 0": Case(
        [("set", RECSYS, "ownShare", {"weight": 0}), ("set", RECSYS, "projects[0].share", {"weight": 0}),
         ("set", RECSYS, "projects[1].share", {"weight": 0})],
        [("tenants/" + RECSYS, "projects", "cannot be split over the projects")],
    ),
    # ---- end of projects ----
    # ---- resource groups (compiler/plan/resource_groups.py) ----
    "resource group for an unknown tenant": Case(
        [("set", "platform.yaml", "clusters[0].nodePools[3].tenant", "nobody")],
        [("tenants/platform.yaml", "clusters[0].nodePools[3].tenant", "unknown tenant 'nobody'")],
    ),
    "resource group without a taint of its own": Case(
        [("set", "platform.yaml", "clusters[0].nodePools[3].taints",
          [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])],
        [("tenants/platform.yaml", "clusters[0].nodePools[3].taints", "no NoSchedule or NoExecute taint of its own")],
        only=True,
    ),
    "resource group pods reading cached data": Case(
        [("set", "ads-ranking.yaml", "jobs[0].datasets", ["imagenet"])],
        [("tenants/platform.yaml", "clusters[0].nodePools[3].tenant", "read the cached dataset 'imagenet'")],
        only=True,
    ),
    # ---- notebooks as a self-service (compiler/model/notebook_auth.py) ----
    "notebook auth endpoint that is not a URL": Case(
        [("text", "platform.yaml", "url: https://auth.example.com/oauth2/auth", "url: auth.example.com/oauth2/auth")],
        [("tenants/platform.yaml", "notebooks.auth.url", "is not an http(s) URL")],
        only=True,
    ),
    # ---- ResourceQuota scopes (compiler/plan/quota_scopes.py) ----
    "quota scope for an unknown priority class": Case(
        [("set", VISION, "quotaScopes.priorityClasses", {"urgent": {"cpu": "8"}})],
        [("tenants/" + VISION, "quotaScopes.priorityClasses.urgent", "unknown priority class 'urgent'")],
        only=True,
    ),
    "priority class scope that caps claims": Case(
        [("set", VISION, "quotaScopes.priorityClasses.batch-low", {"cpu": "8", "pvcs": 2})],
        [("tenants/" + VISION, "quotaScopes.priorityClasses.batch-low.pvcs", "counts pods only")],
        only=True,
    ),
    "quota scope above the quota": Case(
        [("set", VISION, "quotaScopes.priorityClasses.batch-low", {"gpu": {"A100": 65}})],
        [("tenants/" + VISION, "quotaScopes.priorityClasses.batch-low.gpu.A100", "more than the quota's 64")],
        only=True,
    ),
    "quota scope for an unknown storage class": Case(
        [("set", VISION, "quotaScopes.storageClasses", {"tape": {"storage": "1Ti"}})],
        [("tenants/" + VISION, "quotaScopes.storageClasses.tape", "unknown storage class 'tape'")],
        only=True,
    ),
}


# -- HOSTILE: issue 14 --------------------------------------------------------------------
# Classes: crash (once a traceback), escape (reaching outside the repository), cost (bounded
# time and memory, run as child processes), names (the platform's own), files (every entry
# of tenants/ compiled or reported), values, policy (refused unless the platform opts in).
V, P, Q, SI = "tenants/vision.yaml", "tenants/platform.yaml", "tenants/quant-research.yaml", \
    "tenants/sandbox-interns.jsonnet"
HUGE_DIGITS = "9" * 5000


def _minimal_tenant(name: str, **extra: object) -> str:
    data = {"name": name, "displayName": "T", "owner": "ann@example.com",
            "members": [{"user": "ann@example.com", "role": "admin"}],
            "quota": {"cpu": "1"}, "placement": {"cpu-west": {"weight": 1}}, **extra}
    return yaml.safe_dump(data, sort_keys=False)


def _bomb(levels: int = 9) -> str:
    lines = ["lol0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _journal(steps: Callable[[Path], list], txn: str = "txn-evil") -> tuple:
    """A journal in the cache whose renames are `steps(root)`."""
    def write(root: Path) -> None:
        folder = root / ".tenantc-cache" / txn
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "journal.json").write_text(json.dumps(steps(root)))
    return ("call", write)


def _outside(root: Path, *parts: str) -> str:
    return str(root.parent.joinpath("outside", *parts))


def _jsonnet(code: str) -> tuple:
    return ("write", SI, code)


def _damage_payloads(root: Path) -> None:
    with sqlite3.connect(root / ".tenantc-cache" / "units.sqlite") as db:
        db.execute("UPDATE units SET objects = ?, files = ?", (b"\xe3garbage", b"\xe3garbage"))


def _commit_cache(root: Path) -> None:
    """A pull request that commits a crafted cache (force-added past .gitignore)."""
    (root / ".tenantc-cache").mkdir(exist_ok=True)
    (root / ".tenantc-cache" / "units.sqlite").write_bytes(b"crafted")
    for args in (["init", "-q"], ["add", "-f", ".tenantc-cache"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _case(kind: str, edits: list, file: str, path: str | None, fragment: str, only: bool = True,
          **more: object) -> Case:
    return Case(edits, [(file, path, fragment)], only=only, kind=kind, **more)  # type: ignore[arg-type]


J = ".tenantc-cache/txn-evil/journal.json"
HOSTILE: dict[str, Case] = {
    # crash: each of these was a traceback (exit 1)
    "integer of 5,000 digits": _case("crash", [("text", "vision.yaml", "  weight: 4\n", f"  weight: {HUGE_DIGITS}\n")],
                                     V, None, "an integer of more than 4300 digits (numbers are 64-bit)"),
    "integer beyond 64 bits": _case("crash", [("set", "vision.yaml", "queue.weight", 10**30)], V, "queue.weight",
                                    "64-bit range"),
    "negative integer beyond 64 bits": _case("crash", [("set", "vision.yaml", "quota.pods", -10**40)], V,
                                             "quota.pods", "64-bit range"),
    "integer beyond 64 bits in the platform": _case("crash", [("set", "platform.yaml", "clusters[0].capacity.pods",
                                                               10**25)], P, "clusters[0].capacity.pods", "64-bit"),
    "anchor inside its own list": _case("crash", [("append-text", "vision.yaml", "x: &s [*s]\n")], V, "x[0]",
                                        "refers to itself"),
    "anchor inside its own mapping": _case("crash", [("append-text", "vision.yaml", "x: &m {a: {b: *m}}\n")], V,
                                           "x.a.b", "refers to itself"),
    "anchor inside itself in the platform": _case("crash", [("append-text", "platform.yaml", "x: &s [1, [*s]]\n")],
                                                  P, "x[1][0]", "refers to itself"),
    "YAML infinity": _case("crash", [("text", "vision.yaml", "  weight: 4\n", "  weight: .inf\n")], V,
                           "queue.weight", "not a finite number"),
    "YAML not-a-number": _case("crash", [("text", "vision.yaml", "  weight: 4\n", "  weight: .nan\n")], V,
                               "queue.weight", "not a finite number"),
    "Jsonnet that overflows to infinity": _case("crash", [_jsonnet("{name: 'sandbox-interns', x: 1e308 * 10}")],
                                                SI, None, "Jsonnet error"),
    "rendered/ is a file": _case("crash", [("remove", "rendered"), ("write", "rendered", "x")], "rendered", None,
                                 "is a file"),
    ".tenantc-cache is a file": _case("crash", [("remove", ".tenantc-cache"), ("write", ".tenantc-cache", "x")],
                                      ".tenantc-cache", None, "is a file"),
    "tenants/ is a file": _case("crash", [("remove", "tenants"), ("write", "tenants", "x")], "tenants/", None,
                                "cannot be read"),
    "truncated journal": _case("crash", [("write", J, '[["a')], J, None, "damaged"),
    "journal that is not a list": _case("crash", [("write", J, '{"a": 1}')], J, None, "damaged"),
    "journal step that is not a pair": _case("crash", [("write", J, '[["a"]]')], J, None, "step 0"),
    "journal step of numbers": _case("crash", [("write", J, "[[1, 2]]")], J, None, "step 0"),
    "journal of invalid UTF-8": _case("crash", [("write", J, b"\xff\xfe[")], J, None, "damaged"),
    "unit cache whose payloads are damaged": _case(
        "crash", [("call", _damage_payloads), ("remove", "rendered/gpu-east/vision")],
        ".tenantc-cache/units.sqlite", None, "damaged"),
    "unknown Jsonnet engine in the environment": _case(
        "crash", [], SI, None, "TENANTC_JSONNET_ENGINE=nope", only=False, env=(("TENANTC_JSONNET_ENGINE", "nope"),)),
    "unknown schema engine in the environment": _case(
        "crash", [], "TENANTC_SCHEMA_ENGINE=nope", None, "not an engine", env=(("TENANTC_SCHEMA_ENGINE", "nope"),)),
    "empty spec file": _case("crash", [("write", "tenants/empty.yaml", "")], "tenants/empty.yaml", None,
                             "expected a mapping"),
    "spec file of invalid UTF-8": _case("crash", [("write", "tenants/binary.yaml", b"name: \xff\xfe\x00")],
                                        "tenants/binary.yaml", None, "YAML"),
    # escape: nothing outside the repository is read, written, moved or deleted
    "cache committed to git (compile)": _case("escape", [("call", _commit_cache)], ".tenantc-cache/", None,
                                              "is committed to git"),
    "cache committed to git (check)": _case("escape", [("call", _commit_cache)], ".tenantc-cache/", None,
                                            "is committed to git", command="check"),
    "journal moving a folder from outside into rendered/": _case("escape", [_journal(lambda r: [
        [_outside(r, "victim"), str(r / "rendered/gpu-east/zz")]])], J, None, "not a unit folder"),
    "journal moving a unit out of the repository": _case("escape", [_journal(lambda r: [
        [_outside(r, "gone"), str(r / "rendered/gpu-east/vision")]])], J, None, "not a unit folder"),
    "journal with '..' in a path": _case("escape", [_journal(lambda r: [
        [str(r / "rendered/gpu-east/../../../outside/victim"), str(r / ".tenantc-cache/txn-evil/old/gpu-east/x")]])],
        J, None, "step 0"),
    "journal renaming between two units": _case("escape", [_journal(lambda r: [
        [str(r / "rendered/gpu-east/vision"), str(r / ".tenantc-cache/txn-evil/old/gpu-east/recsys")]])],
        J, None, "step 0"),
    "journal into another transaction": _case("escape", [_journal(lambda r: [
        [str(r / "rendered/gpu-east/vision"), str(r / ".tenantc-cache/txn-other/old/gpu-east/vision")]])],
        J, None, "step 0"),
    "journal through a symlinked transaction folder": _case("escape", [
        ("mkdir", ".tenantc-cache/txn-evil/old"), ("symlink", ".tenantc-cache/txn-evil/old/gpu-east", "{outside}"),
        _journal(lambda r: [[str(r / "rendered/gpu-east/victim"),
                             str(r / ".tenantc-cache/txn-evil/old/gpu-east/victim")]])],
        J, None, "symlink"),
    "transaction folder that is a symlink out": _case("escape", [
        ("symlink", ".tenantc-cache/txn-evil", "{outside}"), ("write", "{outside}/journal.json", "[]")],
        ".tenantc-cache/txn-evil", None, "not a folder tenantc made"),
    "tenant file symlinked out of the repository": _case("escape", [
        ("write", "{outside}/evil.yaml", _minimal_tenant("evil")), ("symlink", "tenants/evil.yaml",
                                                                     "{outside}/evil.yaml")],
        "tenants/evil.yaml", None, "leading out of the repository"),
    "platform file symlinked out of the repository": _case("escape", [
        ("call", lambda r: shutil.copy(r / "tenants/platform.yaml", r.parent / "outside/platform.yaml")),
        ("remove", "tenants/platform.yaml"), ("symlink", "tenants/platform.yaml", "{outside}/platform.yaml")],
        P, None, "leading out of the repository"),
    "tenant file symlinked to a system file": _case("escape", [("symlink", "tenants/passwd.yaml", "/etc/passwd")],
                                                    "tenants/passwd.yaml", None, "leading out of the repository"),
    "tenants/ symlinked out of the repository": _case("escape", [
        ("call", lambda r: shutil.copytree(r / "tenants", r.parent / "outside/tenants")), ("remove", "tenants"),
        ("symlink", "tenants", "{outside}/tenants")], "tenants/", None, "leading out of the repository"),
    "rendered/ symlinked out of the repository": _case("escape", [
        ("remove", "rendered"), ("symlink", "rendered", "{outside}/victim")], "rendered/", None,
        "leading out of the repository"),
    "cluster folder of rendered/ symlinked out of the repository": _case("escape", [
        ("remove", "rendered/gpu-east"), ("symlink", "rendered/gpu-east", "{outside}/victim")], "rendered/gpu-east",
        None, "is a symlink"),
    ".tenantc-cache symlinked out of the repository": _case("escape", [
        ("remove", ".tenantc-cache"), ("symlink", ".tenantc-cache", "{outside}/victim")], ".tenantc-cache/", None,
        "leading out of the repository"),
    "Jsonnet import of an absolute path": _case("escape", [_jsonnet("import '/etc/hostname'")], SI, None,
                                                "leaves the repository"),
    "Jsonnet importstr out of the repository": _case("escape", [
        ("write", "{outside}/secret.txt", "s3cret"), _jsonnet("{name: importstr '../../outside/secret.txt'}")],
        SI, None, "leaves the repository"),
    "Jsonnet import through a symlink pointing out": _case("escape", [
        ("write", "{outside}/lib.libsonnet", "{}"),
        ("symlink", "tenants/lib/evil.libsonnet", "{outside}/lib.libsonnet"),
        _jsonnet("import 'lib/evil.libsonnet'")], SI, None, "leaves the repository"),
    **{f"host pattern {pattern!r} (format-string injection)": _case(
        "escape", [("set", "platform.yaml", "notebooks.ingressHost", pattern)], P, "notebooks.ingressHost",
        "placeholder other than {user} and {tenant}")
       for pattern in ["{user.__class__}.nb.example.com", "{tenant.__init__.__globals__}.example.com",
                       "{user!r}.{tenant}.example.com", "{user:>999999999}.example.com", "{0}.{tenant}.example.com",
                       "{user[0]}.{tenant}.example.com", "{who}.{tenant}.example.com", "{}.example.com",
                       "{user.{tenant}.example.com"]},
}

LONG = "x" * 15000  # under the string cap; many aliased copies make a large object


def _long_command(root: Path) -> None:
    """Give vision's job a command of 110 aliased 15,000-character strings (1.6 MB rendered)."""
    path = root / "tenants/vision.yaml"
    path.write_text(path.read_text().replace("      - {name: worker, replicas: 7}",
                                             "      - {name: worker, replicas: 7, command: [&b " + LONG + ", " +
                                             ", ".join(["*b"] * 110) + "]}"))


HOSTILE.update({
    # cost: refused within the caps, measured in a child process
    "YAML alias bomb in a tenant (9^9 values)": _case("cost", [("append-text", "vision.yaml", _bomb())], V, None,
                                                      "expands to more than", child=True),
    "YAML alias bomb in the platform": _case("cost", [("append-text", "platform.yaml", _bomb())], P, None,
                                             "expands to more than", child=True),
    "YAML aliases of one long string": _case("cost", [("append-text", "vision.yaml", f"big: &b {LONG}\nmany: [" +
                                                       ", ".join(["*b"] * 400) + "]\n")],
                                             V, None, "characters of text", child=True),
    "object over the API server's 1.5 MiB": _case("cost", [("call", _long_command)],
                                                  V, None, "the API server can store", only=False, child=True),
    "YAML nested 10,000 levels": _case("cost", [("write", "tenants/deep.yaml", "a: " + "[" * 10000)],
                                       "tenants/deep.yaml", None, "YAML syntax error", child=True),
    "YAML nested past the depth cap": _case("cost", [("write", "tenants/deep.yaml", "a: " + "[" * 60 + "]" * 60)],
                                            "tenants/deep.yaml", None, "deeper than", child=True),
    "spec file over 512 KiB": _case("cost", [("append-text", "vision.yaml", "# padding\n" * 120000)], V, None,
                                  "larger than", child=True),
    "string over the cap": _case("cost", [("set", "vision.yaml", "displayName", "x" * 100000)], V, "displayName",
                                 "the cap is", child=True),
    "list of 150,000 values": _case("cost", [("append-text", "vision.yaml", "x: [" + "1," * 150000 + "1]\n")], V, None,
                                    "more than 50000 values", child=True),
    "list of 40,000 aliases of a 40-item list": _case("cost", [("append-text", "vision.yaml", "a: &a [" + "1," * 40 +
                                                                "1]\nx: [" + "*a," * 40000 + "*a]\n")],
                                                      V, None, "more than 50000 values", child=True),
    "Jsonnet string of 2^31 characters": _case("cost", [_jsonnet(
        "local s(n) = if n == 0 then 'x' else s(n - 1) + s(n - 1); {name: s(31)}")], SI, None, "cap", child=True),
    "Jsonnet array of 50 million items": _case("cost", [_jsonnet("{name: std.makeArray(50000000, function(i) i)}")],
                                               SI, None, "cap", child=True),
    "Jsonnet object of 20 million fields": _case("cost", [_jsonnet(
        "{['k' + i]: i for i in std.range(0, 20000000)}")], SI, None, "cap", child=True),
    "Jsonnet endless recursion": _case("cost", [_jsonnet("local f(n) = f(n + 1) + 1; {name: f(0)}")], SI, None,
                                       "Jsonnet error", child=True),
    "Jsonnet busy loop": _case("cost", [_jsonnet(
        "{name: std.foldl(function(a, b) a + b, std.range(0, 1000000000), 0)}")], SI, None, "cap", child=True),
    "Jsonnet JSON over the output cap": _case("cost", [_jsonnet(
        "{name: std.makeArray(1500000, function(i) 'xxxxxxxxxx')}")], SI, None, "cap", child=True),
    "Jsonnet string of 2 million characters": _case("cost", [_jsonnet(
        "{name: std.join('', std.makeArray(2000000, function(i) 'x'))}")], SI, "name", "the cap is", only=False,
        child=True),
    # names: a tenant may not take a namespace or queue of the platform
    **{f"tenant named {name!r} ({what})": _case(
        "names", [("write", f"tenants/{name}.yaml", _minimal_tenant(name))], f"tenants/{name}.yaml", "name", what)
       for name, what in [("ingress-nginx", "the ingress namespace"), ("monitoring", "the monitoring namespace"),
                          ("argocd", "Argo CD's namespace"), ("root", "the root queue"),
                          ("research", "a platform queue"), ("production", "a platform queue"),
                          ("kube-system", "reserved"), ("kube-public", "reserved"),
                          ("kube-flannel", "kube-*"), ("default", "reserved"), ("kube-node-lease", "reserved")]},
    "tenant named like the DNS namespace the platform sets": _case("names", [
        ("set", "platform.yaml", "dnsNamespace", "coredns"), ("write", "tenants/coredns.yaml",
                                                              _minimal_tenant("coredns"))],
        "tenants/coredns.yaml", "name", "the DNS namespace"),
    "tenant named like a queue the platform adds": _case("names", [
        ("append", "platform.yaml", "queues", {"name": "batch", "weight": 1}),
        ("write", "tenants/batch.yaml", _minimal_tenant("batch"))], "tenants/batch.yaml", "name", "a platform queue"),
    # a name validated as a whole string: `$` in a pattern lets a trailing newline through
    "job name with a trailing newline": _case("names", [("set", VISION, "jobs[0].name", "resnet50-ddp\n")],
                                              V, "jobs[0].name", "is not a DNS-1123 label"),
    # files: every entry of tenants/ is compiled or reported
    "folder named like a spec file": _case("files", [("mkdir", "tenants/d.yaml")], "tenants/d.yaml", None, "folder"),
    "platform file that is a folder": _case("files", [("remove", "tenants/platform.yaml"),
                                                      ("mkdir", "tenants/platform.yaml")], P, None, "folder",
                                            only=False),
    "FIFO (never opened)": _case("files", [("fifo", "tenants/pipe.yaml")], "tenants/pipe.yaml", None,
                                 "not a regular file"),
    "dangling symlink": _case("files", [("symlink", "tenants/gone.yaml", "nowhere.yaml")], "tenants/gone.yaml",
                              None, "symlink to nothing"),
    "symlink loop": _case("files", [("symlink", "tenants/a.yaml", "b.yaml"), ("symlink", "tenants/b.yaml", "a.yaml")],
                          "tenants/a.yaml", None, "symlink to nothing", only=False),
    **{f"spec named {name}": _case("files", [("write", f"tenants/{name}", _minimal_tenant("x"))],
                                   f"tenants/{name}", None, fragment)
       for name, fragment in [("x.YAML", "rename it to x.yaml"), ("x.Yml", "rename it to x.yml"),
                              ("x.JSONNET", "rename it to x.jsonnet"), ("x.json", "JSON files are not read"),
                              ("x.yaml.bak", "not a spec file"), ("notes.txt", "not a spec file"),
                              ("x", "not a spec file")]},
})


def _values(field: str, file: str, path: str, fragment: str, values: list, where: str | None = None) -> dict:
    """One case per value: tenants/<file> gets `path` set to it; the problem is at `where`
    (default `path`)."""
    return {f"{field} {value!r}": _case("values", [("set", file, path, value)], f"tenants/{file}", where or path,
                                        fragment) for value in values}


ESCAPES = {"ESC (terminal escape)": "Vision \x1b[2J\x1b]0;owned\x07",
           "right-to-left override": "Vision \u202etxt.exe",
           "left-to-right isolate": "a\u2066b", "NUL": "a\x00b", "carriage return": "ok\rFAKE", "DEL": "a\x7fb",
           "C1 CSI": "a\x9b31mb", "byte-order mark inside": "a\ufeffb", "line separator": "a\u2028b"}
HOSTILE.update({
    **_values("owner", "vision.yaml", "owner", "not an e-mail address",
              ["mei", "mei@", "@example.com", "mei@@example.com", "mei@example", "mei example@example.com",
               "mei@exa mple.com", "mei..x@example.com", "mei@-example.com", "<mei@example.com>"]),
    **_values("member user", "vision.yaml", "members[0].user", "not an e-mail address",
              ["mei@", "mei@example", "a,b@example.com"]),
    **_values("member user with spaces", "vision.yaml", "members[0].user", "not a user or group name",
              ["mei @example.com", "two words"]),
    **_values("platform owner", "platform.yaml", "owners[0]", "not an e-mail address", ["oncall", "oncall@"]),
    "owner who is not a member": _case("values", [("set", "vision.yaml", "owner", "eve@example.com")], V, None,
                                       "is not a member user"),
    "member listed with two roles": _case("values", [("append", "vision.yaml", "members",
                                                      {"user": "mei@example.com", "role": "view"})],
                                          V, None, "listed as admin and as view"),
    "group listed with two roles": _case("values", [("append", "vision.yaml", "members",
                                                     {"group": "vision-eng", "role": "admin"})],
                                         V, None, "listed as edit and as admin"),
    **_values("job image", "vision.yaml", "templates[0].roles[0].image", "not an image reference",
              ["registry.example.com/ml/../platform/x:1", "registry.example.com/ml/x:1\nevil",
               "registry.example.com/ml/x y",
               "registry.example.com/ML/x:1", "registry.example.com//x", "-registry.example.com/x",
               "registry.example.com/ml/x:" + "t" * 200, "registry.example.com/ml/x:1\tb", ""]),
    **_values("notebook image", "platform.yaml", "notebooks.images.jupyter-torch", "not an image reference",
              ["registry.example.com/platform/../../x:1", "registry.example.com/platform/j\nx:1"]),
    **_values("agent image", "platform.yaml", "agentImage", "not an image reference",
              ["registry.example.com/platform/../agent:1", "registry.example.com/platform/agent:1 --privileged"]),
    **_values("schedule", "quant-research.yaml", "schedules[0].schedule", "never fires",
              ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "0 0 30,31 feb *"]),
    **_values("schedule", "quant-research.yaml", "schedules[0].schedule", "not a cron schedule",
              ["61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "1-70 * * * *",
               "5-1 * * * *", "0 0 * *", "0 0 * * * *", "@every 1h", "0 0 * * funday"]),
    **_values("pipeline schedule", "vision.yaml", "pipelines[0].schedule", "never fires", ["0 3 31 11 *"]),
    **_values("cache scaling schedule", "quant-research.yaml", "datasets[0].scaling[0].schedule", "not a cron",
              ["0 8 * * 1-9"]),
    **_values("time zone", "quant-research.yaml", "schedules[0].timeZone", "unknown time zone",
              ["Mars/Olympus_Mons", "../../../etc/passwd", "UTC+99", "asia/shanghai", "/etc/localtime"]),
    **_values("pipeline time zone", "vision.yaml", "pipelines[0].timeZone", "unknown time zone", ["Europe/Berlinn"]),
    **{f"{what} in a display name": _case("values", [("set", "vision.yaml", "displayName", text)], V, "displayName",
                                          "control or bidirectional character")
       for what, text in ESCAPES.items()},
    "ESC in a group name": _case("values", [("set", "vision.yaml", "members[1].group", "eng\x1b[31m")], V,
                                 "members[1].group", "control or bidirectional"),
    "right-to-left override in a field name": _case("values", [("set", "vision.yaml", "quota.cpu\u202e", "1")], V,
                                                    "quota.cpu\\u202e", "field name contains"),
    "ESC in a Jsonnet tenant's name": _case("values", [_jsonnet("{name: 'sandbox-interns\\u001b[2J'}")], SI, "name",
                                            "control or bidirectional", only=False),
    # policy: refused unless the platform opts in (platform file, policy:)
    **{f"egress to {' + '.join(cidrs)}": _case("policy", [("set", "vision.yaml", "network",
                                                           {"egress": [{"cidr": c} for c in cidrs]})],
                                               V, "network.egress", "open every address")
       for cidrs in [["0.0.0.0/0"], ["::/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["::/1", "8000::/1"],
                     ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
                     ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2", "10.0.0.0/8"]]},
    "egress to 0.0.0.0/0 on one port": _case("policy", [("set", "vision.yaml", "network", {"egress": [
        {"cidr": "0.0.0.0/0", "ports": [{"port": 443}]}]})], V, "network.egress", "open every address"),
    **{f"member {kind} {name}": _case("policy", [("append", "vision.yaml", "members", {kind: name, "role": "view"})],
                                      V, f"members[2].{kind}", "Kubernetes system subject")
       for kind, name in [("group", "system:authenticated"), ("group", "system:unauthenticated"),
                          ("user", "system:anonymous"), ("group", "system:serviceaccounts"),
                          ("group", "system:masters"), ("user", "system:serviceaccount:kube-system:default"),
                          ("user", "system:admin@example.com")]},
    "empty allowed-registry prefix": _case("policy", [("append", "platform.yaml", "allowedRegistries", "")], P,
                                           "allowedRegistries[2]", "empty prefix"),
    "no allowed registries (every registry admitted)": _case(
        "policy", [("delete", "platform.yaml", "allowedRegistries")], P, "allowedRegistries", "every registry"),
    "empty list of allowed registries": _case(
        "policy", [("set", "platform.yaml", "allowedRegistries", [])], P, "allowedRegistries", "every registry"),
    "blank allowed-registry prefix": _case("policy", [("append", "platform.yaml", "allowedRegistries", "   ")], P,
                                           "allowedRegistries[2]", "empty prefix"),
})
# The contract holds for every command that reads the specs: `check` on a few of them.
HOSTILE.update({f"check: {name}": dataclasses.replace(HOSTILE[name], command="check") for name in [
    "integer of 5,000 digits", "anchor inside its own mapping", "FIFO (never opened)",
    "tenant file symlinked out of the repository", "cluster folder of rendered/ symlinked out of the repository",
    "host pattern '{user.__class__}.nb.example.com' (format-string "
    "injection)", "ESC (terminal escape) in a display name", "egress to 0.0.0.0/0"]})
# ... and `review` (the working tree against the unedited HEAD), as a pull request meets it.
HOSTILE.update({f"review: {name}": dataclasses.replace(HOSTILE[name], command="review") for name in [
    "integer of 5,000 digits", "anchor inside its own mapping", "tenant file symlinked out of the repository",
    "host pattern '{user.__class__}.nb.example.com' (format-string injection)", "ESC (terminal escape) in a "
    "display name", "egress to 0.0.0.0/0", "YAML infinity", "empty spec file"]})
CASES.update(HOSTILE)


@pytest.fixture(scope="module")
def runs(compiled_template, tmp_path_factory):
    """Case -> (run, trees before, trees after). Each case gets its own copy of the compiled
    example repository and a folder beside it that nothing may touch; cases run one at a time
    (in process, or as a child process for the cost cases) so their times are their own."""
    out = {}
    for name, case in CASES.items():
        base = tmp_path_factory.mktemp("case")
        root = base / "repo"
        copy_repo_fast(compiled_template, root)
        (base / "outside").mkdir()
        (base / "outside" / "victim").mkdir()
        (base / "outside" / "victim" / "keep.yaml").write_text("name: outside\n")
        if case.command == "review":
            commit_base(root)
        apply_edits(root, case.edits)
        before = (tree_bytes(root / "rendered"), tree_bytes(base / "outside"))
        run = run_case(root, case.command, dict(case.env), case.child)
        out[name] = (run, before, (tree_bytes(root / "rendered"), tree_bytes(base / "outside")))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_reported_and_nothing_is_written(runs, case):
    """Exit 2, each problem on its own line with file and field path, nothing written inside
    or outside the repository, within the caps."""
    run, before, after = runs[case]
    spec = CASES[case]
    problem_lines = check_output(run)
    for file, path, fragment in spec.expect:
        assert any(_matches(line, file, path, fragment) for line in problem_lines), (file, path, fragment,
                                                                                     run.stderr)
    if spec.only:
        assert len(problem_lines) == 1, "expected one problem, got:\n" + "\n".join(problem_lines)
    assert after == before
    assert run.seconds < TIME_CAP, f"{run.seconds:.1f}s"
    if spec.child:
        assert run.peak_rss is not None and run.peak_rss < MEMORY_CAP, run.peak_rss


def test_corpus(runs):
    """At least 200 cases; prints the count per class and the slowest and largest case."""
    kinds: dict[str, int] = {}
    for spec in CASES.values():
        kinds[spec.kind] = kinds.get(spec.kind, 0) + 1
    slowest = max(runs, key=lambda c: runs[c][0].seconds)
    measured = [c for c in runs if runs[c][0].peak_rss is not None]
    largest = max(measured, key=lambda c: runs[c][0].peak_rss or 0)
    print(f"\n{len(CASES)} cases: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"slowest: {slowest} {runs[slowest][0].seconds:.2f}s; largest (child processes): {largest} "
          f"{(runs[largest][0].peak_rss or 0) / 2**20:.0f} MiB in {runs[largest][0].seconds:.2f}s")
    assert len(CASES) >= 200
    assert {"crash", "escape", "cost", "names", "files", "values", "policy"} <= set(kinds)


def _matches(line: str, file: str, path: str | None, fragment: str) -> bool:
    prefix = f"error: {file}: " + (f"{path}: " if path else "")
    return line.startswith(prefix) and fragment in line


__all__ = ["Case", "CASES", "Run"]


def test_policy_opt_ins_let_what_they_name_through(compiled_template, tmp_path):
    """What the policy cases refuse compiles once the platform opts in (and only that)."""
    root = tmp_path / "repo"
    copy_repo_fast(compiled_template, root)
    apply_edits(root, [
        ("set", "platform.yaml", "policy", {"allowEgressEverywhere": True, "allowSystemSubjects": True,
                                            "allowAnyRegistry": True}),
        ("delete", "platform.yaml", "allowedRegistries"),
        ("set", "vision.yaml", "network", {"egress": [{"cidr": "0.0.0.0/1"}, {"cidr": "128.0.0.0/1"}]}),
        ("append", "vision.yaml", "members", {"group": "system:authenticated", "role": "view"})])
    run = run_case(root, "compile", {}, child=False)
    assert run.returncode == 0, run.stderr


def test_problem_lines_escape_what_the_input_holds():
    """ESC, OSC, bidi overrides and newlines are shown escaped; long values are cut with a count."""
    from compiler.errors import Problem

    line = str(Problem("tenants/a.yaml", "displayName", "'x\x1b]0;t\x07\u202e\nz" + "y" * 3000 + "'", "fix"))
    assert "\x1b" not in line and "\u202e" not in line and "\n" not in line
    assert "\\x1b]0;t\\x07\\u202e\\nz" in line and "more characters" in line


def _changed_spec(compiled_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    copy_repo_fast(compiled_template, root)
    apply_edits(root, [("set", "vision.yaml", "displayName", "Vision 2")])  # one unit to write
    return root


def test_unreadable_tenants_folder_is_exit_2(compiled_template, tmp_path, monkeypatch):
    """Tests run as root, where chmod cannot make a folder unreadable: the refusal is injected."""
    import compiler.load.sources as sources

    root = _changed_spec(compiled_template, tmp_path)
    real = os.scandir

    def scandir(path):
        if str(path).endswith("tenants"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(sources.os, "scandir", scandir)
    before = tree_bytes(root / "rendered")
    run = run_case(root, "compile", {}, child=False)
    assert any(line.startswith("error: tenants/: cannot be read: Permission denied") for line in check_output(run))
    assert tree_bytes(root / "rendered") == before


def test_read_only_rendered_is_exit_2(compiled_template, tmp_path, monkeypatch):
    import compiler.write.tree as tree

    root = _changed_spec(compiled_template, tmp_path)

    def refuse(path, content):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(tree, "_write_new", refuse)
    before = tree_bytes(root / "rendered")
    run = run_case(root, "compile", {}, child=False)
    lines = check_output(run)
    assert any(line.startswith("error: .tenantc-cache/txn-") and "Permission denied" in line for line in lines), lines
    assert tree_bytes(root / "rendered") == before
