"""`tenantc-agent run-flow PIPELINE --run RUN --flow ...`: start one run of a scheduled flow.

Volcano has no schedule for a JobFlow: a JobFlow runs its flows once. The compiler renders a
batch/v1 CronJob whose pod runs this command; each run is a new JobFlow named RUN (the
CronJob's Job name, so a retried pod starts the same run, never a second one), made from the
JobTemplates the compiler rendered beside it. What the command does, in order:

1. list the runs of PIPELINE (JobFlows labelled tenantc.io/pipeline=PIPELINE, made by the agent);
2. RUN exists already: nothing to start (exit 0);
3. an earlier run has not finished (its `status.state.phase` is not Succeed or Failed):
   Forbid skips this run (exit 0), Replace deletes the unfinished runs (their Volcano Jobs go
   with them: the JobFlow controller made itself their controller owner), Allow goes on;
4. create RUN;
5. delete the oldest finished runs beyond --keep-succeeded / --keep-failed.

Exit codes: 0 started or skipped as the policy says, 2 a request the API server refused
(403, 404 when the JobFlow CRD is missing, 422) or still failing at --timeout, or flows that
do not form a DAG. Permissions: list, create and delete on jobflows (permissions.py).
"""
from __future__ import annotations

import sys
import time

from compiler.agent.contract import AGENT_MANAGED_BY_VALUE, MANAGED_BY_LABEL, PIPELINE_LABEL, TENANT_LABEL
from compiler.agent.kubeapi import ApiError, KubeClient, KubeError, object_path, retry_transient

EXIT_OK, EXIT_ERROR = 0, 2
GROUP, VERSION, PLURAL = "flow.volcano.sh", "v1alpha1", "jobflows"
FINISHED = ("Succeed", "Failed")  # JobFlow phases after which nothing more runs
MAX_NAME = 63  # a Volcano Job made from a flow is '<run>-<template>', and its name is a pod's subdomain


class FlowError(Exception):
    """Flows that Volcano's JobFlow admission would refuse, or names that cannot work."""


def check_flows(run: str, flows: list[tuple[str, list[str]]]) -> None:
    """Each template once, dependencies on earlier-named or later flows of this run only, no
    cycle, and every '<run>-<template>' Job name short enough to be a DNS label."""
    names = [name for name, _ in flows]
    if len(set(names)) != len(names):
        raise FlowError(f"a flow is given twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    for name, deps in flows:
        unknown = [d for d in deps if d not in names]
        if unknown:
            raise FlowError(f"flow {name} depends on {', '.join(unknown)}, which is not a flow of this run")
        if len(f"{run}-{name}") > MAX_NAME:
            raise FlowError(f"the Volcano Job '{run}-{name}' would be longer than {MAX_NAME} characters")
    graph = dict(flows)
    done: set[str] = set()
    for start in names:
        path: list[str] = []
        _visit(start, graph, path, done)


def _visit(node: str, graph: dict[str, list[str]], path: list[str], done: set[str]) -> None:
    if node in path:
        raise FlowError("flows depend on each other in a cycle: " + " -> ".join(path[path.index(node):] + [node]))
    if node in done:
        return
    path.append(node)
    for dep in graph[node]:
        _visit(dep, graph, path, done)
    path.pop()
    done.add(node)


def jobflow(namespace: str, pipeline: str, run: str, flows: list[tuple[str, list[str]]]) -> dict:
    """The JobFlow of one run. Labelled managed-by tenantc-agent: `tenantc apply --prune`
    deletes only what is labelled managed-by tenantc, so a run is never pruned as drift."""
    spec_flows = [{"name": name, **({"dependsOn": {"targets": list(deps)}} if deps else {})} for name, deps in flows]
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "JobFlow",
        "metadata": {"name": run, "namespace": namespace, "labels": {
            PIPELINE_LABEL: pipeline, TENANT_LABEL: namespace, MANAGED_BY_LABEL: AGENT_MANAGED_BY_VALUE}},
        "spec": {"jobRetainPolicy": "retain", "flows": spec_flows},
    }


def phase(run: dict) -> str:
    return str(((run.get("status") or {}).get("state") or {}).get("phase") or "")


