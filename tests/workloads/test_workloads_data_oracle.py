"""Data oracle: every `waitForData` can be met, and no GPU is taken before it is.

The intent comes from the tenant specs and from how Fluid and Volcano are documented to
behave, written down here with their sources, never from tenantc's own plan:

Fluid (fluid-cloudnative/fluid):
* Which runtimes report a cached percentage: the Jindo, Alluxio and JuiceFS engines write
  `status.cacheStates.cachedPercentage` as cached bytes over the dataset's total
  (pkg/ddc/jindofsx/cache.go, alluxio/cache.go, juicefs/cache.go); the ThinRuntime engine
  writes "N/A" (pkg/ddc/thin/status.go). A Dataset sharing another one (dataset://) gets the
  shared Dataset's status copied (pkg/ddc/thin/referencedataset/sync.go).
* What fills a cache before anything reads: a DataLoad. With a target of "/" (or none) it
  loads all the data, and the Dataset then shows 100.0% (docs/en/samples/data_warmup.md);
  policy Once runs as a Job when created, policy Cron only as a CronJob at its schedule
  (charts/fluid-dataloader/*/templates: job.yaml, cronjob.yaml). The ThinRuntime runs no
  DataLoad at all (pkg/ddc/thin/operate.go: NotSupported).
* A runtime scaled to 0 workers keeps no cache.

Volcano (volcano-sh/volcano):
* A Volcano Job is gang-scheduled: its PodGroup needs minAvailable pods placed together, and
  the pods, GPUs included, are bound before any init container runs; a CronJob makes such
  Jobs at its schedule. So a GPU pod that waits for data in an init container holds its GPU.
* A JobFlow creates a flow's Job from its JobTemplate only once every Job the flow depends on
  is Completed (pkg/controllers/jobflow/jobflow_controller_action.go, judge); a JobTemplate
  alone creates nothing (docs/design/jobflow/README.md).

tenantc (README, "Caches next to their readers"): a cached dataset is read by CPU pods from its
home cache (the Dataset of its name) and by pods of a GPU model from that model's cache,
`<dataset>-<model>` (the model in lower case), each a Fluid Dataset with its own runtime,
status and preload.

So for every job and schedule that waits: each waited dataset (the shared one, for an import)
has a runtime that reports a percentage, a preload of the whole dataset (a rendered Once
DataLoad of "/" of each cache its pods read, in the owner's namespace on that cluster), and
no scaling to 0; a gate runs `tenantc-agent wait-dataset` for exactly the caches of those
datasets its pods read and that percentage; and, simulating what Volcano starts while the data
is cold, nothing started requests a GPU for a job that waits, and once the gates pass its GPU
pods do start.
"""
from __future__ import annotations

import re

import pytest

from compiler.agent import contract

CACHED_PERCENT_RUNTIMES = {"jindo", "alluxio", "juicefs"}  # Fluid engines that write a number (see above)
GPU_PREFIX = "nvidia.com/"
VOLCANO_BATCH, VOLCANO_FLOW = "batch.volcano.sh/v1alpha1", "flow.volcano.sh/v1alpha1"


# -- the intent, from the specs ------------------------------------------------------------------

def waits(specs) -> list[tuple[str, str, str, str, list[str], int]]:
    """(tenant, kind, name, cluster, waited datasets, percent) of every job and schedule that waits."""
    out = []
    for spec in specs.tenants:
        t = spec.tenant
        for kind, name, job in [*(("job", j.name, j) for j in t.jobs), *(("schedule", s.name, s.job)
                                                                         for s in t.schedules)]:
            if job.wait_for_data is not None:
                out.append((t.name, kind, name, job.cluster, list(job.wait_for_data.datasets or job.datasets),
                            job.wait_for_data.min_cached_percent))
    return out


def physical(specs, tenant: str, local: str):
    """(owner, the dataset spec) behind a tenant's dataset name: own, imported or global."""
    by_name = {s.tenant.name: s.tenant for s in specs.tenants}
    own = next((d for d in by_name[tenant].datasets if d.name == local), None)
    if own is not None:
        return tenant, own
    ref = next(((i.tenant, i.dataset) for i in by_name[tenant].imports if (i.name or i.dataset) == local), None)
    ref = ref or next(((g.tenant, g.dataset) for g in specs.platform.global_datasets if g.dataset == local), None)
    assert ref is not None, f"{tenant}: no dataset {local}"
    return ref[0], next(d for d in by_name[ref[0]].datasets if d.name == ref[1])


# -- what the rendered objects make Volcano start ------------------------------------------------------

JOB_LABEL = "tenantc.io/job"  # on every job pod template: which spec job it belongs to


def _asks_gpu(pod: dict) -> bool:
    return any(k.startswith(GPU_PREFIX) for c in [*pod.get("containers", []), *pod.get("initContainers", [])]
               for part in ("requests", "limits") for k in (c.get("resources") or {}).get(part, {}))


