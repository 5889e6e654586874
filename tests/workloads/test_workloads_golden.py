"""Golden files: one representative rendered file per kind of the workloads and data layer.

Regenerate with TENANTC_UPDATE_GOLDEN=1, then read every changed golden against the upstream
CRDs in ../shared/crds before committing it.

Checked by hand when step and serving pod extras came (issue 16): the detector-daily train
step's pods mount a 32Gi Memory emptyDir at /dev/shm (within each pod's 64Gi); its preprocess
step runs the platform's krb5-renewer as a native sidecar after the agent's (restartPolicy
Always, 50m/64Mi, the krb5-keytab Secret mounted in it only, the krb5-cache emptyDir shared
with the worker at /var/run/krb5); ctr's Deployment runs the same sidecar beside the server
with KRB5CCNAME set; ranker's takes MODEL_HUB_TOKEN from Secret model-hub, mounts ConfigMap
ranker-config read-only at /etc/ranker and 2Gi of /dev/shm, and pulls with recsys-registry.
When pipelines came to give their steps extras: the train step's master and worker take
TRACKING_TOKEN from Secret tracking (key token), their pipeline's envRefs; preprocess, which
sets envRefs: [], takes none.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TENANTC_UPDATE_GOLDEN") == "1"

# kind -> a rendered file of the examples that shows it
GOLDEN = {
    "Dataset (own, OSS with Secret refs)": "cpu-west/quant-research/dataset.data.fluid.io-market-data.yaml",
    "Dataset (imported, dataset://)": "cpu-west/recsys/dataset.data.fluid.io-market-signals.yaml",
    "Dataset (cache on a GPU model's pools)": "gpu-east/ml-platform/dataset.data.fluid.io-imagenet-a100.yaml",
    "Dataset (imported GPU model's cache)": "gpu-east/vision/dataset.data.fluid.io-imagenet-a100.yaml",
    "JindoRuntime": "cpu-west/quant-research/jindoruntime.data.fluid.io-market-data.yaml",
    "AlluxioRuntime": "gpu-east/ml-platform/alluxioruntime.data.fluid.io-imagenet.yaml",
    "JuiceFSRuntime": "gpu-east/ads-ranking/juicefsruntime.data.fluid.io-feature-snapshots.yaml",
    "ThinRuntime": "cpu-west/quant-research/thinruntime.data.fluid.io-backtest-results.yaml",
    "DataLoad Once": "gpu-east/ml-platform/dataload.data.fluid.io-imagenet-preload.yaml",
    "DataLoad Once (with a schedule)": "cpu-west/quant-research/dataload.data.fluid.io-market-data-preload.yaml",
    "DataLoad Cron": "cpu-west/quant-research/dataload.data.fluid.io-market-data-refresh.yaml",
    "CronJob (cache scaler)": "cpu-west/quant-research/cronjob-market-data-scale-0.yaml",
    "ServiceAccount (scaler)": "cpu-west/quant-research/serviceaccount-market-data-scaler.yaml",
    "Role (scaler)": "cpu-west/quant-research/role-market-data-scaler.yaml",
    "RoleBinding (scaler)": "cpu-west/quant-research/rolebinding-market-data-scaler.yaml",
    "ServiceAccount (agent)": "cpu-west/recsys/serviceaccount-tenantc-agent.yaml",
    "Role (agent)": "cpu-west/recsys/role-tenantc-agent.yaml",
    "RoleBinding (agent)": "cpu-west/recsys/rolebinding-tenantc-agent.yaml",
    "PersistentVolumeClaim (home)": "gpu-east/vision/persistentvolumeclaim-home-mei.yaml",
    "PersistentVolumeClaim (project)": "gpu-east/vision/persistentvolumeclaim-project.yaml",
    "StatefulSet (notebook)": "gpu-east/vision/statefulset-nb-mei.yaml",
    "Service (notebook)": "gpu-east/vision/service-nb-mei.yaml",
    "Ingress (notebook)": "gpu-east/vision/ingress-nb-mei.yaml",
    "NetworkPolicy (notebook)": "gpu-east/vision/networkpolicy-nb-mei-from-ingress.yaml",
    "Volcano Job (mpi)": "gpu-east/ads-ranking/job.batch.volcano.sh-ctr-horovod.yaml",
    "Volcano CronJob": "cpu-west/quant-research/cronjob.batch.volcano.sh-nightly-backtest.yaml",
    "JobTemplate (pytorch job behind its data gate)": "gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml",
    "JobTemplate (tensorflow job behind its data gate)":
        "cpu-west/recsys/jobtemplate.flow.volcano.sh-wide-deep-train.yaml",
    "JobTemplate (data gate)": "gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp-data.yaml",
    "JobFlow (data gate, then the job)": "gpu-east/vision/jobflow.flow.volcano.sh-resnet50-ddp.yaml",
    "JobTemplate (pipeline step)": "gpu-east/vision/jobtemplate.flow.volcano.sh-detector-daily-train.yaml",
    "JobTemplate (pipeline step with a platform sidecar)":
        "gpu-east/vision/jobtemplate.flow.volcano.sh-detector-daily-preprocess.yaml",
    "CronJob (scheduled pipeline)": "gpu-east/vision/cronjob-detector-daily.yaml",
    "Deployment (TF Serving, CPU)": "cpu-west/ads-ranking/deployment-ctr.yaml",
    "Deployment (generic server, A10 GPU)": "cpu-west/recsys/deployment-ranker.yaml",
    "Service (serving)": "cpu-west/ads-ranking/service-ctr.yaml",
    "HorizontalPodAutoscaler (serving)": "cpu-west/ads-ranking/horizontalpodautoscaler-ctr.yaml",
    "PodDisruptionBudget (serving)": "cpu-west/ads-ranking/poddisruptionbudget-ctr.yaml",
    "Ingress (serving)": "cpu-west/ads-ranking/ingress-ctr.yaml",
    "NetworkPolicy (serving)": "cpu-west/ads-ranking/networkpolicy-ctr-from-ingress.yaml",
    "Role (flow runner)": "gpu-east/vision/role-tenantc-flow-runner.yaml",
    "JobTemplate (published template)": "gpu-east/vision/jobtemplate.flow.volcano.sh-tpl-resnet.yaml",
    # projects (issue 16): recsys's ranking project, its queue under recsys's, recsys's own leaf queue
    "Namespace (project)": "cpu-west/recsys/namespace-recsys-ranking.yaml",
    "Queue (project, child of the tenant's)": "cpu-west/recsys/queue.scheduling.volcano.sh-recsys-ranking.yaml",
    "Queue (the tenant namespace's leaf)": "cpu-west/recsys/queue.scheduling.volcano.sh-recsys-default.yaml",
    "ResourceQuota (project's part)": "cpu-west/recsys/project-ranking.resourcequota-tenant-quota.yaml",
    "RoleBinding (project members and the tenant's admins)":
        "cpu-west/recsys/project-ranking.rolebinding-members-admin.yaml",
    "NetworkPolicy (a tenant's namespaces)":
        "cpu-west/recsys/project-ranking.networkpolicy-allow-tenant-namespaces.yaml",
    "NetworkPolicy (ingress from a peer's namespaces)": "cpu-west/recsys/networkpolicy-allow-from-tenants.yaml",
}


@pytest.mark.parametrize("path", list(GOLDEN.values()), ids=list(GOLDEN))
def test_rendered_file_matches_golden(examples, path):
    """The rendered bytes equal the reviewed golden file."""
    golden = GOLDEN_DIR / path
    rendered = examples.result.files[path]
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered)
    assert golden.is_file(), f"no golden for {path}; run with TENANTC_UPDATE_GOLDEN=1 and review it"
    assert rendered == golden.read_bytes(), f"{path} differs from its golden file"


def test_golden_dir_has_no_strays():
    """Every golden file is one the table above checks (no stale goldens left behind)."""
    on_disk = {str(p.relative_to(GOLDEN_DIR)) for p in GOLDEN_DIR.rglob("*.yaml")}
    assert on_disk == set(GOLDEN.values())


def test_golden_covers_every_workload_kind(examples):
    """Each kind this layer renders in the examples has a golden file."""
    layer = {"Dataset", "JindoRuntime", "AlluxioRuntime", "JuiceFSRuntime", "ThinRuntime", "DataLoad",
             "PersistentVolumeClaim", "StatefulSet", "Service", "Ingress", "Job", "JobFlow", "JobTemplate"}
    rendered = {(o["apiVersion"], o["kind"]) for o in examples.objects.values() if o["kind"] in layer}
    covered = {(examples[p]["apiVersion"], examples[p]["kind"]) for p in GOLDEN.values()}
    assert rendered <= covered, f"kinds without a golden: {sorted(rendered - covered)}"
