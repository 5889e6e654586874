"""Volcano JobFlows resolved: pipelines, and jobs that wait for data while asking for GPUs.

A pipeline's steps are jobs (their template, roles and pod extras; the pipeline's cluster, GPU
model and datasets; each pod extra and lifecycle field the step leaves out, the pipeline's), each
a JobTemplate '<pipeline>-<step>', checked to form a DAG as JobFlow needs. A
job gated by its data (compiler.plan.datagate) is a flow of two: the JobTemplate
'<job>-data', one CPU pod waiting for the datasets, then the JobTemplate '<job>' itself.

A flow with a schedule (a pipeline's, or a gated job's schedule) is started by a CronJob:
Volcano schedules no JobFlow, so at each time `tenantc-agent run-flow` creates a new JobFlow,
'<name>-<minutes>', after the CronJob's Job (compiler.agent.run_flow).

Volcano facts the names and templates follow (volcano-sh/volcano, pkg/controllers/jobflow):
the JobFlow controller creates the Job of a flow as '<jobflow>-<template>' with the
template's spec, once every Job it depends on is Completed (jobflow_controller_action.go,
deployJob and judge), labelled '<namespace>.<jobflow>' and '<namespace>.<template>'
(label values: at most 63 characters); it re-creates, in every state, a flow's Job that is
gone, so a template in a flow must not set ttlSecondsAfterFinished, or Volcano deleting the
finished Job would run it again. Volcano's svc plugin names each pod's host after the pod,
'<job>-<task>-<index>' (plugins/svc/svc.go), which must be a DNS label.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from compiler.errors import Problems
from compiler.model import TenantSpec
from compiler.model.pods import PodExtras
from compiler.model.workloads import JobSpec, Lifecycle, Pipeline, Schedule
from compiler.plan.datasets import caches_read
from compiler.plan.jobs import ResolvedJob, resolve_job
from compiler.plan.scope import TenantScope

MAX_LABEL = 63  # a DNS label, a label value
MAX_CRONJOB_NAME = 52  # the CronJob controller appends '-<minutes>' (11 characters) for its Jobs
RUN_SUFFIX = "-NNNNNNNN"  # a run is '<name>-<minutes since 1970>': 8 digits until the year 2160
GATE_SUFFIX = "-data"


@dataclass(frozen=True)
class DataGate:
    """The first flow of a gated job: one CPU pod that waits for the job's datasets."""

    job: str  # the job it gates
    datasets: list[str]
    percent: int
    priority_class: str | None


@dataclass(frozen=True)
class ResolvedStep:
    """A flow: its JobTemplate (a job, or a data gate) and the flows it waits for."""

    step: str  # the step's own name in the pipeline ('data' and 'job' in a gated job's flow)
    name: str  # its JobTemplate: '<pipeline>-<step>', '<job>-data', '<job>'
    depends_on: list[str]  # the JobTemplates ('<pipeline>-<step>') of the flows it waits for
    job: ResolvedJob | None = None
    gate: DataGate | None = None


@dataclass(frozen=True)
class FlowSchedule:
    """When a CronJob starts a run of a flow, and what it does with earlier runs."""

    schedule: str
    time_zone: str | None
    concurrency_policy: str
    successful_history: int
    failed_history: int


@dataclass(frozen=True)
class ResolvedPipeline:
    """A JobFlow on its cluster (a pipeline, or a gated job or schedule), with the flows that
    resolved (all of them when it compiles); with `schedule`, started by a CronJob."""

    tenant: str
    name: str
    cluster: str
    steps: list[ResolvedStep]
    source: str
    origin: str = "pipeline"  # 'pipeline', 'job' or 'schedule': what the spec declared
    schedule: FlowSchedule | None = None
    at: str = ""  # its field path in the tenant file ('pipelines[0]', 'jobs[1]', 'schedules[0]')

    @property
    def templates(self) -> list[str]:
        return [s.name for s in self.steps]

    @property
    def job(self) -> ResolvedJob:
        """The job of a gated job's (or schedule's) flow."""
        found = [s.job for s in self.steps if s.job is not None and s.step == "job"]
        assert self.origin != "pipeline" and len(found) == 1, self.name
        return found[0]


STEP_DEFAULTS = (*PodExtras.model_fields, *Lifecycle.model_fields)  # a step's own, else its pipeline's


def resolve_pipeline(scope: TenantScope, i: int, pipeline: Pipeline) -> ResolvedPipeline:
    steps = []
    for j, step in enumerate(pipeline.steps):
        # The step's pod extras and Volcano lifecycle ride along as a job's (compiler.plan.pod_extras):
        # each it sets itself is reported at the step, each it takes from the pipeline at the pipeline.
        inherited = {f for f in STEP_DEFAULTS if f not in step.model_fields_set}
        as_job = JobSpec(template=step.template, cluster=pipeline.cluster, roles=step.roles,
                         gpu_model=pipeline.gpu_model, datasets=pipeline.datasets,
                         **{f: getattr(pipeline if f in inherited else step, f) for f in STEP_DEFAULTS})
        name = f"{pipeline.name}-{step.name}"
        job = resolve_job(scope, name, as_job, f"pipelines[{i}].steps[{j}]", fields_at=f"pipelines[{i}]",
                          extras_at=dict.fromkeys(inherited, f"pipelines[{i}]"))
        if job is not None:
            steps.append(ResolvedStep(step.name, name, [f"{pipeline.name}-{d}" for d in step.depends_on],
                                      job=replace(job, ttl=None)))
    timing = None
    if pipeline.schedule:
        timing = FlowSchedule(pipeline.schedule, pipeline.time_zone, pipeline.concurrency_policy,
                              pipeline.successful_history, pipeline.failed_history)
    flow = ResolvedPipeline(scope.tenant, pipeline.name, pipeline.cluster, steps, scope.file, "pipeline", timing,
                            f"pipelines[{i}]")
    check_flow_names(scope, flow, f"pipelines[{i}].name")
    return flow


