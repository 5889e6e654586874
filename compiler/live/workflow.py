"""diff, apply and status as library calls: typed options in (options.py), results out.

    diff(DiffOptions) -> DiffResult           the change set of every selected cluster
    apply(ApplyOptions, progress) -> ApplyResult
                                              change sets applied stage by stage, then
                                              prune and wait as asked
    status(StatusOptions) -> StatusResult     quota, queues, datasets, jobs, heartbeats

compiler.commands maps flags onto the options and results onto output; tests and scripts
call these directly. Prune is a step of apply (ApplyOptions.prune, with PruneFlags saying
what may go), as with `kubectl apply --prune` and kapp: deleting what rendered/ no longer
has is only safe once what it has is applied, and diff already reports what would be
pruned. The decision itself is the pure compiler.live.prune.decide_prune.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from compiler.errors import UserError
from compiler.kinds import BUILTIN_GROUPS, group_of
from compiler.kube.client import KubeClient
from compiler.kube.config import Kubeconfig, Target, connect, read_kubeconfig, select_targets
from compiler.kube.errors import ConfigError, KubeError, Unreachable
from compiler.live.apply import ApplyReport, NoProgress, Progress, apply_cluster
from compiler.live.changeset import APPLY, DIFF, ClusterChangeSet, cluster_change_set
from compiler.live.desired import cluster_contexts, cluster_objects, load_desired, load_platform
from compiler.live.options import ApplyOptions, ClusterSelection, DiffOptions, StatusOptions
from compiler.live.status import cluster_status, failed_cluster, status_report


@dataclass
class DiffResult:
    """The change set of each selected cluster."""

    change_sets: list[ClusterChangeSet]
    warnings: list[str] = field(default_factory=list)  # e.g. the repository's CRDs differ from the cluster's

    @property
    def differences(self) -> bool:
        return any(c.differences for c in self.change_sets)

    @property
    def errors(self) -> bool:
        return any(c.errors for c in self.change_sets)


@dataclass
class ApplyResult:
    """The apply of each selected cluster."""

    reports: list[ApplyReport]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)


@dataclass
class StatusResult:
    """Each selected cluster's status entry (the StatusReport's `clusters`)."""

    clusters: list[dict] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # clusters that could not be read at all

    @property
    def ok(self) -> bool:
        return not self.unreadable and not any(c["errors"] for c in self.clusters)

    def report(self) -> dict:
        return status_report(self.clusters)


@dataclass
class ClusterRun:
    """One target cluster: its client, its share of rendered/, and its change set."""

    target: Target
    client: KubeClient
    desired: dict[str, dict]
    change_set: ClusterChangeSet


def diff(opts: DiffOptions) -> DiffResult:
    """What apply would change on each selected cluster; rendered/ must be current."""
    with _change_sets(opts, DIFF) as runs:
        return DiffResult([r.change_set for r in runs], _crd_skew(opts, runs))


def _crd_skew(opts: DiffOptions, runs: list[ClusterRun]) -> list[str]:
    """Version skew: each cluster's CRDs as the repository has them (its folder, or --crd-dir)
    against the live ones, for the custom kinds rendered for it."""
    from compiler.live.crds import crd_skew
    from compiler.pipeline import platform_crd_dirs

    own = {} if opts.crd_dirs else platform_crd_dirs(opts.root, load_platform(opts.root))
    warnings = []
    for run in runs:
        kinds = {(group_of(o["apiVersion"]), o["kind"]) for o in run.desired.values()
                 if group_of(o["apiVersion"]) not in BUILTIN_GROUPS}
        folders = list(opts.crd_dirs) or [own[run.target.cluster]]
        where = "--crd-dir" if opts.crd_dirs else own[run.target.cluster].relative_to(opts.root).as_posix()
        try:
            warnings += crd_skew(run.client, run.target.cluster, folders, where, kinds)
        except KubeError as exc:
            warnings.append(f"cluster {run.target.cluster}: CRD version skew not checked: {exc}")
    return warnings


def apply(opts: ApplyOptions, progress: Callable[[], Progress] = NoProgress) -> ApplyResult:
    """Apply rendered/ (proven current) to each selected cluster; `progress()` makes each cluster's display."""
    reports = []
    with _change_sets(opts, APPLY, force_conflicts=opts.force_conflicts) as runs:
        for run in runs:
            shown = progress()
            try:
                reports.append(apply_cluster(run.client, run.change_set, run.desired, opts, shown))
            except Unreachable as exc:
                raise UserError(f"cluster {run.target.cluster}: {exc}; run apply again when it answers") from None
            finally:
                shown.close()
    return ApplyResult(reports, opts.dry_run)


def status(opts: StatusOptions, now: datetime.datetime | None = None) -> StatusResult:
    """What each tenant has and uses on each selected cluster; a cluster that cannot be read is an entry
    with its error, not an exception."""
    platform = load_platform(opts.root)
    result = StatusResult()
    for target, kubeconfig in _targets(cluster_contexts(platform), opts.selection):
        try:
            client = connect(target, kubeconfig, retry_for=opts.retry_for)
        except ConfigError as exc:  # this context's credentials; the other clusters are still read
            result.unreadable.append(target.cluster)
            result.clusters.append(failed_cluster(target, "-", [str(exc)]))
            continue
        try:
            result.clusters.append(cluster_status(client, target, list(opts.tenants) or None, now,
                                                  concurrency=opts.concurrency))
        except KubeError as exc:
            result.unreadable.append(target.cluster)
            result.clusters.append(failed_cluster(target, client.host, [str(exc)]))
        finally:
            client.close()
    return result


@contextmanager
def _change_sets(opts: DiffOptions, mode: str, force_conflicts: bool = False) -> Iterator[list[ClusterRun]]:
    """Every selected cluster's change set, with the clients (closed afterwards)."""
    compiled = load_desired(opts.root, opts.crd_dirs)
    runs: list[ClusterRun] = []
    try:
        for target, kubeconfig in _targets(cluster_contexts(compiled.specs.platform), opts.selection):
            client = connect(target, kubeconfig, concurrency=opts.concurrency)
            desired = cluster_objects(compiled.objects, target.cluster)
            try:
                change_set = cluster_change_set(client, target, desired, mode=mode, concurrency=opts.concurrency,
                                                prune_flags=opts.prune_flags, force_conflicts=force_conflicts)
            except KubeError as exc:  # unreachable, or refused (e.g. no right to list a kind)
                client.close()
                raise UserError(f"cluster {target.cluster} (context {target.context}): {exc}") from None
            runs.append(ClusterRun(target, client, desired, change_set))
        yield runs
    finally:
        for run in runs:
            run.client.close()


def _targets(contexts: Mapping[str, str], selection: ClusterSelection) -> Iterator[tuple[Target, Kubeconfig]]:
    kubeconfig = read_kubeconfig(selection.kubeconfig)
    for target in select_targets(contexts, kubeconfig, selection.context, selection.clusters):
        yield target, kubeconfig
