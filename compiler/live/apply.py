"""Server-side apply of a change set, stage by stage, then prune and wait.

Stages come from compiler.kinds (namespaces and cluster-scoped objects first, jobs last):
an object may depend on objects of earlier stages, never of later ones. Within a stage,
objects are applied in parallel: the client's throttle starts at the concurrency option and
adapts to the server: more requests in flight while the writes' latency holds (up to
max_concurrency), fewer when it rises (down to the concurrency option) or on 429 (down to
one; compiler.kube.window). Only the change set is sent,
so an apply with nothing to change writes nothing.

Failures do not stop other objects, but objects in a namespace whose Namespace failed are
skipped, and nothing is pruned after any failure. Every request is safe to repeat, so the
answer to any failure (a conflict fixed, the API server back) is to run apply again.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

from compiler.identity import ObjectRef
from compiler.kinds import STAGE_NAMES, stage_of
from compiler.kube.client import KubeClient
from compiler.kube.discovery import ResourceMap
from compiler.kube.errors import ApiError, KubeError
from compiler.kube.pool import ThrottledPool
from compiler.live.changeset import ADD, Change, ClusterChangeSet, object_label
from compiler.live.options import ApplyOptions
from compiler.live.prune import tenant_of
from compiler.live.prune_guard import guard_prune
from compiler.live.wait import WaitResult, wait_ready

CREATED, CONFIGURED, WOULD_APPLY = "created", "configured", "would apply"
CONFLICT, IMMUTABLE, FAILED, SKIPPED = "conflict", "immutable", "failed", "skipped"
DELETED, WOULD_DELETE, GONE = "deleted", "would delete", "already gone"
FAILURES = frozenset({CONFLICT, IMMUTABLE, FAILED, SKIPPED})


class Pool(Protocol):
    """Runs calls in parallel and returns their results in order (compiler.kube.pool.ThrottledPool)."""

    def map(self, fn: Callable, items: Sequence, /) -> Sequence: ...


class Progress(Protocol):
    """Where apply reports as it goes (a bar, plain lines, or nothing): see compiler.commands.output."""

    def stage(self, title: str, total: int) -> None: ...

    def advance(self, line: str) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """For JSON output and library callers: nothing on the screen."""

    def stage(self, title: str, total: int) -> None:
        pass

    def advance(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Outcome:
    """What happened to one object: applied, refused, skipped, deleted."""

    obj: dict  # the desired object, or the live one for pruned objects (only its identity is shown)
    path: str  # under rendered/ ('' for pruned objects)
    result: str
    message: str = ""

    @property
    def label(self) -> str:
        return object_label(self.obj)

    @property
    def tenant(self) -> str:
        return tenant_of(self.obj)

    @property
    def failed(self) -> bool:
        return self.result in FAILURES

    def line(self) -> str:
        return f"{self.result} {self.label}" + (f": {self.message}" if self.message else "")


@dataclass
class ApplyReport:
    """The apply of one cluster's change set, with its prune and wait."""

    change_set: ClusterChangeSet
    applied: list[Outcome] = field(default_factory=list)
    pruned: list[Outcome] = field(default_factory=list)
    prune_refused: str = ""  # the threshold refusal, or why prune was skipped
    waited: WaitResult | None = None
    requests: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (not self.change_set.errors and not self.prune_refused
                and not any(o.failed for o in self.applied + self.pruned)
                and not (self.waited and self.waited.timed_out))


def apply_cluster(client: KubeClient, change_set: ClusterChangeSet, desired: dict[str, dict], options: ApplyOptions,
                  progress: Progress | None = None) -> ApplyReport:
    """Apply `change_set` (computed with mode=APPLY) to the cluster `client` talks to."""
    progress = progress or NoProgress()
    report = ApplyReport(change_set)
    ceiling = max(1, options.concurrency, options.max_concurrency)
    if change_set.changes:  # workers as many as the window lets requests fly (compiler.kube.pool)
        client.throttle.adapt(options.concurrency, ceiling, floor=options.concurrency)
    else:
        ceiling = max(1, options.concurrency)
    with ThrottledPool(client.throttle, ceiling) as pool:
        _apply_stages(client, report, options, pool, progress)
        if options.prune:
            prune_cluster(client, report, options, {ObjectRef.of(o) for o in desired.values()}, pool, progress)
    if options.wait and not options.dry_run and report.ok:
        objects = [(r, o) for o in desired.values() if (r := change_set.resources.for_object(o)) is not None]
        report.waited = wait_ready(client, objects, options.timeout, concurrency=options.concurrency,
                                   label=object_label)
    report.requests = client.counts.snapshot()
    if client.throttle.adaptive:
        throttle = client.throttle
        report.requests["inFlight"] = {"highest": throttle.highest, "last": throttle.limit,
                                       "mean": round(throttle.mean_in_flight, 1)}
    return report


def _apply_stages(client: KubeClient, report: ApplyReport, options: ApplyOptions, pool: Pool,
                  progress: Progress) -> None:
    failed_namespaces: set[str] = set()
    for stage, group in groupby(report.change_set.changes, key=lambda c: c.stage):
        changes = list(group)
        progress.stage(f"stage {stage + 1}/{len(STAGE_NAMES)} {STAGE_NAMES[stage]}", len(changes))
        outcomes = pool.map(lambda c: _apply_one(client, c, options, failed_namespaces), changes)
        for change, outcome in zip(changes, outcomes, strict=True):
            report.applied.append(outcome)
            progress.advance(outcome.line())
            if outcome.failed and change.ref[:2] == ("", "Namespace"):
                failed_namespaces.add(change.desired["metadata"]["name"])