def _created(run: dict) -> tuple[str, str]:
    meta = run.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def beyond_history(runs: list[dict], keep_succeeded: int, keep_failed: int) -> list[dict]:
    """Finished runs to delete: all but the newest `keep_*` of each outcome."""
    out = []
    for outcome, keep in (("Succeed", keep_succeeded), ("Failed", keep_failed)):
        finished = sorted((r for r in runs if phase(r) == outcome), key=_created, reverse=True)
        out += finished[keep:]
    return out


def run(client: KubeClient, namespace: str, pipeline: str, run_name: str, flows: list[tuple[str, list[str]]],
        policy: str, keep_succeeded: int, keep_failed: int, timeout: float, out=sys.stderr) -> int:
    """Start the run as the policy says; returns the exit code after saying what happened."""
    def say(message: str) -> None:
        print(message, file=out, flush=True)

    try:
        check_flows(run_name, flows)
    except FlowError as exc:
        say(f"error: {exc}")
        return EXIT_ERROR
    collection = object_path(GROUP, VERSION, PLURAL, namespace)
    deadline = time.monotonic() + timeout
    try:
        # Only runs the agent made: a JobFlow tenantc rendered is never skipped for, replaced or trimmed.
        selector = f"{PIPELINE_LABEL}={pipeline},{MANAGED_BY_LABEL}={AGENT_MANAGED_BY_VALUE}"
        runs = retry_transient(lambda: client.list_items(collection, selector), deadline)
        runs = _start(client, collection, namespace, pipeline, run_name, flows, policy, runs, deadline, say)
        for old in beyond_history(runs, keep_succeeded, keep_failed):
            name = _created(old)[1]
            if name != run_name:
                _delete(client, namespace, name, deadline)
                say(f"deleted run {namespace}/{name} ({phase(old)}), beyond the history limit")
    except KubeError as exc:
        status = getattr(exc, "status", None)
        hint = " (is Volcano's JobFlow CRD installed?)" if status == 404 else ""
        say(f"error: cannot start run {namespace}/{run_name} of {pipeline}: {exc}{hint}")
        return EXIT_ERROR
    return EXIT_OK


def _start(client: KubeClient, collection: str, namespace: str, pipeline: str, run_name: str,
           flows: list[tuple[str, list[str]]], policy: str, runs: list[dict], deadline: float,
           say) -> list[dict]:
    """Create the run unless it exists or the policy says to skip; returns the runs left
    (without those Replace deleted), for trimming the history."""
    names = {(r.get("metadata") or {}).get("name") for r in runs}
    unfinished = sorted((r for r in runs if phase(r) not in FINISHED and phase(r) != "Terminating"), key=_created)
    if run_name in names:
        say(f"run {namespace}/{run_name} of {pipeline} exists already: nothing to start")
        return runs
    if unfinished and policy == "Forbid":
        say(f"skipped run {run_name} of {pipeline}: run {_created(unfinished[-1])[1]} has not finished "
            "(concurrency policy Forbid)")
        return runs
    if policy == "Replace":
        for old in unfinished:
            _delete(client, namespace, _created(old)[1], deadline)
            say(f"deleted unfinished run {namespace}/{_created(old)[1]} (concurrency policy Replace)")
        runs = [r for r in runs if r not in unfinished]
    body = jobflow(namespace, pipeline, run_name, flows)
    try:
        retry_transient(lambda: client.create(collection, body), deadline)
        say(f"started run {namespace}/{run_name} of {pipeline}: "
            + ", ".join(name + (f" after {'+'.join(deps)}" if deps else "") for name, deps in flows))
    except ApiError as exc:
        if exc.status != 409:
            raise
        say(f"run {namespace}/{run_name} of {pipeline} exists already: nothing to start")
    return runs


def _delete(client: KubeClient, namespace: str, name: str, deadline: float) -> None:
    path = object_path(GROUP, VERSION, PLURAL, namespace, name)
    try:
        retry_transient(lambda: client.delete(path), deadline)
    except ApiError as exc:
        if exc.status != 404:  # gone meanwhile: what we wanted
            raise