def _waits(container: dict) -> bool:
    return container.get("args", [""])[0] == contract.WAIT_DATASET


def _is_gate(template_spec: dict) -> bool:
    """A JobTemplate whose every container runs the agent's wait-dataset."""
    containers = [c for t in template_spec["tasks"] for c in t["template"]["spec"]["containers"]]
    return bool(containers) and all(_waits(c) for c in containers)


def started(objects: dict[str, dict], namespace: str, gates_pass: bool) -> list[tuple[str, dict]]:
    """(what made it, pod template) of every pod Volcano would start from a unit's objects,
    every schedule having fired, with the data gates failing (cold data) or passing."""
    here = [o for o in objects.values() if o["metadata"].get("namespace") == namespace]
    templates = {o["metadata"]["name"]: o["spec"] for o in here
                 if o["apiVersion"] == VOLCANO_FLOW and o["kind"] == "JobTemplate"}
    pods = []
    for o in here:
        if o["apiVersion"] == VOLCANO_BATCH and o["kind"] in ("Job", "CronJob"):
            spec = o["spec"]["jobTemplate"]["spec"] if o["kind"] == "CronJob" else o["spec"]
            pods += [(f"{o['kind']} {o['metadata']['name']}", t["template"]) for t in spec["tasks"]]
    flows = [{e["name"]: (e.get("dependsOn") or {}).get("targets", []) for e in o["spec"]["flows"]}
             for o in here if o["apiVersion"] == VOLCANO_FLOW and o["kind"] == "JobFlow"]
    for o in here:  # a scheduled flow: the flows its CronJob's `run-flow` creates at each run
        if o["kind"] == "CronJob" and o["apiVersion"] == "batch/v1":
            for c in o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                if c["args"][0] == contract.RUN_FLOW:
                    flows.append(dict(contract.parse(c["args"]).flows))
    for graph in flows:
        completed: set[str] = set()
        running: set[str] = set()
        while ready := [n for n, deps in graph.items() if n not in running and all(d in completed for d in deps)]:
            for name in ready:
                running.add(name)
                pods += [(f"JobTemplate {name}", t["template"]) for t in templates[name]["tasks"]]
                if gates_pass or not _is_gate(templates[name]):
                    completed.add(name)  # a job completes; a gate only once the data is warm
    return pods


def _of(pods: list[tuple[str, dict]], job: str) -> list[tuple[str, dict]]:
    return [(what, t) for what, t in pods if (t.get("metadata") or {}).get("labels", {}).get(JOB_LABEL) == job]


# -- the oracle -------------------------------------------------------------------------------

def _cache(dataset: str, gpu_model: str | None) -> str:
    return dataset if gpu_model is None else f"{dataset}-{re.sub('[^a-z0-9]', '-', gpu_model.lower()).strip('-')}"


def _pod_models(pods: list[tuple[str, dict]], models_by_resource: dict[str, str]) -> list[str | None]:
    """The kinds of pod among the job's (not its gates): the GPU model a pod asks for by its
    resource name, None for a CPU pod; CPU first."""
    kinds = set()
    for _, t in pods:
        if all(_waits(c) for c in t["spec"]["containers"]):
            continue
        asked = {k for c in t["spec"]["containers"] for k in (c.get("resources") or {}).get("limits", {})}
        kinds.add(next((models_by_resource[k] for k in sorted(asked) if k in models_by_resource), None))
    return sorted(kinds, key=lambda m: (m is not None, m or ""))


def check(rendered) -> int:
    """Every wait of the rendered repository can be met and takes no GPU; returns how many."""
    specs = rendered.result.specs
    found = waits(specs)
    for tenant, kind, name, cluster, datasets, percent in found:
        where = f"{tenant} {kind} {name}"
        assert datasets, f"{where}: waits for nothing"
        warm = _of(started(rendered.objects, tenant, gates_pass=True), name)
        models_by_resource = {r: m for m, r in specs.platform.cluster(cluster).gpu_models().items()}
        kinds = _pod_models(warm, models_by_resource)
        for local in datasets:
            owner, ds = physical(specs, tenant, local)
            assert ds.runtime.type in CACHED_PERCENT_RUNTIMES, f"{where}: {owner}/{ds.name} reports no percentage"
            assert ds.preload is not None and any(not p.strip("/") for p in ds.preload.paths), \
                f"{where}: nothing loads all of {owner}/{ds.name}"
            assert all(step.replicas > 0 for step in ds.scaling), f"{where}: {owner}/{ds.name} scaled to 0"
            for model in kinds:
                cache = _cache(ds.name, model)
                loads = [o["spec"] for p, o in rendered.objects.items() if p.startswith(f"{cluster}/{owner}/")
                         and o["kind"] == "DataLoad" and o["spec"]["dataset"]["name"] == cache]
                assert any(lo.get("policy", "Once") == "Once" and any(not t["path"].strip("/") for t in lo["target"])
                           for lo in loads), f"{where}: no Once DataLoad of all of {owner}/{cache} on {cluster}"

        cold = _of(started(rendered.objects, tenant, gates_pass=False), name)
        gates = [contract.parse(c["args"]) for _, t in cold
                 for c in [*t["spec"].get("initContainers", []), *t["spec"]["containers"]] if _waits(c)]
        assert gates, f"{where}: nothing waits for its data"
        caches = [_cache(local, model) for local in datasets for model in kinds]
        for args in gates:
            assert (args.names, args.namespace, args.min_cached_percent) == (caches, tenant, float(percent)), where
        for what, template in cold:
            assert not _asks_gpu(template["spec"]), f"{where}: {what} requests GPUs before its data is warm"
        assert any(not all(_waits(c) for c in t["spec"]["containers"]) for _, t in warm), \
            f"{where}: its work never starts, even with the data warm"
    return len(found)


