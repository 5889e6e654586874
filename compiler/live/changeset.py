"""Change sets: which desired objects differ from live, confirmed by the API server.

`cluster_change_set` is shared by `diff` and `apply` (the word "plan" belongs to the compile
stage, compiler/plan). After the LISTs (read.py), objects that pass the local test
(normalize.unchanged) cost nothing more. The others are confirmed with a server-side
dry-run apply, whose result is what the diff shows: the server's defaulting, admission and
field ownership have the last word, not our model of them.

Run-time fields (compiler.delivery, the rules Argo CD follows too): fields of rendered
objects that something tenantc renders changes at run time, today the replicas of a Fluid
runtime the scheduled cache scaler resizes. They are found once per cluster in its desired
objects; the comparison leaves them out on both sides (values, tenantc's field ownership,
drift), and what is sent (dry-run and apply) carries their live value, so tenantc neither
reverts the scaler nor conflicts with it. An object not yet live gets the rendered value.

Modes differ in two places only:
  diff   desired objects missing from the LISTs are looked up (GET), so the report can
         tell added from changed; dry-runs force conflicts, so the whole would-be result
         is shown and fields owned by other managers are reported as drift.
  apply  objects missing from the LISTs are certainly changes (tenantc's labels are not
         on them live), so they are not looked up or dry-run: the apply itself is the
         one request. Dry-runs honour --force-conflicts, so a conflict is found before
         anything is written.
Diff also asks what a pruned Namespace or PVC would take with it (prune_guard); apply asks
that right before it deletes, on fresh reads.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from compiler import delivery
from compiler.identity import ObjectRef
from compiler.kinds import stage_of
from compiler.kube.client import KubeClient
from compiler.kube.config import Target
from compiler.kube.discovery import Resource, ResourceMap, discover
from compiler.kube.errors import ApiError
from compiler.live import normalize
from compiler.live.prune import DEFAULT_FLAGS, PruneDecision, PruneFlags, decide_prune, platform_of, tenant_of
from compiler.live.prune_guard import guard_prune
from compiler.live.read import LiveState, crd_schemas, fetch_missing, read_owned, resources_to_read
from compiler.redact import mask_pair

DIFF, APPLY = "diff", "apply"
_DESIRED_VIEW = object()  # Change.after_view: the masked view of the desired object, made when asked for
ADD, CHANGE = "add", "change"


@dataclass(frozen=True)
class Drift:
    """A field whose live value tenantc would change, and who set it."""

    field: str
    managers: tuple[str, ...]


@dataclass
class Change:
    """One object apply would send, with the masked views of before and after."""

    action: str  # ADD or CHANGE
    path: str  # under rendered/: 'cluster/tenant/file.yaml'
    desired: dict  # what apply sends; never printed (before/after are the masked views)
    resource: Resource
    before: dict | None = None  # live, cleaned, secrets masked
    after_view: object = None  # `after`, or _DESIRED_VIEW: made from `desired` when first asked for
    drift: list[Drift] = field(default_factory=list)
    ownership_only: bool = False  # same content; only tenantc's field ownership would change
    note: str = ""
    error: ApiError | None = None  # the dry-run was refused (conflict, immutable field, invalid)

    @property
    def after(self) -> dict | None:
        """The server's dry-run result (or the desired object), cleaned, secrets masked. Apply adds
        thousands of objects on a first apply and shows none of them: their view is made only when
        a report asks for it."""
        if self.after_view is _DESIRED_VIEW:
            self.after_view = _view(self.desired)
        return cast("dict | None", self.after_view)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.of(self.desired)

    @property
    def tenant(self) -> str:
        return tenant_of(self.desired)

    @property
    def stage(self) -> int:
        return stage_of(self.desired)


@dataclass
class ClusterChangeSet:
    """What apply would change on one cluster, what prune would delete, and what it cost to find out."""

    target: Target
    server: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    prune: PruneDecision = field(default_factory=PruneDecision)
    errors: list[str] = field(default_factory=list)  # kinds not served, dry-runs refused for other reasons
    requests: dict = field(default_factory=dict)  # counts after computing it
    resources: ResourceMap = field(default_factory=lambda: ResourceMap([]))  # what the cluster serves

    @property
    def differences(self) -> bool:
        return bool(self.changes or self.prune.delete)


def object_label(obj: dict) -> str:
    """'ResourceQuota vision/tenant-quota', 'Namespace vision': an object in a sentence."""
    return ObjectRef.of(obj).short


# One desired object that needs the server's word: (path, object, its resource, live or None).
_Pending = tuple[str, dict, Resource, "dict | None"]


def cluster_change_set(client: KubeClient, target: Target, desired: dict[str, dict], *, mode: str = DIFF,
                       concurrency: int = 8, prune_flags: PruneFlags = DEFAULT_FLAGS,
                       force_conflicts: bool = False) -> ClusterChangeSet:
    """Compare `desired` (rendered/ paths -> objects of this cluster) with the cluster `client` reaches."""
    resources = discover(client, list(desired.values()))
    change_set = ClusterChangeSet(target, client.host, resources=resources)
    collections, unserved = resources_to_read(list(desired.values()), resources)
    change_set.errors += [f"{kind} is not served by this cluster (is its CRD installed?)" for kind in unserved]
    state = read_owned(client, collections, concurrency)
    served = {path: obj for path, obj in desired.items() if resources.for_object(obj) is not None}
    if mode == DIFF:
        missing = [obj for obj in served.values() if ObjectRef.of(obj) not in state.objects]
        fetch_missing(client, resources, missing, state, concurrency)
    # A CRD's schema (its defaults) only matters when comparing with a live object of its kind: a
    # first apply, with nothing live, reads none of these large objects.
    compared = {resources.for_object(o) for o in served.values() if ObjectRef.of(o) in state.objects}
    schemas = crd_schemas(client, [r for r in collections if r in compared], concurrency)

    run_time = delivery.run_time_fields(desired.values())
    to_confirm = _decide_locally(change_set, served, state, schemas, mode, run_time)
    force = True if mode == DIFF else force_conflicts
    _confirm(client, change_set, to_confirm, force, concurrency, run_time)
    change_set.changes.sort(key=lambda c: (c.stage, c.path))
    desired_refs = {ObjectRef.of(o) for o in desired.values()}
    change_set.prune = decide_prune(state.listed, desired_refs, target.cluster, prune_flags,
                                    platform_of(desired.values()))
    if mode == DIFF and not change_set.prune.refused:  # apply asks right before deleting (apply.prune_cluster)
        change_set.prune.refused = guard_prune(client, resources, change_set.prune, desired_refs, target.cluster,
                                               prune_flags, concurrency)
    change_set.requests = client.counts.snapshot()
    return change_set


def _decide_locally(change_set: ClusterChangeSet, served: dict[str, dict], state: LiveState,
                    schemas: dict[Resource, dict], mode: str,
                    run_time: list[delivery.RunTimeField]) -> list[_Pending]:
    """Count what is certainly unchanged, add what is certainly new (apply mode); return the rest."""
    resources = change_set.resources
    to_confirm: list[_Pending] = []
    for path, obj in served.items():
        resource = resources.for_object(obj)
        assert resource is not None
        live = state.objects.get(ObjectRef.of(obj))
        if live is not None and _unchanged(obj, live, schemas.get(resource), run_time):
            change_set.unchanged += 1
        elif live is None and mode == APPLY:
            change_set.changes.append(Change(ADD, path, obj, resource, None, _DESIRED_VIEW,
                                             note="not found by the labelled LIST: created or labelled by the apply"))
        else:
            to_confirm.append((path, obj, resource, live))
    return to_confirm


def _unchanged(obj: dict, live: dict, schema: dict | None, run_time: list[delivery.RunTimeField]) -> bool:
    """normalize.unchanged, comparing without the object's run-time fields (on both sides)."""
    own = delivery.fields_of(obj, run_time)
    if not own:
        return normalize.unchanged(obj, live, schema)
    return normalize.unchanged(delivery.without_run_time_fields(obj, own), delivery.without_run_time_fields(live, own),
                               schema, ignored=[f.path for f in own])


