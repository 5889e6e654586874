"""Personal notebooks: a StatefulSet with home, project and dataset volumes, a Service, an
optional Ingress, and with it (if the tenant allows the ingress gateway in) a NetworkPolicy
letting the ingress namespace reach the notebook's port."""
from __future__ import annotations

from compiler.kinds import NOTEBOOK_LABEL, USER_LABEL
from compiler.plan import ResolvedNotebook
from compiler.render.context import TenantContext
from compiler.render.gateway import through_gateway
from compiler.render.namespace import WORKLOAD_SERVICE_ACCOUNT
from compiler.render.placement import pod_placement
from compiler.render.pods import resources
from compiler.render.volumes import HOME_PATH, PROJECT_PATH, PodVolumes

PORT = 8888


def render(ctx: TenantContext) -> list[dict]:
    return [obj for nb in ctx.workloads.notebooks for obj in _notebook(ctx, nb)]


def _notebook(ctx: TenantContext, nb: ResolvedNotebook) -> list[dict]:
    name = f"nb-{nb.key}"
    selector = {NOTEBOOK_LABEL: nb.key}
    labels = {**selector, USER_LABEL: nb.handle}
    volumes = PodVolumes().claim("home", nb.home_claim, HOME_PATH).claim("project", nb.project_claim, PROJECT_PATH)
    volumes.datasets(nb.datasets, nb.gpu_model if nb.pool == "gpu" else None)
    container = {
        "name": "notebook", "image": nb.image,
        "ports": [{"name": "http", "containerPort": PORT}],
        "resources": resources(nb.cpu, nb.memory, nb.gpu, nb.gpu_resource),
        "volumeMounts": volumes.mounts,
    }
    pod_spec = {"containers": [container], "volumes": volumes.volumes, "serviceAccountName": WORKLOAD_SERVICE_ACCOUNT,
                **pod_placement(ctx.cluster, nb.pool, nb.gpu_model, ctx.tenant.name)}
    objects = [
        ctx.obj("apps/v1", "StatefulSet", name, labels=labels, spec={
            "replicas": 1 if nb.running else 0, "serviceName": name, "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}),
        ctx.obj("v1", "Service", name, labels=labels, spec={
            "selector": selector, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}),
    ]
    if nb.ingress_host is not None:
        objects += through_gateway(ctx, name, labels, selector, nb.ingress_host, nb.ingress_class, PORT,
                                   annotations=dict(nb.ingress_annotations))  # authentication (plan/notebook_auth.py)
    return objects