def test_every_wait_of_the_examples_can_be_met_without_holding_gpus(examples):
    assert check(examples) == 3
    assert {n for _, _, n, _, _, _ in waits(examples.result.specs)} == {
        "nightly-backtest",  # CPU only: waits in an init container
        "resnet50-ddp", "wide-deep-train"}  # GPUs: a JobFlow whose first flow waits


GPU_SCHEDULE = {"name": "nightly-finetune", "schedule": "0 1 * * *", "concurrencyPolicy": "Replace",
                "job": {"template": "resnet", "cluster": "gpu-east", "gpuModel": "A100", "datasets": ["imagenet"],
                        "waitForData": {"minCachedPercent": 80}}}


@pytest.mark.parametrize("edits, count", [
    ([("append", "vision.yaml", "schedules", GPU_SCHEDULE)], 4),
    ([("set", "recsys.yaml", "jobs[0].waitForData", {"minCachedPercent": 75, "datasets": ["click-logs"]}),
      ("set", "recsys.yaml", "jobs[0].datasets", ["click-logs", "market-signals"])], 3),
    ([("set", "platform.yaml", "clusters[0].nodePools[3].tenant", None),  # its A100 group shared: caches are
      ("set", "ads-ranking.yaml", "datasets[0].preload.paths", ["/"]),       # never on a resource group
      ("set", "ads-ranking.yaml", "jobs[0].datasets", ["feature-snapshots", "imagenet"]),
      ("set", "ads-ranking.yaml", "jobs[0].waitForData", {"minCachedPercent": 100})], 4),
    ([("set", "quant-research.yaml", "schedules[0].job.waitForData", {"minCachedPercent": 50,
                                                                       "datasets": ["market-data"]}),
      ("set", "quant-research.yaml", "schedules[0].job.template", "tf-parameter-server"),
      ("set", "quant-research.yaml", "schedules[0].job.gpuModel", "A10"),
      ("set", "quant-research.yaml", "quota.gpu", {"A10": 8}),
      ("set", "quant-research.yaml", "schedules[0].job.roles",
       [{"name": "ps", "image": "registry.example.com/ml/quant/backtest:3.2"},
        {"name": "chief", "image": "registry.example.com/ml/quant/backtest:3.2"},
        {"name": "worker", "image": "registry.example.com/ml/quant/backtest:3.2", "replicas": 2}])], 3),
], ids=["scheduled GPU job that waits", "waits for one of two datasets", "MPI job waiting for JuiceFS and a global",
        "scheduled tensorflow job on A10s"])
def test_every_wait_of_generated_variants_can_be_met_without_holding_gpus(temp_repo, edits, count):
    for op, file, path, value in edits:
        getattr(temp_repo, op)(file, path, value)
    assert check(temp_repo.compile()) == count


def test_the_oracle_catches_a_gpu_gang_waiting_in_an_init_container(examples):
    """The shape before the fix: a GPU Volcano Job whose pods wait in an init container."""
    import copy

    broken = copy.deepcopy(dict(examples.objects))
    flow = broken.pop("gpu-east/vision/jobflow.flow.volcano.sh-resnet50-ddp.yaml")
    gate = broken.pop("gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp-data.yaml")
    job = broken.pop("gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml")
    wait = gate["spec"]["tasks"][0]["template"]["spec"]["containers"][0]
    for task in job["spec"]["tasks"]:
        task["template"]["spec"]["initContainers"].append(wait)
    broken["gpu-east/vision/job.batch.volcano.sh-resnet50-ddp.yaml"] = {**job, "apiVersion": VOLCANO_BATCH,
                                                                        "kind": "Job"}
    assert flow and not [p for p in broken if "jobflow" in p and "resnet50" in p]

    class Broken:
        objects = broken
        result = examples.result

    with pytest.raises(AssertionError, match="requests GPUs before"):
        check(Broken)