def _confirm(client: KubeClient, change_set: ClusterChangeSet, to_confirm: list[_Pending], force: bool,
             concurrency: int, run_time: list[delivery.RunTimeField]) -> None:
    """Dry-run apply each pending object (run-time fields at their live values); what the
    server says would change is a change."""
    adding = {ObjectRef.of(o) for _, o, _, live in to_confirm if live is None}
    to_send = [(path, delivery.with_live_values(obj, live, run_time), resource, live)
               for path, obj, resource, live in to_confirm]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(lambda item: _dry_run(client, item[2], item[1], force), to_send))
    for (path, obj, resource, live), (result, error) in zip(to_send, outcomes, strict=True):
        change = _confirmed(path, obj, resource, live, result, error, adding,
                            [f.path for f in delivery.fields_of(obj, run_time)])
        if change is None:
            change_set.unchanged += 1
            continue
        change_set.changes.append(change)
        if change.error is not None and not change.error.conflict and not change.error.immutable:
            change_set.errors.append(f"{object_label(obj)}: {change.error.message}")


def _dry_run(client: KubeClient, resource: Resource, obj: dict, force: bool) -> tuple[dict | None, ApiError | None]:
    try:
        return client.apply(resource.object_path(obj), obj, dry_run=True, force=force)[1], None
    except ApiError as exc:
        return None, exc


