"""Volcano workloads: Jobs, CronJobs, JobFlow pipelines with their JobTemplates, and
published templates. Every task's pod gets the agent sidecar and, when the job reads cached
data, an init container that waits until the datasets are warm."""
from __future__ import annotations

from compiler import delivery
from compiler.agent.contract import STATUS_DIR
from compiler.kinds import JOB_LABEL, PIPELINE_LABEL, TASK_LABEL
from compiler.plan import ResolvedJob, ResolvedPipeline, ResolvedRole, ResolvedSchedule
from compiler.render.context import TenantContext
from compiler.render.placement import pod_placement
from compiler.render.pods import AGENT_SERVICE_ACCOUNT, STATUS_VOLUME, agent_sidecar, resources, wait_for_data
from compiler.render.volumes import PROJECT_PATH, PodVolumes

VOLCANO_BATCH = "batch.volcano.sh/v1alpha1"
VOLCANO_FLOW = "flow.volcano.sh/v1alpha1"
JOB_TEMPLATE = ("flow.volcano.sh", "JobTemplate")


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


def job_spec(ctx: TenantContext, job: ResolvedJob, holder: tuple[str, str] = ("batch.volcano.sh", "Job")) -> dict:
    """A Volcano job spec, for a Job or inside `holder` (group, kind): a CronJob's job template
    or a JobTemplate. The ttl is drawn only where compiler.delivery allows it (a finished job
    deleted by Volcano must not be re-created, and so run again, by whatever made it)."""
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
    if job.ttl is not None and delivery.finished_ttl_allowed(*holder):
        spec[delivery.FINISHED_TTL_FIELD] = job.ttl
    if job.priority_class:
        spec["priorityClassName"] = job.priority_class
    return spec


def _task(ctx: TenantContext, job: ResolvedJob, role: ResolvedRole) -> dict:
    volumes = PodVolumes().empty_dir(STATUS_VOLUME, STATUS_DIR).datasets(job.datasets)
    volumes.claim("project", job.project_claim, PROJECT_PATH)
    main: dict = {"name": role.name, "image": role.image,
                  "resources": resources(role.cpu, role.memory, role.gpu, job.gpu_resource),
                  "volumeMounts": volumes.mounts}
    if role.command:
        main["command"] = list(role.command)
    if role.args:
        main["args"] = list(role.args)
    if role.env:
        main["env"] = [{"name": k, "value": v} for k, v in sorted(role.env.items())]
    if role.ports:
        main["ports"] = [{"containerPort": p} for p in role.ports]
    init = [agent_sidecar(ctx.platform.agent_image, job.name, role.name)]
    if job.wait_percent and job.datasets:
        init.append(wait_for_data(ctx.platform.agent_image, job.dataset_names, ctx.namespace, job.wait_percent))
    pod_spec = {
        "serviceAccountName": AGENT_SERVICE_ACCOUNT,
        "restartPolicy": "OnFailure",
        "initContainers": init,
        "containers": [main],
        "volumes": volumes.volumes,
        **pod_placement(ctx.cluster, role.pool, job.gpu_model if role.pool == "gpu" else None),
    }
    task: dict = {"name": role.name, "replicas": role.replicas,
                  "template": {"metadata": {"labels": {JOB_LABEL: job.name, TASK_LABEL: role.name}},
                               "spec": pod_spec}}
    if job.framework == "mpi" and role.name == "launcher":
        task["policies"] = [{"event": "TaskCompleted", "action": "CompleteJob"}]
    return task


def render(ctx: TenantContext) -> list[dict]:
    """The unit's jobs, schedules, pipelines and published templates, as the plan resolved them."""
    unit = ctx.workloads
    objects = [ctx.obj(VOLCANO_BATCH, "Job", job.name, labels={JOB_LABEL: job.name}, spec=job_spec(ctx, job))
               for job in unit.jobs]
    objects += [_cron_job(ctx, schedule) for schedule in unit.schedules]
    for pipeline in unit.pipelines:
        objects += _pipeline(ctx, pipeline)
    objects += [ctx.obj(VOLCANO_FLOW, "JobTemplate", f"tpl-{job.name}", spec=job_spec(ctx, job, JOB_TEMPLATE))
                for job in unit.templates]
    return objects


def _cron_job(ctx: TenantContext, schedule: ResolvedSchedule) -> dict:
    timing = schedule.spec
    spec: dict = {
        "schedule": timing.schedule, "concurrencyPolicy": timing.concurrency_policy,
        "successfulJobsHistoryLimit": timing.successful_history,
        "failedJobsHistoryLimit": timing.failed_history,
        "jobTemplate": {"metadata": {"labels": {JOB_LABEL: timing.name}},
                        "spec": job_spec(ctx, schedule.job, ("batch.volcano.sh", "CronJob"))},
    }
    if timing.time_zone:
        spec["timeZone"] = timing.time_zone
    return ctx.obj(VOLCANO_BATCH, "CronJob", timing.name, spec=spec)


def _pipeline(ctx: TenantContext, pipeline: ResolvedPipeline) -> list[dict]:
    """A JobTemplate per step and the JobFlow running them in dependency order."""
    objects, flows = [], []
    for step in pipeline.steps:
        objects.append(ctx.obj(VOLCANO_FLOW, "JobTemplate", step.name, labels={PIPELINE_LABEL: pipeline.name},
                               spec=job_spec(ctx, step.job, JOB_TEMPLATE)))
        flow: dict = {"name": step.name}
        if step.depends_on:
            flow["dependsOn"] = {"targets": list(step.depends_on)}
        flows.append(flow)
    objects.append(ctx.obj(VOLCANO_FLOW, "JobFlow", pipeline.name, spec={"jobRetainPolicy": "retain", "flows": flows}))
    return objects
