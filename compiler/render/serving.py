"""Model servings: a Deployment with readiness and liveness probes, a Service, a
HorizontalPodAutoscaler (autoscaling/v2) between min and max replicas on CPU use, a
PodDisruptionBudget, and optionally an Ingress through the platform's gateway.

The Deployment has no `spec.replicas`: the HPA owns it. Kubernetes' HPA documentation
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling)
says to remove it from the manifest, since every apply of a value would scale the Deployment
back to it. Without it a new Deployment starts at 1 replica (the API default) and the HPA
raises it to minReplicas at once. compiler.delivery also lists the field as a run-time field,
so Argo CD ignores it (ignoreDifferences) and `tenantc apply` never sends it.
"""
from __future__ import annotations

from compiler.kinds import SERVING_LABEL
from compiler.plan import ResolvedServing
from compiler.plan.serving import SERVER, ResolvedProbe
from compiler.render.context import TenantContext
from compiler.render.gateway import through_gateway
from compiler.render.namespace import WORKLOAD_SERVICE_ACCOUNT
from compiler.render.placement import pod_placement
from compiler.render.pods import container_env, extra_containers, extra_volumes, pull_secrets, resources
from compiler.render.volumes import PROJECT_PATH, PodVolumes

HTTP = "http"


def render(ctx: TenantContext) -> list[dict]:
    return [obj for serving in ctx.workloads.servings for obj in _serving(ctx, serving)]


def _probe(probe: ResolvedProbe) -> dict:
    return {"httpGet": {"path": probe.path, "port": HTTP}, "initialDelaySeconds": probe.initial_delay_seconds,
            "periodSeconds": probe.period_seconds, "failureThreshold": probe.failure_threshold}


def _pod_spec(ctx: TenantContext, s: ResolvedServing) -> dict:
    volumes = PodVolumes().datasets(s.datasets, s.gpu_model if s.pool == "gpu" else None)
    extra_volumes(volumes.claim("project", s.project_claim, PROJECT_PATH), s.pod)
    container: dict = {"name": SERVER, "image": s.image}
    if s.command:
        container["command"] = list(s.command)
    if s.args:
        container["args"] = list(s.args)
    container.update({
        "ports": [{"name": HTTP, "containerPort": s.port}],
        "resources": resources(s.cpu, s.memory, s.gpu, s.gpu_resource),
        "readinessProbe": _probe(s.readiness), "livenessProbe": _probe(s.liveness),
    })
    env = container_env(s.env, s.pod.env_refs)
    if env:
        container["env"] = env
    if volumes.mounts:
        container["volumeMounts"] = volumes.mounts
    pod: dict = {"serviceAccountName": WORKLOAD_SERVICE_ACCOUNT}
    init = extra_containers(s.pod, volumes)  # native sidecars start before, and run beside, the server
    if init:
        pod["initContainers"] = init
    pod["containers"] = [container]
    if volumes.volumes:
        pod["volumes"] = volumes.volumes
    return {**pod, **pod_placement(ctx.cluster, s.pool, s.gpu_model), **pull_secrets(s.pod)}


def _serving(ctx: TenantContext, s: ResolvedServing) -> list[dict]:
    selector = {SERVING_LABEL: s.name}
    objects = [
        ctx.obj("apps/v1", "Deployment", s.name, labels=selector, spec={
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(selector)}, "spec": _pod_spec(ctx, s)}}),
        ctx.obj("v1", "Service", s.name, labels=selector, spec={
            "selector": dict(selector), "ports": [{"name": HTTP, "port": s.port, "targetPort": HTTP}]}),
        ctx.obj("autoscaling/v2", "HorizontalPodAutoscaler", s.name, labels=selector, spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": s.name},
            "minReplicas": s.min_replicas, "maxReplicas": s.max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": s.target_cpu_utilization}}}]}),
        ctx.obj("policy/v1", "PodDisruptionBudget", s.name, labels=selector, spec={
            "maxUnavailable": s.max_unavailable, "selector": {"matchLabels": dict(selector)}}),
    ]
    if s.ingress_host is not None:
        objects += through_gateway(ctx, s.name, selector, selector, s.ingress_host, s.ingress_class, s.port)
    return objects