def _confirmed(path: str, obj: dict, resource: Resource, live: dict | None, result: dict | None,
               error: ApiError | None, adding: set[ObjectRef], ignored: list[tuple[str, ...]]) -> Change | None:
    """The change the server confirmed, or None when the dry-run shows nothing would change.
    `ignored`: the object's run-time field paths, left out of the comparison, ownership and drift."""
    action = ADD if live is None else CHANGE
    before = normalize.clean(live) if live is not None else None
    if error is not None:
        namespace = obj["metadata"].get("namespace")
        if live is None and error.missing_namespace and ObjectRef("", "Namespace", "", namespace) in adding:
            return Change(ADD, path, obj, resource, None, _view(obj), note=f"namespace {namespace} is created first")
        view_before, _ = mask_pair(before, None)
        return Change(action, path, obj, resource, view_before, _view(obj), error=error)
    assert result is not None
    after = normalize.clean(result)
    compared_before, compared_after = _without(before, ignored), _without(after, ignored)
    if live is not None and compared_before == compared_after:
        if _owned(result, ignored) == _owned(live, ignored):
            return None
        view_before, view_after = mask_pair(before, after)
        return Change(CHANGE, path, obj, resource, view_before, view_after, ownership_only=True,
                      note="same content; tenantc's field ownership changes")
    drift = []
    if live is not None:
        for changed in normalize.changed_paths(compared_before, compared_after):
            owners = normalize.other_owners(live, changed)
            if owners:
                drift.append(Drift(normalize.dotted(changed), tuple(owners)))
    view_before, view_after = mask_pair(before, after)
    return Change(action, path, obj, resource, view_before, view_after, drift)


def _without(obj: dict | None, paths: list[tuple[str, ...]]) -> dict | None:
    if obj is None or not paths:
        return obj
    out = copy.deepcopy(obj)
    for field_path in paths:
        normalize.pop_path(out, field_path)
    return out


def _owned(obj: dict, ignored: list[tuple[str, ...]]) -> set[tuple[str, ...]] | None:
    """The leaves tenantc owns through Apply, except run-time fields (None: it applied nothing)."""
    owned = normalize.owned_leaves(obj)
    return None if owned is None else normalize.without_paths(owned, ignored)


def _view(obj: dict) -> dict | None:
    return mask_pair(None, normalize.clean(obj))[1]
