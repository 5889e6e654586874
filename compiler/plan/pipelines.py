"""Pipelines resolved: each step a job (its template and roles, the pipeline's cluster, GPU
model and datasets), named '<pipeline>-<step>', and the steps checked to form a DAG, as
Volcano JobFlow needs.
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import Problems
from compiler.model import TenantSpec
from compiler.model.workloads import JobSpec, Pipeline
from compiler.plan.jobs import ResolvedJob, resolve_job
from compiler.plan.scope import TenantScope


@dataclass(frozen=True)
class ResolvedStep:
    """A step: its job (a JobTemplate named like the step) and the steps it waits for."""

    step: str  # the step's own name in the pipeline
    name: str  # '<pipeline>-<step>'
    depends_on: list[str]  # the names ('<pipeline>-<step>') of the steps it waits for
    job: ResolvedJob


@dataclass(frozen=True)
class ResolvedPipeline:
    """A pipeline on its cluster, with the steps that resolved (all of them when it compiles)."""

    tenant: str
    name: str
    cluster: str
    steps: list[ResolvedStep]
    source: str


def resolve_pipeline(scope: TenantScope, i: int, pipeline: Pipeline) -> ResolvedPipeline:
    steps = []
    for j, step in enumerate(pipeline.steps):
        as_job = JobSpec(template=step.template, cluster=pipeline.cluster, roles=step.roles,
                         gpu_model=pipeline.gpu_model, datasets=pipeline.datasets)
        name = f"{pipeline.name}-{step.name}"
        job = resolve_job(scope, name, as_job, f"pipelines[{i}].steps[{j}]", fields_at=f"pipelines[{i}]")
        if job is not None:
            steps.append(ResolvedStep(step.name, name, [f"{pipeline.name}-{d}" for d in step.depends_on], job))
    return ResolvedPipeline(scope.tenant, pipeline.name, pipeline.cluster, steps, scope.file)


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
