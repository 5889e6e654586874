"""Volcano workloads: Jobs, CronJobs, JobFlow pipelines with their JobTemplates, and
published templates. Every task's pod gets the agent sidecar and, when the job reads cached
data, an init container that waits until the datasets are warm."""
from __future__ import annotations

from compiler.agent.contract import STATUS_DIR
from compiler.kinds import JOB_LABEL, PIPELINE_LABEL, TASK_LABEL
from compiler.plan.workloads import ResolvedJob, ResolvedRole
from compiler.render.context import TenantContext
from compiler.render.pods import (
    AGENT_SERVICE_ACCOUNT,
    STATUS_VOLUME,
    agent_sidecar,
    claim_volume,
    placement,
    resources,
    wait_for_data,
)
from compiler.render.storage import PROJECT_CLAIM

VOLCANO_BATCH = "batch.volcano.sh/v1alpha1"
VOLCANO_FLOW = "flow.volcano.sh/v1alpha1"


def plugins(job: ResolvedJob) -> dict:
    """Framework -> Volcano plugins: they set up hosts, env (MASTER_ADDR, TF_CONFIG) and ssh."""
    roles = {r.name for r in job.roles}
    if job.framework == "pytorch":
        return {"pytorch": ["--master=master", "--worker=worker", "--port=23456"], "svc": []}
    if job.framework == "tensorflow":
        args = [f"--{r}={r}" for r in ("ps", "worker", "chief", "evaluator") if r in roles]
        return {"tensorflow": args + ["--port=2222"], "svc": []}
    if job.framework == "mpi":
        return {"mpi": ["--master=launcher", "--worker=worker", "--port=22"], "ssh": [], "svc": []}
    return {"svc": []}


def job_spec(ctx: TenantContext, job: ResolvedJob) -> dict:
    spec: dict = {
        "schedulerName": "volcano",
        "queue": ctx.tenant.name,
        "minAvailable": job.min_available,
        "plugins": plugins(job),
        # A preempted or evicted pod restarts the whole gang: a half-gang makes no progress.
        "policies": [{"event": "PodEvicted", "action": "RestartJob"}],
        "tasks": [_task(ctx, job, role) for role in job.roles],
    }
    if job.max_retry is not None:
        spec["maxRetry"] = job.max_retry
    if job.ttl is not None:
        spec["ttlSecondsAfterFinished"] = job.ttl
    if job.priority_class:
        spec["priorityClassName"] = job.priority_class
    return spec


def _task(ctx: TenantContext, job: ResolvedJob, role: ResolvedRole) -> dict:
    main: dict = {"name": role.name, "image": role.image,
                  "resources": resources(role.cpu, role.memory, role.gpu, job.gpu_resource),
                  "volumeMounts": [{"name": STATUS_VOLUME, "mountPath": STATUS_DIR}]}
    if role.command:
        main["command"] = list(role.command)
    if role.args:
        main["args"] = list(role.args)
    if role.env:
        main["env"] = [{"name": k, "value": v} for k, v in sorted(role.env.items())]
    if role.ports:
        main["ports"] = [{"containerPort": p} for p in role.ports]
    volumes = [{"name": STATUS_VOLUME, "emptyDir": {}}]
    datasets = {p.local_name: p for p in ctx.plan.workloads.datasets.get((ctx.tenant.name, ctx.cluster.name), [])}
    for ds in job.datasets:
        writable = datasets[ds].writable
        main["volumeMounts"].append({"name": f"data-{ds}", "mountPath": f"/data/{ds}",
                                     **({} if writable else {"readOnly": True})})
        volumes.append(claim_volume(f"data-{ds}", ds, read_only=not writable))
    if "project" in job.volumes:
        main["volumeMounts"].append({"name": "project", "mountPath": "/project"})
        volumes.append(claim_volume("project", PROJECT_CLAIM))
    init = [agent_sidecar(ctx.platform.agent_image, job.name, role.name)]
    if job.wait_percent and job.datasets:
        init.append(wait_for_data(ctx.platform.agent_image, job.datasets, ctx.namespace, job.wait_percent))
    pod_spec = {
        "serviceAccountName": AGENT_SERVICE_ACCOUNT,
        "restartPolicy": "OnFailure",
        "initContainers": init,
        "containers": [main],
        "volumes": volumes,
        **placement(ctx.cluster, role.pool, job.gpu_model if role.pool == "gpu" else None),
    }
    task: dict = {"name": role.name, "replicas": role.replicas,
                  "template": {"metadata": {"labels": {JOB_LABEL: job.name, TASK_LABEL: role.name}},
                               "spec": pod_spec}}
    if job.framework == "mpi" and role.name == "launcher":
        task["policies"] = [{"event": "TaskCompleted", "action": "CompleteJob"}]
    return task


def render(ctx: TenantContext) -> list[dict]:
    resolved = ctx.plan.workloads.resolved
    tenant, cluster = ctx.tenant.name, ctx.cluster.name
    objects: list[dict] = []
    for job in ctx.tenant.jobs:
        r = resolved.get((tenant, "job", job.name))
        if r and r.cluster == cluster:
            objects.append(ctx.obj(VOLCANO_BATCH, "Job", job.name, labels={JOB_LABEL: job.name}, spec=job_spec(ctx, r)))
    for schedule in ctx.tenant.schedules:
        r = resolved.get((tenant, "schedule", schedule.name))
        if r and r.cluster == cluster:
            spec: dict = {
                "schedule": schedule.schedule, "concurrencyPolicy": schedule.concurrency_policy,
                "successfulJobsHistoryLimit": schedule.successful_history,
                "failedJobsHistoryLimit": schedule.failed_history,
                "jobTemplate": {"metadata": {"labels": {JOB_LABEL: schedule.name}}, "spec": job_spec(ctx, r)},
            }
            if schedule.time_zone:
                spec["timeZone"] = schedule.time_zone
            objects.append(ctx.obj(VOLCANO_BATCH, "CronJob", schedule.name, spec=spec))
    for pipeline in ctx.tenant.pipelines:
        if pipeline.cluster != cluster:
            continue
        flows = []
        for step in pipeline.steps:
            r = resolved.get((tenant, "step", f"{pipeline.name}/{step.name}"))
            name = f"{pipeline.name}-{step.name}"
            if r:
                objects.append(ctx.obj(VOLCANO_FLOW, "JobTemplate", name, labels={PIPELINE_LABEL: pipeline.name},
                                       spec=job_spec(ctx, r)))
            flow: dict = {"name": name}
            if step.depends_on:
                flow["dependsOn"] = {"targets": [f"{pipeline.name}-{d}" for d in step.depends_on]}
            flows.append(flow)
        objects.append(ctx.obj(VOLCANO_FLOW, "JobFlow", pipeline.name,
                               spec={"jobRetainPolicy": "retain", "flows": flows}))
    for template in ctx.tenant.templates:
        r = resolved.get((tenant, "template", f"{template.name}@{cluster}"))
        if r:
            objects.append(ctx.obj(VOLCANO_FLOW, "JobTemplate", f"tpl-{template.name}", spec=job_spec(ctx, r)))
    return objects
