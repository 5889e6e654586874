"""`waitForData` resolved: which datasets a job waits for, that each wait can be met, and where
the wait runs.

A wait can be met only when Fluid reports a cached percentage for the dataset and something
fills the cache before the job reads it (compiler.fluid has the Fluid facts and their sources):

* the dataset's runtime reports the percentage: jindo, alluxio and juicefs do; a thin runtime
  writes "N/A". For a dataset shared from another tenant (an import, or a platform global
  dataset), Fluid copies the shared dataset's status, so the owner's runtime is what counts;
* the dataset (the owner's, for a shared one) declares a preload of the whole dataset: its
  DataLoad (policy Once) runs as soon as the runtime is ready. A percentage counts the whole
  dataset, so a preload of some paths only may never reach it, and nothing else fills the
  cache while every reader waits;
* its scheduled scaling never takes the cache to 0 workers, which drops everything cached.

Where the wait runs: a job that asks for GPUs must not hold them while it waits, and a
gang-scheduled Volcano Job binds all its pods (minAvailable) before any init container
runs. So such a job becomes a JobFlow whose first flow is a one-pod CPU job running
`tenantc-agent wait-dataset`; Volcano's JobFlow controller creates the GPU job only once that
job is Completed. A CPU-only job waits in an init container of its pods, as before: it holds
CPU, not GPUs, and keeps the shape of a plain Volcano Job (and CronJob).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compiler.fluid import REPORTS_CACHED_PERCENTAGE, loads_whole_dataset
from compiler.model.data import Dataset
from compiler.model.platform import Cluster
from compiler.model.workloads import JobSpec
from compiler.plan.datasets import DatasetPlacement
from compiler.plan.scope import TenantScope

Gate = Literal["init", "flow"]


@dataclass(frozen=True)
class DataWait:
    """What a job waits for before it starts, and where the wait runs."""

    datasets: list[str]  # local names, in the order the spec gives them
    percent: int
    gate: Gate  # 'flow': a CPU job first in a JobFlow (the job asks for GPUs); 'init': an init container


def resolve_wait(scope: TenantScope, job: JobSpec, asks_gpus: bool, cluster: Cluster, at: str) -> DataWait | None:
    """The job's wait, with every way it could never pass reported at `{at}.waitForData`."""
    wait = job.wait_for_data
    if wait is None:
        return None
    where = f"{at}.waitForData"
    if wait.datasets is None and not job.datasets:
        scope.problems.add(scope.file, where, "the job mounts no datasets, so there is nothing to wait for",
                           "list the job's datasets, or remove waitForData")
        return None
    names = list(job.datasets if wait.datasets is None else wait.datasets)
    placed = {p.local_name: p for p in scope.datasets_on(job.cluster)}
    for k, name in enumerate(names):
        field = where if wait.datasets is None else f"{where}.datasets[{k}]"
        if name not in job.datasets:
            scope.problems.add(scope.file, field, f"'{name}' is not one of the job's datasets",
                               f"wait only for datasets the job mounts: {', '.join(job.datasets) or '(none)'}")
        elif name in placed:  # a dataset that is not placed is reported at the job's datasets
            _check_waitable(scope, placed[name], wait.min_cached_percent, field)
    if asks_gpus and not cluster.pools("cpu"):
        scope.problems.add(scope.file, where, f"the wait runs as a CPU pod before the GPUs are taken, but cluster "
                           f"'{cluster.name}' has no cpu pool", "add a cpu pool, or remove waitForData")
    return DataWait(names, wait.min_cached_percent, "flow" if asks_gpus else "init")


def shared_dataset(scope: TenantScope, placed: DatasetPlacement) -> tuple[str, str, Dataset] | None:
    """(owner tenant, owner's file, the dataset's spec) of a placed dataset: its own spec, or
    for an import the spec of the dataset it shares (whose owner the plan already records as
    read: compiler.plan.datasets)."""
    if placed.own is not None:
        return scope.tenant, scope.file, placed.own
    assert placed.origin is not None
    owner, name = placed.origin
    spec = next((t for t in scope.specs.tenants if t.tenant.name == owner), None)
    dataset = next((d for d in spec.tenant.datasets if d.name == name), None) if spec else None
    return (owner, spec.source.path, dataset) if spec and dataset else None


def _check_waitable(scope: TenantScope, placed: DatasetPlacement, percent: int, field: str) -> None:
    found = shared_dataset(scope, placed)
    if found is None:
        return  # an import of something missing is reported where it is imported
    owner, owner_file, ds = found
    name = placed.local_name
    of = "" if owner == scope.tenant else f" (shared from {owner}/{ds.name})"
    where_to_fix = f"dataset '{ds.name}'" + ("" if owner == scope.tenant else f" in {owner_file}")
    problems = scope.problems
    if ds.runtime.type not in REPORTS_CACHED_PERCENTAGE:
        problems.add(scope.file, field, f"dataset '{name}'{of} has a {ds.runtime.type} runtime, for which Fluid "
                     "reports no cached percentage (cachedPercentage \"N/A\"), so this wait could never pass",
                     "wait only for datasets with a cache (list them in waitForData.datasets), or remove waitForData")
        return
    if ds.preload is None:
        problems.add(scope.file, field, f"nothing preloads dataset '{name}'{of}: its cache fills only as pods "
                     f"read it, so a job waiting for {percent}% before reading could wait forever",
                     f"add preload: {{paths: [/]}} to {where_to_fix}, or remove waitForData")
    elif not loads_whole_dataset(ds.preload.paths):
        problems.add(scope.file, field, f"the preload of dataset '{name}'{of} loads only "
                     f"{', '.join(ds.preload.paths)}, but the cached percentage counts the whole dataset, so "
                     f"{percent}% may never be reached", f"preload paths: [/] in {where_to_fix}, or remove waitForData")
    for step in ds.scaling:
        if step.replicas == 0:
            problems.add(scope.file, field, f"dataset '{name}'{of} is scaled to 0 cache workers at "
                         f"'{step.schedule}', which drops everything cached", f"scale {where_to_fix} to at least 1 "
                         "replica, or remove waitForData")
            break
