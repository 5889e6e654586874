"""Delivery rules: what no delivery of rendered/ may do, for Argo CD and `tenantc apply` alike.

Pure functions over rendered (or live) objects, read by the Argo CD output
(compiler.render.argocd, compiler.render.context) and meant for compiler.live, so a sync by
Argo CD and an apply by tenantc follow the same three rules:

1. **Kept kinds.** Namespaces and PersistentVolumeClaims hold data (deleting a Namespace
   deletes everything in it; a PVC is a member's home or a project volume). They are never
   pruned when they leave rendered/ and never deleted with their Application:
   `tenantc apply --prune` needs `--prune-namespaces` / `--prune-pvcs` (`prune_flag`), and
   Argo CD reads the annotations of `argocd_annotations` (`Prune=false,Delete=false`, and
   `IgnoreExtraneous` so a kept leftover does not hold the Application OutOfSync, which with
   self-heal would retry the sync forever).
2. **Run-time fields.** Some fields of rendered objects are changed at run time by something
   tenantc renders: today `spec.replicas` of each Fluid runtime a scheduled cache scaler
   (the agent's `scale-runtime`) resizes. `run_time_fields` finds them in the rendered objects;
   a delivery compares without them (`without_run_time_fields`) and, for an object that
   already exists, applies the live value (`with_live_values`), so it neither reverts the
   scaler nor conflicts with it. The writer is the agent's JSON merge patch (an Update
   operation) with no fieldManager, so the API server records the manager from the agent's
   User-Agent prefix: `SCALER_FIELD_MANAGER`. Likewise `spec.replicas` of every workload a
   rendered HorizontalPodAutoscaler scales (a serving's Deployment), written by the HPA
   controller in kube-controller-manager through the scale subresource (`HPA_FIELD_MANAGER`).
   Such a workload is rendered without `spec.replicas`, as Kubernetes' HPA documentation
   asks (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
   #migrating-deployments-and-statefulsets-to-horizontal-autoscaling), and a field the rendered
   object leaves out is never applied, not even at its live value: tenantc must not become a
   manager of a field the HPA changes between tenantc's read and its apply.
3. **Run once.** A Volcano Job whose spec has `ttlSecondsAfterFinished` is deleted by
   Volcano's garbage collector once it finishes; whatever made it then makes it again if
   it reconciles to "the job exists": Argo CD (a resource in Git and missing live is
   OutOfSync, and an automated sync creates it) or the JobFlow controller (it creates every
   flow step whose job is missing, on each sync of the flow). So the ttl is kept only where
   the creator never re-creates a deleted job: a Volcano CronJob's job template
   (`finished_ttl_allowed`).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from compiler import fluid
from compiler.agent import contract
from compiler.identity import ObjectRef
from compiler.kinds import COMPARE_OPTIONS_ANNOTATION, SYNC_OPTIONS_ANNOTATION, group_of

# -- 1. kept kinds ---------------------------------------------------------------------------
KEPT_KINDS: dict[tuple[str, str], str] = {
    ("", "Namespace"): "--prune-namespaces",
    ("", "PersistentVolumeClaim"): "--prune-pvcs",
}
"""(group, kind) -> the `tenantc apply --prune` flag without which an object of it is kept."""

ARGOCD_KEEP_SYNC_OPTIONS = "Prune=false,Delete=false"
ARGOCD_KEEP_COMPARE_OPTIONS = "IgnoreExtraneous"


def _group_kind(obj: dict) -> tuple[str, str]:
    return group_of(obj.get("apiVersion", "")), obj.get("kind", "")


def is_kept(obj: dict) -> bool:
    """True for objects no delivery deletes unless explicitly asked (Namespaces, PVCs)."""
    return _group_kind(obj) in KEPT_KINDS


def prune_flag(obj: dict) -> str | None:
    """The `tenantc apply --prune` flag that allows pruning `obj`, or None when prune may
    delete it like any other object it owns."""
    return KEPT_KINDS.get(_group_kind(obj))


def argocd_annotations(obj: dict) -> dict[str, str]:
    """Argo CD annotations a rendered object carries for these rules (empty for most)."""
    if not is_kept(obj):
        return {}
    return {SYNC_OPTIONS_ANNOTATION: ARGOCD_KEEP_SYNC_OPTIONS,
            COMPARE_OPTIONS_ANNOTATION: ARGOCD_KEEP_COMPARE_OPTIONS}


# -- 2. run-time fields ----------------------------------------------------------------------
SCALED_FIELD = ("spec", "replicas")  # what `tenantc-agent scale-runtime` patches, and nothing else
SCALER_FIELD_MANAGER = "tenantc-agent"  # the agent's User-Agent up to the first "/" (see module doc)
HPA_FIELD_MANAGER = "kube-controller-manager"  # the HPA controller's User-Agent prefix
HPA_KIND = ("autoscaling", "HorizontalPodAutoscaler")
UPDATE = "Update"  # managedFields operation of a merge patch
_RUNTIME_KINDS = {kind.lower(): kind for kind in fluid.RUNTIME_KINDS.values()}


@dataclass(frozen=True, order=True)
class RunTimeField:
    """One field of one rendered object that something else owns once the object runs."""

    ref: ObjectRef
    path: tuple[str, ...]  # e.g. ("spec", "replicas")
    manager: str = SCALER_FIELD_MANAGER  # managedFields manager of the run-time writer
    operation: str = UPDATE  # its managedFields operation

    @property
    def json_pointer(self) -> str:
        """RFC 6901 pointer, as Argo CD's ignoreDifferences.jsonPointers take it."""
        return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in self.path)

    @property
    def dotted(self) -> str:
        """'spec.replicas': how diffs and drift reports name a field."""
        return ".".join(self.path)