def gated_flow(scope: TenantScope, job: ResolvedJob, where: str, schedule: Schedule | None = None) -> ResolvedPipeline:
    """A job that waits for data before it takes its GPUs: the JobFlow '<job>', whose flow
    '<job>-data' (the wait) runs first and '<job>' (the job, without a TTL) after it."""
    assert job.wait is not None
    # The caches its pods read: a GPU pod's model has its own (compiler.plan.datasets).
    models = [job.gpu_model if r.pool == "gpu" else None for r in job.roles]
    gate = DataGate(job.name, caches_read(job.datasets, job.wait.datasets, models), job.wait.percent,
                    job.priority_class)
    steps = [ResolvedStep("data", f"{job.name}{GATE_SUFFIX}", [], gate=gate),
             ResolvedStep("job", job.name, [f"{job.name}{GATE_SUFFIX}"], job=replace(job, ttl=None))]
    timing = None
    if schedule is not None:
        timing = FlowSchedule(schedule.schedule, schedule.time_zone, schedule.concurrency_policy,
                              schedule.successful_history, schedule.failed_history)
    flow = ResolvedPipeline(scope.tenant, job.name, job.cluster, steps, scope.file,
                            "schedule" if schedule else "job", timing, where)
    check_flow_names(scope, flow, f"{where}.name")
    return flow


def check_flow_names(scope: TenantScope, flow: ResolvedPipeline, where: str) -> None:
    """The names Volcano and Kubernetes derive from a flow's must be valid (module docstring)."""
    run = flow.name + (RUN_SUFFIX if flow.schedule else "")
    hint = "shorten the name"
    if flow.schedule and len(flow.name) > MAX_CRONJOB_NAME:
        scope.problems.add(scope.file, where, f"'{flow.name}' is {len(flow.name)} characters, but the CronJob that "
                           f"starts its runs may have at most {MAX_CRONJOB_NAME}", hint)
        return
    label = f"{scope.tenant}.{run}"
    if len(label) > MAX_LABEL:
        scope.problems.add(scope.file, where, f"Volcano labels each Job of a run '<namespace>.<run>', here "
                           f"{len(label)} characters (at most {MAX_LABEL})", hint)
    for step in flow.steps:
        if len(f"{scope.tenant}.{step.name}") > MAX_LABEL:
            scope.problems.add(scope.file, where, f"Volcano labels the Job of flow '{step.name}' with "
                               f"'{scope.tenant}.{step.name}', over {MAX_LABEL} characters", hint)
        tasks = [(r.name, r.replicas) for r in step.job.roles] if step.job else [("gate", 1)]
        for task, replicas in tasks:
            host = f"{run}-{step.name}-{task}-{replicas - 1}"
            if len(host) > MAX_LABEL:
                scope.problems.add(scope.file, where, f"a pod of flow '{step.name}' would be named '{host}' "
                                   f"({len(host)} characters), but Volcano makes pod names host names (at most "
                                   f"{MAX_LABEL})", hint)
                return


def check_template_names(scope: TenantScope, flows: list[ResolvedPipeline], published: list[str]) -> None:
    """JobTemplates share one namespace: a flow's must not take a name another one uses."""
    seen = {f"tpl-{name}": f"published template '{name}'" for name in published}
    for flow in flows:
        for step in flow.steps:
            other = seen.get(step.name)
            if other is not None:
                scope.problems.add(scope.file, f"{flow.at}.name", f"its JobTemplate '{step.name}' is also the "
                                   f"JobTemplate of {other}", "rename one of them")
            seen[step.name] = flow.at


def check_pipelines(spec: TenantSpec, problems: Problems) -> None:
    """Steps must name known steps and form no cycle (Volcano JobFlow needs a DAG)."""
    for i, pipeline in enumerate(spec.tenant.pipelines):
        names = [s.name for s in pipeline.steps]
        for j, step in enumerate(pipeline.steps):
            for k, dep in enumerate(step.depends_on):
                if dep not in names:
                    problems.add(spec.source.path, f"pipelines[{i}].steps[{j}].dependsOn[{k}]", f"unknown step '{dep}'",
                                 f"use one of: {', '.join(names)}")
        cycle = find_cycle({s.name: s.depends_on for s in pipeline.steps})
        if cycle:
            problems.add(spec.source.path, f"pipelines[{i}].steps", f"steps depend on each other in a cycle: "
                         f"{' -> '.join(cycle)}", "a pipeline must be a DAG")


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """The first cycle found by depth-first search from each node in order, as the path that
    closes it ('a -> b -> a' as ['a', 'b', 'a']); edges to unknown nodes are ignored."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return path + [node]
        if state.get(node) == 2 or node not in graph:
            return None
        state[node] = 1
        for dep in graph[node]:
            cycle = visit(dep, path + [node])
            if cycle:
                return cycle
        state[node] = 2
        return None

    for name in graph:
        cycle = visit(name, [])
        if cycle:
            return cycle[cycle.index(cycle[-1]):]
    return None
