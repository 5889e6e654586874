"""Volcano workloads: Jobs, CronJobs, JobFlows (pipelines, and jobs that wait for data before
taking GPUs) with their JobTemplates, the CronJobs that start scheduled JobFlows, and
published templates. Every task's pod gets the agent sidecar; a CPU-only job that waits for
data waits in an init container, a GPU job behind the CPU-only first flow of its JobFlow
(compiler.plan.datagate says why)."""
from __future__ import annotations

from compiler import delivery
from compiler.agent.contract import RUN_FLOW, STATUS_DIR
from compiler.agent.permissions import rules_for
from compiler.kinds import JOB_LABEL, PIPELINE_LABEL, TASK_LABEL
from compiler.plan import DataGate, ResolvedJob, ResolvedPipeline, ResolvedRole, ResolvedSchedule, caches_read
from compiler.render.context import TenantContext
from compiler.render.placement import pod_placement
from compiler.render.pods import (
    AGENT_SERVICE_ACCOUNT,
    FLOW_RUNNER_ACCOUNT,
    GATE_TIMEOUT_SECONDS,
    STATUS_VOLUME,
    agent_sidecar,
    api_client_labels,
    container_env,
    extra_containers,
    extra_volumes,
    flow_runner,
    pull_secrets,
    resources,
    wait_for_data,
)
from compiler.render.rbac import account
from compiler.render.volumes import PROJECT_PATH, PodVolumes
from compiler.volcano import DEFAULT_POLICIES, PREEMPTABLE_ANNOTATION

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
        "queue": ctx.queue,
        "minAvailable": job.min_available,
        "plugins": plugins(job),
        # Default: a preempted or evicted pod restarts the whole gang (a half-gang makes no progress).
        "policies": [dict(p) for p in (job.pod.policies if job.pod.policies is not None else DEFAULT_POLICIES)],
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
    gpu_model = job.gpu_model if role.pool == "gpu" else None  # GPU pods read their model's caches
    volumes = PodVolumes().empty_dir(STATUS_VOLUME, STATUS_DIR).datasets(job.datasets, gpu_model)
    extra_volumes(volumes.claim("project", job.project_claim, PROJECT_PATH), job.pod)
    main: dict = {"name": role.name, "image": role.image,
                  "resources": resources(role.cpu, role.memory, role.gpu, job.gpu_resource),
                  "volumeMounts": volumes.mounts}
    if role.command:
        main["command"] = list(role.command)
    if role.args:
        main["args"] = list(role.args)
    env = container_env(role.env, job.pod.env_refs)
    if env:
        main["env"] = env
    if role.ports:
        main["ports"] = [{"containerPort": p} for p in role.ports]
    init = [agent_sidecar(ctx.platform.agent_image, job.name, role.name)]
    init += extra_containers(job.pod, volumes)
    if job.wait is not None and job.wait.gate == "init":  # a CPU-only job: the home caches (plan.datasets)
        waits = caches_read(job.datasets, job.wait.datasets, [gpu_model])
        init.append(wait_for_data(ctx.platform.agent_image, waits, ctx.namespace, job.wait.percent))
    pod_spec = {
        "serviceAccountName": AGENT_SERVICE_ACCOUNT,
        "restartPolicy": "OnFailure",
        "initContainers": init,
        "containers": [main],
        "volumes": volumes.volumes,
        **pod_placement(ctx.cluster, role.pool, job.gpu_model if role.pool == "gpu" else None, ctx.tenant.name),
        **pull_secrets(job.pod),
    }
    metadata: dict = {"labels": {JOB_LABEL: job.name, TASK_LABEL: role.name, **api_client_labels()}}
    if job.pod.preemptable is not None:
        metadata["annotations"] = {PREEMPTABLE_ANNOTATION: str(job.pod.preemptable).lower()}
    task: dict = {"name": role.name, "replicas": role.replicas, "template": {"metadata": metadata, "spec": pod_spec}}
    if job.framework == "mpi" and role.name == "launcher":
        task["policies"] = [{"event": "TaskCompleted", "action": "CompleteJob"}]
    return task