def _apply_one(client: KubeClient, change: Change, options: ApplyOptions, failed_namespaces: set[str]) -> Outcome:
    obj = change.desired
    outcome = Outcome(obj, change.path, "")
    namespace = obj["metadata"].get("namespace")
    if change.error is not None:  # the dry-run of the change set already refused it: say why, send nothing
        return _failure(outcome, change.error)
    if namespace and namespace in failed_namespaces:
        outcome.result, outcome.message = SKIPPED, f"namespace {namespace} failed to apply"
        return outcome
    try:
        status, _ = client.apply(change.resource.object_path(obj), obj, dry_run=options.dry_run,
                                 force=options.force_conflicts, result=False)
    except ApiError as exc:
        if options.dry_run and exc.missing_namespace and change.action == ADD:
            outcome.result, outcome.message = WOULD_APPLY, f"namespace {namespace} is created first"
            return outcome
        return _failure(outcome, exc)
    except KubeError as exc:
        outcome.result, outcome.message = FAILED, f"{exc}; run apply again when the cluster answers"
        return outcome
    outcome.result = WOULD_APPLY if options.dry_run else CREATED if status == 201 else CONFIGURED
    return outcome


def _failure(outcome: Outcome, exc: ApiError) -> Outcome:
    if exc.conflict:
        outcome.result = CONFLICT
        outcome.message = (f"{exc.message}. Another field manager owns these fields: make the spec agree, "
                           "undo their change, or re-run with --force-conflicts to take the fields over")
    elif exc.immutable:
        fields = sorted({c.get("field", "") for c in exc.causes if "immutable" in c.get("message", "")} - {""})
        ref = ObjectRef.of(outcome.obj)
        where = f" -n {ref.namespace}" if ref.namespace else ""
        outcome.result = IMMUTABLE
        outcome.message = (f"field {', '.join(fields) or '(see message)'} is immutable and cannot be changed in "
                           f"place ({exc.message}). Either revert the change in tenants/, or delete the object "
                           f"(kubectl delete {ref.kubectl_kind} {ref.name}{where}) and run tenantc apply again to "
                           "re-create it")
    else:
        outcome.result, outcome.message = FAILED, exc.message
    return outcome


def prune_cluster(client: KubeClient, report: ApplyReport, options: ApplyOptions, desired: set[ObjectRef],
                  pool: Pool, progress: Progress) -> None:
    """Delete what the change set's prune decision allows, unless the decision refused, an apply
    failed, or a Namespace or PVC would take what is not tenantc's with it (prune_guard, asked now)."""
    decision = report.change_set.prune
    if decision.refused:
        report.prune_refused = decision.refused
        return
    failures = sum(o.failed for o in report.applied)
    if failures:
        report.prune_refused = f"prune skipped: {failures} object(s) failed to apply"
        return
    doomed = decision.allowed
    if not doomed:
        return
    resources = report.change_set.resources
    try:
        report.prune_refused = guard_prune(client, resources, decision, desired, report.change_set.target.cluster,
                                           options.prune_flags, options.concurrency)
    except KubeError as exc:
        report.prune_refused = f"prune skipped: cannot read what pruned namespaces and claims hold: {exc}"
    if report.prune_refused:
        return
    dry_run = options.dry_run
    progress.stage("prune", len(doomed))
    for _, group in groupby(doomed, key=stage_of):  # reverse stage order: jobs first, namespaces last
        objs = list(group)
        for outcome in pool.map(lambda o: _delete_one(client, resources, o, dry_run), objs):
            report.pruned.append(outcome)
            progress.advance(outcome.line())


def _delete_one(client: KubeClient, resources: ResourceMap, obj: dict, dry_run: bool) -> Outcome:
    outcome = Outcome(obj, "", WOULD_DELETE if dry_run else DELETED)
    if dry_run:
        return outcome
    resource = resources.for_object(obj)
    assert resource is not None  # it was listed through this very resource
    path, meta = resource.object_path(obj), obj["metadata"]
    try:
        try:
            client.delete(path, uid=meta.get("uid"), resource_version=meta.get("resourceVersion"))
        except ApiError as exc:
            if not exc.conflict:
                raise
            _delete_if_unchanged(client, path, obj, outcome)
    except ApiError as exc:
        if exc.not_found:
            outcome.result = GONE
        else:
            outcome.result, outcome.message = FAILED, exc.message
    except KubeError as exc:
        outcome.result, outcome.message = FAILED, str(exc)
    return outcome


def _delete_if_unchanged(client: KubeClient, path: str, obj: dict, outcome: Outcome) -> None:
    """The object changed since it was listed. Controllers write status all the time (the quota
    controller recounts a namespace while its objects are pruned), which changes nothing of what
    the prune was decided on: still the same object (uid) with the same labels, it is deleted at
    its new resourceVersion. Anything else (new labels, another object of that name) is left."""
    fresh = client.get(path)
    meta, seen = fresh.get("metadata") or {}, obj["metadata"]
    if meta.get("uid") != seen.get("uid") or (meta.get("labels") or {}) != (seen.get("labels") or {}):
        outcome.result, outcome.message = SKIPPED, "changed since it was read; not deleted (run apply again)"
        return
    client.delete(path, uid=meta.get("uid"), resource_version=meta.get("resourceVersion"))