def run_time_fields(objects: Iterable[dict]) -> list[RunTimeField]:
    """The run-time fields of a set of rendered objects (one cluster's, or one unit's): the
    `spec.replicas` of every Fluid runtime that a rendered scale-runtime container targets and
    of every workload a rendered HorizontalPodAutoscaler scales. Sorted, without duplicates;
    the scaled object itself need not be among `objects`."""
    found = set()
    for obj in objects:
        if _group_kind(obj) == HPA_KIND:
            found.add(_hpa_target(obj))
            continue
        for args in _agent_args(obj):
            if not args or args[0] != contract.SCALE_RUNTIME:
                continue
            parsed = contract.parse(args)
            kind, _, name = parsed.target.partition("/")
            runtime = _RUNTIME_KINDS.get(kind.lower())
            if runtime is None:
                raise ValueError(f"{ObjectRef.of(obj)}: scale-runtime targets {parsed.target!r}, "
                                 f"not a Fluid runtime ({', '.join(sorted(_RUNTIME_KINDS.values()))})")
            found.add(RunTimeField(ObjectRef(fluid.GROUP, runtime, parsed.namespace, name), SCALED_FIELD))
    return sorted(found)


def _hpa_target(hpa: dict) -> RunTimeField:
    target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    ref = ObjectRef(group_of(target.get("apiVersion", "")), target.get("kind", ""),
                    (hpa.get("metadata") or {}).get("namespace") or "", target.get("name", ""))
    return RunTimeField(ref, SCALED_FIELD, HPA_FIELD_MANAGER)


def _agent_args(obj: dict) -> Iterator[list[str]]:
    """The args of every container and init container in any pod template of `obj`."""
    stack: list = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("containers", "initContainers"):
                containers = node.get(key)
                for container in containers if isinstance(containers, list) else []:
                    if isinstance(container, dict) and isinstance(container.get("args"), list):
                        yield [str(a) for a in container["args"]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def fields_of(obj: dict, fields: Iterable[RunTimeField]) -> list[RunTimeField]:
    """The run-time fields among `fields` that belong to `obj` (rendered or live)."""
    ref = ObjectRef.of(obj)
    return [f for f in fields if f.ref == ref]


def without_run_time_fields(obj: dict, fields: Iterable[RunTimeField]) -> dict:
    """A copy of `obj` without its run-time fields: what to compare (diff, drift, ownership)."""
    out = copy.deepcopy(obj)
    for f in fields_of(obj, fields):
        _pop(out, f.path)
    return out


def with_live_values(desired: dict, live: dict | None, fields: Iterable[RunTimeField]) -> dict:
    """What to apply: `desired` with each of its run-time fields set to the live value (or
    left out where live has none). For an object not yet live, `desired` as it is: the
    rendered value is the initial one. The same as Argo CD's RespectIgnoreDifferences=true.
    A run-time field `desired` leaves out (an HPA's target's replicas) stays out.

    Applying the live value never conflicts (server-side apply reports a conflict only for a
    value that differs from another manager's) and never reverts the run-time writer."""
    if live is None:
        return desired
    out = copy.deepcopy(desired)
    for f in fields_of(desired, fields):
        if not _get(desired, f.path)[0]:
            continue  # never rendered: never applied, so never owned by tenantc
        present, value = _get(live, f.path)
        if present:
            _set(out, f.path, copy.deepcopy(value))
        else:
            _pop(out, f.path)
    return out


def _get(obj: dict, path: tuple[str, ...]) -> tuple[bool, object]:
    node: object = obj
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(obj: dict, path: tuple[str, ...], value: object) -> None:
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _pop(obj: dict, path: tuple[str, ...]) -> None:
    node: object = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)


# -- 3. run once -----------------------------------------------------------------------------
FINISHED_TTL_FIELD = "ttlSecondsAfterFinished"
TTL_SAFE_HOLDERS = frozenset({("batch.volcano.sh", "CronJob")})
"""Kinds holding a Volcano job spec whose jobs are never re-created once deleted."""


def finished_ttl_allowed(group: str, kind: str) -> bool:
    """May a Volcano job spec drawn inside an object of (group, kind) carry
    ttlSecondsAfterFinished? Only in a Volcano CronJob's job template: not in a Job
    delivered from Git (the delivery re-creates it, and it runs again), not in a JobTemplate
    (the JobFlow controller re-creates a flow step's missing job, and the step runs again)."""
    return (group, kind) in TTL_SAFE_HOLDERS
