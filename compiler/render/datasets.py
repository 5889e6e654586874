"""Fluid datasets: each cache a Dataset + runtime (same name and namespace, as Fluid requires)
placed on the pools the plan chose (its readers' kind of pool), preload DataLoads, scheduled
cache scaling, and Datasets that reference shared ones. What is Fluid's (kinds, resource
names, access modes, the claim size, where caches go and why) is in compiler.fluid."""
from __future__ import annotations

from compiler import fluid
from compiler.agent.contract import SCALE_RUNTIME, scale_runtime_argv
from compiler.agent.permissions import rules_for
from compiler.kinds import IMPORTED_FROM_LABEL
from compiler.model.data import Dataset, Mount
from compiler.plan import CacheSite, DatasetPlacement
from compiler.render.context import TenantContext
from compiler.render.placement import Placement, pod_placement
from compiler.render.pods import agent_container, api_client_labels
from compiler.render.rbac import account


def render(ctx: TenantContext) -> list[dict]:
    objects: list[dict] = []
    for placed in ctx.workloads.datasets:
        if placed.own is not None:
            objects += _own(ctx, placed.own, placed.sites)
        else:
            objects += [_reference(ctx, placed, site) for site in placed.sites]
    return objects


def _dataset(ctx: TenantContext, name: str, spec: dict, labels: dict | None = None) -> dict:
    """A Dataset whose Fluid-made PVC asks for a nominal size (Fluid's default, 100Pi, would
    exceed every storage quota); compiler.plan.storage counts it."""
    obj = ctx.obj(fluid.API_VERSION, "Dataset", name, labels=labels, spec=spec)
    obj["metadata"]["annotations"][fluid.DATASET_CLAIM_ANNOTATION] = fluid.DATASET_CLAIM_SIZE
    return obj


def _own(ctx: TenantContext, ds: Dataset, sites: tuple[CacheSite, ...]) -> list[dict]:
    """Each cache of the dataset (a Dataset whose nodeAffinity and tolerations place the
    runtime's workers on the cache's pools, and the runtime), its preload and its scaling."""
    kind = fluid.runtime_kind(ds.runtime.type)
    objects = []
    for site in sites:
        where = Placement(list(site.pools))
        spec: dict = {"mounts": [_mount(ds, m) for m in ds.mounts],
                      "accessModes": fluid.access_modes(not ds.read_only), **where.dataset_fields()}
        if site.pools:
            spec["placement"] = fluid.CACHE_PLACEMENT
        objects += [_dataset(ctx, site.name, spec), ctx.obj(fluid.API_VERSION, kind, site.name, spec=_runtime_spec(ds))]
        if ds.preload is not None:  # a Once load now, and with a schedule a Cron load (fluid.preload_loads)
            for name, policy in fluid.preload_loads(site.name, ds.preload.schedule):
                load: dict = {"dataset": {"name": site.name, "namespace": ctx.namespace},
                              "loadMetadata": ds.preload.load_metadata,
                              "target": [{"path": p} for p in ds.preload.paths], **policy}
                objects.append(ctx.obj(fluid.API_VERSION, "DataLoad", name, spec=load))
    if ds.scaling:
        objects += _scaler(ctx, ds, kind, [site.name for site in sites])
    return objects


def _mount(ds: Dataset, mount: Mount) -> dict:
    entry: dict = {"mountPoint": mount.uri, "name": mount.name or ds.name, "readOnly": ds.read_only}
    if mount.path:
        entry["path"] = mount.path
    if mount.options:
        entry["options"] = dict(sorted(mount.options.items()))
    if mount.secrets:  # Secret references by name only: values never pass through tenantc
        entry["encryptOptions"] = [
            {"name": option, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
            for option, ref in sorted(mount.secrets.items())]
    return entry


def _runtime_spec(ds: Dataset) -> dict:
    """Replicas, tiers and profile. Where the workers run is the Dataset's nodeAffinity: a
    worker nodeSelector would AND one pool's labels into it."""
    spec: dict = {"replicas": ds.runtime.replicas}
    if ds.runtime.tiers:
        spec["tieredstore"] = {"levels": [
            {"mediumtype": t.medium, "path": t.path, "quota": t.quota.canonical()} for t in ds.runtime.tiers]}
    if ds.runtime.profile:
        spec["profileName"] = ds.runtime.profile
    return spec


def _scaler(ctx: TenantContext, ds: Dataset, kind: str, runtimes: list[str]) -> list[dict]:
    """CronJobs that resize each cache of the dataset, with an account that may patch only
    these runtimes."""
    account_name = f"{ds.name}-scaler"
    rules = [{**rule, "resources": [fluid.runtime_resource(kind)], "resourceNames": list(runtimes)}
             for rule in rules_for(SCALE_RUNTIME)]
    objects = account(ctx, account_name, rules)
    for runtime in runtimes:
        for i, step in enumerate(ds.scaling):
            container = agent_container("scale", ctx.platform.agent_image,
                                        scale_runtime_argv(kind, runtime, ctx.namespace, step.replicas))
            objects.append(ctx.obj("batch/v1", "CronJob", f"{runtime}-scale-{i}", spec={
                "schedule": step.schedule,
                "concurrencyPolicy": "Replace",
                "jobTemplate": {"spec": {"backoffLimit": 3, "template": {
                    "metadata": {"labels": api_client_labels()}, "spec": {
                    "serviceAccountName": account_name, "restartPolicy": "OnFailure", "containers": [container],
                    **pod_placement(ctx.cluster, "cpu")}}}},
            }))
    return objects


def _reference(ctx: TenantContext, placed: DatasetPlacement, site: CacheSite) -> dict:
    """An imported dataset: a Dataset pointing at one of the owner's (Fluid dataset sharing)."""
    assert placed.origin is not None and site.origin is not None
    owner = placed.origin[0]
    return _dataset(ctx, site.name,
                    labels={IMPORTED_FROM_LABEL: f"{owner}.{site.origin}"[:63].rstrip("-.")},  # ends alphanumeric
                    spec={"mounts": [{"mountPoint": fluid.shared_dataset_uri(owner, site.origin), "name": site.name,
                                      "readOnly": not placed.writable}],
                          "accessModes": fluid.access_modes(placed.writable)})
