"""Server-side apply of a plan, stage by stage, then prune and wait.

Stages come from compiler.kinds (namespaces and cluster-scoped objects first, jobs last):
an object may depend on objects of earlier stages, never of later ones. Within a stage,
objects are applied in parallel (bounded by --concurrency). Only the plan's changes are
sent, so an apply with nothing to change writes nothing.

Failures do not stop other objects, but objects in a namespace whose Namespace failed are
skipped, and nothing is pruned after any failure. Every request is safe to repeat, so the
answer to any failure (a conflict fixed, the API server back) is to run apply again.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from compiler.kinds import STAGE_NAMES, group_of, stage_of
from compiler.live.client import ApiError, KubeClient, KubeError
from compiler.live.diff import ADD, Change, ClusterPlan, object_label
from compiler.live.progress import NoProgress
from compiler.live.prune import PruneFlags, tenant_of
from compiler.live.resources import ResourceMap
from compiler.live.wait import WaitResult, wait_ready

CREATED, CONFIGURED, WOULD_APPLY = "created", "configured", "would apply"
CONFLICT, IMMUTABLE, FAILED, SKIPPED = "conflict", "immutable", "failed", "skipped"
DELETED, WOULD_DELETE, GONE = "deleted", "would delete", "already gone"
FAILURES = frozenset({CONFLICT, IMMUTABLE, FAILED, SKIPPED})


@dataclass(frozen=True)
class ApplyOptions:
    concurrency: int = 8
    force_conflicts: bool = False
    dry_run: bool = False  # server-side: every request is sent with dryRun=All; deletions are only listed
    prune: bool = False
    prune_flags: PruneFlags = PruneFlags()
    wait: bool = False
    timeout: float = 300.0  # for --wait


@dataclass
class Outcome:
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
    plan: ClusterPlan
    applied: list[Outcome] = field(default_factory=list)
    pruned: list[Outcome] = field(default_factory=list)
    prune_refused: str = ""  # the threshold refusal, or why prune was skipped
    waited: WaitResult | None = None
    requests: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (not self.plan.errors and not self.prune_refused
                and not any(o.failed for o in self.applied + self.pruned)
                and not (self.waited and self.waited.timed_out))


def apply_cluster(client: KubeClient, plan: ClusterPlan, desired: dict[str, dict], options: ApplyOptions,
                  progress=None) -> ApplyReport:
    """Apply `plan` (made with mode=APPLY) to the cluster `client` talks to."""
    progress = progress or NoProgress()
    report = ApplyReport(plan)
    failed_namespaces: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
        for stage, group in groupby(plan.changes, key=lambda c: c.stage):
            changes = list(group)
            progress.stage(f"stage {stage + 1}/{len(STAGE_NAMES)} {STAGE_NAMES[stage]}", len(changes))
            outcomes = list(pool.map(lambda c: _apply_one(client, c, options, failed_namespaces), changes))
            for change, outcome in zip(changes, outcomes):
                report.applied.append(outcome)
                progress.advance(outcome.line())
                if outcome.failed and change.desired["kind"] == "Namespace" and change.resource.group == "":
                    failed_namespaces.add(change.desired["metadata"]["name"])
        if options.prune:
            _prune(client, report, options, pool, progress)
    if options.wait and not options.dry_run and report.ok:
        objects = [(r, o) for o in desired.values() if (r := plan.resources.for_object(o)) is not None]
        report.waited = wait_ready(client, objects, options.timeout, concurrency=options.concurrency,
                                   label=object_label)
    report.requests = client.counts.snapshot()
    return report


def _apply_one(client: KubeClient, change: Change, options: ApplyOptions, failed_namespaces: set[str]) -> Outcome:
    obj = change.desired
    outcome = Outcome(obj, change.path, "")
    namespace = obj["metadata"].get("namespace")
    if change.error is not None:  # the planning dry-run already refused it: say why, send nothing
        return _failure(outcome, change.error)
    if namespace and namespace in failed_namespaces:
        outcome.result, outcome.message = SKIPPED, f"namespace {namespace} failed to apply"
        return outcome
    try:
        status, _ = client.apply(change.resource.object_path(obj), obj, dry_run=options.dry_run,
                                 force=options.force_conflicts)
    except ApiError as exc:
        if options.dry_run and exc.missing_namespace() and change.action == ADD:
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
        meta, group = outcome.obj["metadata"], group_of(outcome.obj["apiVersion"])
        kind = outcome.obj["kind"].lower() + (f".{group}" if group else "")
        where = f" -n {meta['namespace']}" if meta.get("namespace") else ""
        outcome.result = IMMUTABLE
        outcome.message = (f"field {', '.join(fields) or '(see message)'} is immutable and cannot be changed in "
                           f"place ({exc.message}). Either revert the change in tenants/, or delete the object "
                           f"(kubectl delete {kind} {meta['name']}{where}) and run tenantc apply again to "
                           "re-create it")
    else:
        outcome.result, outcome.message = FAILED, exc.message
    return outcome


def _prune(client: KubeClient, report: ApplyReport, options: ApplyOptions, pool, progress) -> None:
    decision = report.plan.prune
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
    progress.stage("prune", len(doomed))
    for _, group in groupby(doomed, key=stage_of):  # reverse stage order: jobs first, namespaces last
        objs = list(group)
        for outcome in pool.map(lambda o: _delete_one(client, report.plan.resources, o, options.dry_run), objs):
            report.pruned.append(outcome)
            progress.advance(outcome.line())


def _delete_one(client: KubeClient, resources: ResourceMap, obj: dict, dry_run: bool) -> Outcome:
    outcome = Outcome(obj, "", WOULD_DELETE if dry_run else DELETED)
    if dry_run:
        return outcome
    resource = resources.for_object(obj)
    assert resource is not None  # it was listed through this very resource
    meta = obj["metadata"]
    try:
        client.delete(resource.object_path(obj), uid=meta.get("uid"), resource_version=meta.get("resourceVersion"))
    except ApiError as exc:
        if exc.not_found:
            outcome.result = GONE
        elif exc.status == 409:
            outcome.result, outcome.message = SKIPPED, "changed since it was read; not deleted (run apply again)"
        else:
            outcome.result, outcome.message = FAILED, exc.message
    except KubeError as exc:
        outcome.result, outcome.message = FAILED, str(exc)
    return outcome


