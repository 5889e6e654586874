"""Personal notebooks: a StatefulSet with home, project and dataset volumes, a Service, an
optional Ingress, and with it (if the tenant allows the ingress gateway in) a NetworkPolicy
letting the ingress namespace reach the notebook's port."""
from __future__ import annotations

from compiler.kinds import NAMESPACE_NAME_LABEL, NOTEBOOK_LABEL, USER_LABEL
from compiler.model.common import user_handle
from compiler.render.context import TenantContext
from compiler.render.pods import claim_volume, placement, resources
from compiler.render.storage import PROJECT_CLAIM, home_claim

PORT = 8888


def render(ctx: TenantContext) -> list[dict]:
    objects: list[dict] = []
    settings = ctx.platform.notebooks
    tenant_clusters = list(ctx.plan.quotas.get(ctx.tenant.name, {}))
    for nb in ctx.tenant.notebooks:
        if (nb.cluster or tenant_clusters[0]) != ctx.cluster.name:
            continue
        size, image = settings.sizes[nb.size], settings.images[nb.image]
        handle = user_handle(nb.user)
        name = f"nb-{handle}"
        selector = {NOTEBOOK_LABEL: handle}
        gpu_model = size.gpu_model or next(iter(sorted(ctx.share.gpu)), None) if size.gpu else None
        gpu = int(size.gpu.value) if size.gpu else 0
        mounts, volumes = [], []
        if ctx.tenant.storage.home is not None and ctx.platform.storage is not None:
            mounts.append({"name": "home", "mountPath": "/home/jovyan"})
            volumes.append(claim_volume("home", home_claim(nb.user)))
        if ctx.tenant.storage.project is not None and ctx.platform.storage is not None:
            mounts.append({"name": "project", "mountPath": "/project"})
            volumes.append(claim_volume("project", PROJECT_CLAIM))
        datasets = {p.local_name: p for p in ctx.plan.workloads.datasets.get((ctx.tenant.name, ctx.cluster.name), [])}
        for ds in nb.datasets:
            writable = datasets[ds].writable
            mounts.append({"name": f"data-{ds}", "mountPath": f"/data/{ds}", **({} if writable else {"readOnly": True})})
            volumes.append(claim_volume(f"data-{ds}", ds, read_only=not writable))
        container = {
            "name": "notebook", "image": image,
            "ports": [{"name": "http", "containerPort": PORT}],
            "resources": resources(size.cpu.value, size.memory.value, gpu,
                                   ctx.cluster.gpu_models().get(gpu_model or "", "nvidia.com/gpu")),
            "volumeMounts": mounts,
        }
        pod_spec = {"containers": [container], "volumes": volumes, "serviceAccountName": "workloads",
                    **placement(ctx.cluster, "gpu" if gpu else "cpu", gpu_model)}
        labels = {**selector, USER_LABEL: handle}
        objects.append(ctx.obj("apps/v1", "StatefulSet", name, labels=labels, spec={
            "replicas": 1, "serviceName": name, "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}))
        objects.append(ctx.obj("v1", "Service", name, labels=labels, spec={
            "selector": selector, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}))
        if nb.ingress:
            host = settings.ingress_host.format(user=handle, tenant=ctx.tenant.name)
            ingress_spec: dict = {"rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": PORT}}}}]}}]}
            if settings.ingress_class:
                ingress_spec["ingressClassName"] = settings.ingress_class
            objects.append(ctx.obj("networking.k8s.io/v1", "Ingress", name, labels=labels, spec=ingress_spec))
        if nb.ingress and ctx.tenant.network.allow_from_ingress:  # the gateway comes in only through the Ingress
            objects.append(ctx.obj("networking.k8s.io/v1", "NetworkPolicy", f"{name}-from-ingress", spec={
                "podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                    NAMESPACE_NAME_LABEL: ctx.platform.ingress_namespace}}}],
                    "ports": [{"port": PORT, "protocol": "TCP"}]}]}))
    return objects