def render(ctx: TenantContext) -> list[dict]:
    """The unit's jobs, schedules, flows and published templates, as the plan resolved them."""
    unit = ctx.workloads
    objects = [ctx.obj(VOLCANO_BATCH, "Job", job.name, labels={JOB_LABEL: job.name}, spec=job_spec(ctx, job))
               for job in unit.jobs]
    objects += [_cron_job(ctx, schedule) for schedule in unit.schedules]
    for flow in unit.flows:
        objects += _flow(ctx, flow)
    if any(flow.schedule for flow in unit.flows):
        objects += account(ctx, FLOW_RUNNER_ACCOUNT, rules_for(RUN_FLOW))
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


def _flow(ctx: TenantContext, flow: ResolvedPipeline) -> list[dict]:
    """A JobTemplate per flow, and the JobFlow running them in dependency order: rendered
    itself (it runs once), or started at each scheduled time by a CronJob."""
    labels = {PIPELINE_LABEL: flow.name} if flow.origin == "pipeline" else {JOB_LABEL: flow.name}
    objects = []
    for step in flow.steps:
        spec = job_spec(ctx, step.job, JOB_TEMPLATE) if step.job is not None else _gate_spec(ctx, step.gate)
        objects.append(ctx.obj(VOLCANO_FLOW, "JobTemplate", step.name, labels=labels, spec=spec))
    if flow.schedule is None:
        flows = []
        for step in flow.steps:
            entry: dict = {"name": step.name}
            if step.depends_on:
                entry["dependsOn"] = {"targets": list(step.depends_on)}
            flows.append(entry)
        objects.append(ctx.obj(VOLCANO_FLOW, "JobFlow", flow.name, labels=labels,
                               spec={"jobRetainPolicy": "retain", "flows": flows}))
    else:
        objects.append(_flow_cron_job(ctx, flow, labels))
    return objects


def _gate_spec(ctx: TenantContext, gate: DataGate | None) -> dict:
    """The data gate: one CPU pod of `tenantc-agent wait-dataset`. Its Job completes when the
    data is warm (its one pod succeeded, minAvailable 1) and fails if the wait times out or
    cannot pass; either way no GPU was taken, and the JobFlow starts the job only after a
    Completed gate."""
    assert gate is not None
    pod = {
        "serviceAccountName": AGENT_SERVICE_ACCOUNT,
        "restartPolicy": "Never",
        "containers": [wait_for_data(ctx.platform.agent_image, gate.datasets, ctx.namespace, gate.percent,
                                     GATE_TIMEOUT_SECONDS)],
        **pod_placement(ctx.cluster, "cpu", tenant=ctx.tenant.name),
    }
    spec: dict = {
        "schedulerName": "volcano", "queue": ctx.queue, "minAvailable": 1,
        "tasks": [{"name": "gate", "replicas": 1,
                   "template": {"metadata": {"labels": {JOB_LABEL: gate.job, TASK_LABEL: "gate",
                                                        **api_client_labels()}}, "spec": pod}}],
    }
    if gate.priority_class:
        spec["priorityClassName"] = gate.priority_class
    return spec


def _flow_cron_job(ctx: TenantContext, flow: ResolvedPipeline, labels: dict[str, str]) -> dict:
    """The CronJob that starts a run of a scheduled flow. Its own Jobs take a second each, so
    it keeps one of each and never overlaps itself; the flow's concurrency policy and history
    apply to the runs, and the agent keeps them (compiler.agent.run_flow)."""
    timing = flow.schedule
    assert timing is not None
    runner = flow_runner(ctx.platform.agent_image, flow.name, ctx.namespace,
                         [(s.name, s.depends_on) for s in flow.steps], timing.concurrency_policy,
                         timing.successful_history, timing.failed_history)
    spec: dict = {
        "schedule": timing.schedule, "concurrencyPolicy": "Forbid",
        "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": {"backoffLimit": 3, "template": {
            "metadata": {"labels": {**labels, **api_client_labels()}},
            "spec": {"serviceAccountName": FLOW_RUNNER_ACCOUNT, "restartPolicy": "OnFailure",
                     "containers": [runner], **pod_placement(ctx.cluster, "cpu", tenant=ctx.tenant.name)}}}},
    }
    if timing.time_zone:
        spec["timeZone"] = timing.time_zone
    return ctx.obj("batch/v1", "CronJob", flow.name, labels=labels, spec=spec)
