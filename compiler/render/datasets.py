"""Fluid datasets: Dataset + cache runtime (same name and namespace, as Fluid requires),
preload DataLoads, scheduled cache scaling, and Datasets that reference shared ones."""
from __future__ import annotations

from compiler.agent.contract import scale_runtime_argv
from compiler.agent.permissions import rules_for
from compiler.kinds import DATASET_CLAIM_ANNOTATION, IMPORTED_FROM_LABEL
from compiler.model.data import Dataset
from compiler.plan.workloads import DATASET_CLAIM_SIZE, DatasetPlacement
from compiler.render.context import TenantContext
from compiler.render.pods import agent_container, placement, pools_for, tolerations_for

FLUID = "data.fluid.io/v1alpha1"
RUNTIME_KINDS = {"jindo": "JindoRuntime", "alluxio": "AlluxioRuntime", "juicefs": "JuiceFSRuntime", "thin": "ThinRuntime"}


def runtime_resource(kind: str) -> str:
    return kind.lower() + "s"


def render(ctx: TenantContext) -> list[dict]:
    objects: list[dict] = []
    for placed in ctx.plan.workloads.datasets.get((ctx.tenant.name, ctx.cluster.name), []):
        if placed.own is not None:
            objects += _own(ctx, placed.own)
        else:
            objects.append(_reference(ctx, placed))
    return objects


def _access_modes(writable: bool) -> list[str]:
    return ["ReadWriteMany"] if writable else ["ReadOnlyMany"]


def _dataset(ctx: TenantContext, name: str, spec: dict, labels: dict | None = None) -> dict:
    """A Dataset whose Fluid-made PVC asks for a nominal size (Fluid's default, 100Pi, would
    exceed every storage quota); plan.workloads.check_storage counts it."""
    obj = ctx.obj(FLUID, "Dataset", name, labels=labels, spec=spec)
    obj["metadata"]["annotations"][DATASET_CLAIM_ANNOTATION] = DATASET_CLAIM_SIZE
    return obj


def _own(ctx: TenantContext, ds: Dataset) -> list[dict]:
    cache_pools = pools_for(ctx.cluster, "cache")
    mounts = []
    for mount in ds.mounts:
        entry: dict = {"mountPoint": mount.uri, "name": mount.name or ds.name, "readOnly": ds.read_only}
        if mount.path:
            entry["path"] = mount.path
        if mount.options:
            entry["options"] = dict(sorted(mount.options.items()))
        if mount.secrets:  # Secret references by name only: values never pass through tenantc
            entry["encryptOptions"] = [
                {"name": option, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
                for option, ref in sorted(mount.secrets.items())]
        mounts.append(entry)
    spec: dict = {"mounts": mounts, "accessModes": _access_modes(not ds.read_only)}
    labels = [p.labels for p in cache_pools if p.labels]
    if labels:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(lab.items())]}
            for lab in labels]}}
    tolerations = tolerations_for(cache_pools)
    if tolerations:
        spec["tolerations"] = tolerations
    kind = RUNTIME_KINDS[ds.runtime.type]
    runtime_spec: dict = {"replicas": ds.runtime.replicas}
    if ds.runtime.tiers:
        runtime_spec["tieredstore"] = {"levels": [
            {"mediumtype": t.medium, "path": t.path, "quota": t.quota.canonical()} for t in ds.runtime.tiers]}
    if ds.runtime.profile:
        runtime_spec["profileName"] = ds.runtime.profile
    if labels:
        runtime_spec["worker"] = {"nodeSelector": dict(sorted(labels[0].items()))}
    objects = [_dataset(ctx, ds.name, spec), ctx.obj(FLUID, kind, ds.name, spec=runtime_spec)]
    if ds.preload is not None:
        load: dict = {"dataset": {"name": ds.name, "namespace": ctx.namespace},
                      "loadMetadata": ds.preload.load_metadata,
                      "target": [{"path": p} for p in ds.preload.paths]}
        if ds.preload.schedule:
            load.update(policy="Cron", schedule=ds.preload.schedule)
        else:
            load["policy"] = "Once"
        objects.append(ctx.obj(FLUID, "DataLoad", f"{ds.name}-preload", spec=load))
    if ds.scaling:
        objects += _scaler(ctx, ds, kind)
    return objects


def _scaler(ctx: TenantContext, ds: Dataset, kind: str) -> list[dict]:
    """CronJobs that resize the cache, with an account that may patch only this runtime."""
    account = f"{ds.name}-scaler"
    rules = [{**rule, "resources": [runtime_resource(kind)], "resourceNames": [ds.name]}
             for rule in rules_for("scale-runtime")]
    objects = [
        ctx.obj("v1", "ServiceAccount", account),
        ctx.obj("rbac.authorization.k8s.io/v1", "Role", account, rules=rules),
        ctx.obj("rbac.authorization.k8s.io/v1", "RoleBinding", account,
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
                subjects=[{"kind": "ServiceAccount", "name": account, "namespace": ctx.namespace}]),
    ]
    for i, step in enumerate(ds.scaling):
        container = agent_container("scale", ctx.platform.agent_image,
                                    scale_runtime_argv(kind, ds.name, ctx.namespace, step.replicas))
        objects.append(ctx.obj("batch/v1", "CronJob", f"{ds.name}-scale-{i}", spec={
            "schedule": step.schedule,
            "concurrencyPolicy": "Replace",
            "jobTemplate": {"spec": {"backoffLimit": 3, "template": {"spec": {
                "serviceAccountName": account, "restartPolicy": "OnFailure", "containers": [container],
                **placement(ctx.cluster, "cpu")}}}},
        }))
    return objects


def _reference(ctx: TenantContext, placed: DatasetPlacement) -> dict:
    """An imported dataset: a Dataset pointing at the owner's (Fluid dataset sharing)."""
    owner, name = placed.origin  # type: ignore[misc]
    return _dataset(ctx, placed.local_name,
                    labels={IMPORTED_FROM_LABEL: f"{owner}.{name}"[:63].rstrip("-.")},  # ends alphanumeric
                    spec={"mounts": [{"mountPoint": f"dataset://{owner}/{name}", "name": placed.local_name,
                                      "readOnly": not placed.writable}],
                          "accessModes": _access_modes(placed.writable)})
