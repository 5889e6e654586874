"""Before prune deletes a Namespace or a PersistentVolumeClaim: what would go with it.

The delivery rules (compiler.delivery) keep these kinds unless their flag is given
(--prune-namespaces, --prune-pvcs). Given, two more questions are asked of the live cluster,
because deleting a Namespace deletes everything in it, and a PVC a pod mounts is in use
(Kubernetes only defers its removal until that pod is gone; the data goes then):

  - Does a Namespace about to be pruned hold anything tenantc does not own? Every namespaced
    kind the cluster serves is listed in it (one LIST each); what is not tenantc's is named
    (capped at SHOWN per namespace) and the prune is refused, unless
    --dangerous-prune-unowned-contents.
  - Is a PVC about to be pruned mounted by a pod that this prune does not remove? Then the
    prune is refused, unless --dangerous-prune-pvcs-in-use.

A refusal stops the whole prune of the cluster, as the threshold does: deleting the other
objects of a tenant whose Namespace stays would leave what remains in it without its
quota, limits and network policies.

What counts as tenantc's in a namespace: what it owns on this cluster (prune's label rule)
and rendered/ no longer has; what its agent writes (managed-by tenantc-agent: heartbeats and
status ConfigMaps of tenantc's jobs); what Kubernetes puts in every namespace (the `default`
ServiceAccount, the `kube-root-ca.crt` ConfigMap, Events); objects already being deleted;
and objects whose owner references lead to one of those (a notebook's Pods and
ControllerRevisions, a CronJob's Jobs and their Pods, a Service's EndpointSlices; an
Endpoints object carries its Service's name instead). A pod goes with this prune when it is
in a Namespace being pruned, already being deleted, finished, or when all its owners go
(owner references followed to objects being pruned, as the garbage collector does).

diff runs these checks when it computes the change set (so it shows the refusal); apply runs
them right before deleting, on fresh reads, so nothing created in between slips through.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from compiler.identity import ObjectRef
from compiler.kinds import AGENT_MANAGED_BY_VALUE, CLUSTER_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLATFORM_LABEL
from compiler.kube.client import KubeClient
from compiler.kube.discovery import Resource, ResourceMap
from compiler.kube.errors import ApiError, KubeError
from compiler.live.prune import PruneDecision, PruneFlags, of_another_platform, owned_by_tenantc

UNOWNED_CONTENTS_FLAG = "--dangerous-prune-unowned-contents"
PVCS_IN_USE_FLAG = "--dangerous-prune-pvcs-in-use"
SHOWN = 10  # objects named per namespace; the rest are counted
NAMESPACE, PVC = ("", "Namespace"), ("", "PersistentVolumeClaim")
NOT_STORED_GROUPS = frozenset({"metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"})
EVENT_KINDS = frozenset({("", "Event"), ("events.k8s.io", "Event")})  # records about objects, not objects
EVERY_NAMESPACE = frozenset({("", "ServiceAccount", "default"), ("", "ConfigMap", "kube-root-ca.crt")})
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass
class Contents:
    """What one namespace holds: its objects (every listable namespaced kind), and the kinds
    that could not be listed (with why), which make its contents unknown."""

    objects: list[dict] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # resource ('pods', 'jobs.batch') -> why

    def why_unreadable(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in sorted(self.unreadable.items())[:3])


def guard_prune(client: KubeClient, resources: ResourceMap, decision: PruneDecision, desired: set[ObjectRef],
                cluster: str, flags: PruneFlags, concurrency: int = 8) -> str:
    """Why the prune of `decision` must not happen (reads the cluster), or "" when it may."""
    doomed = decision.allowed
    namespaces = [o for o in doomed if _group_kind(o) == NAMESPACE]
    check_namespaces = [] if flags.unowned_contents else namespaces
    check_claims = [] if flags.pvcs_in_use else [o for o in doomed if _group_kind(o) == PVC]
    if not check_namespaces and not check_claims:
        return ""
    to_read = sorted({_name(o) for o in check_namespaces} | {_namespace(o) for o in check_claims})
    contents = read_namespaces(client, resources, to_read, concurrency)
    problems = [namespace_problem(_name(ns), contents[_name(ns)], desired, cluster, decision.platform)
                for ns in check_namespaces]
    going = {_name(o) for o in namespaces}
    doomed_uids = {_uid(o) for o in doomed} - {""}
    problems += [claim_problem(claim, contents[_namespace(claim)], going, doomed_uids) for claim in check_claims]
    problems = [p for p in problems if p]
    return "refusing to prune: " + "; ".join(problems) if problems else ""


def read_namespaces(client: KubeClient, resources: ResourceMap, namespaces: list[str],
                    concurrency: int = 8) -> dict[str, Contents]:
    """Every object of every listable namespaced kind in each of `namespaces`."""
    kinds = [r for r in resources.preferred()
             if r.namespaced and r.group not in NOT_STORED_GROUPS and (r.group, r.kind) not in EVENT_KINDS]
    jobs = [(namespace, resource) for namespace in namespaces for resource in kinds]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        answers = list(pool.map(lambda job: _list_in(client, job[1], job[0]), jobs))
    out = {namespace: Contents() for namespace in namespaces}
    seen: set[str] = set()
    for (namespace, resource), (items, error) in zip(jobs, answers, strict=True):
        if error:
            out[namespace].unreadable[_kind_name(resource)] = error
        for item in items:
            uid = (item.get("metadata") or {}).get("uid", "")
            if uid and uid in seen:  # one object served under two groups
                continue
            seen.add(uid)
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            out[namespace].objects.append(item)
    return out


def namespace_problem(name: str, contents: Contents, desired: set[ObjectRef], cluster: str,
                      platform: str | None = None) -> str:
    """Why Namespace `name` must not be pruned ("" when everything in it is tenantc's)."""
    theirs = not_tenantcs(contents.objects, desired, cluster, platform)
    if not theirs and not contents.unreadable:
        return ""
    parts = []
    if theirs:
        shown = ", ".join(_short(o, desired, cluster, platform) for o in theirs[:SHOWN])
        more = ""
        if len(theirs) > SHOWN:
            kinds = Counter(ObjectRef.of(o).kubectl_kind for o in theirs)
            more = f" and {len(theirs) - SHOWN} more (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")"
        parts.append(f"it holds {len(theirs)} object(s) tenantc does not own, which would be deleted with it: "
                     f"{shown}{more}")
    if contents.unreadable:
        parts.append(f"what it holds cannot all be read ({contents.why_unreadable()})")
    return (f"Namespace {name}: " + " and ".join(parts) + f" (move or delete them first, or pass "
            f"{UNOWNED_CONTENTS_FLAG} to delete them with the namespace)")


def not_tenantcs(objects: list[dict], desired: set[ObjectRef], cluster: str,
                 platform: str | None = None) -> list[dict]:
    """The objects of one namespace that are not tenantc's (see the module docstring), sorted."""
    ours = {_uid(o) for o in objects if _ours(o, desired, cluster, platform)}
    services = {_name(o) for o in objects if _group_kind(o) == ("", "Service") and _uid(o) in ours}
    grew = True
    while grew:  # follow owner references until nothing more joins
        grew = False
        for obj in objects:
            if _uid(obj) in ours:
                continue
            owners = {ref.get("uid") for ref in _owner_refs(obj)}
            if owners & ours or (_group_kind(obj) == ("", "Endpoints") and _name(obj) in services):
                ours.add(_uid(obj))
                grew = True
    return sorted((o for o in objects if _uid(o) not in ours), key=lambda o: ObjectRef.of(o))


def claim_problem(claim: dict, contents: Contents, going_namespaces: set[str], doomed_uids: set[str]) -> str:
    """Why PVC `claim` must not be pruned ("" when no pod that stays mounts it)."""
    if "pods" in contents.unreadable:
        return (f"PersistentVolumeClaim {_namespace(claim)}/{_name(claim)}: cannot tell which pods use it "
                f"({contents.why_unreadable()}); pass {PVCS_IN_USE_FLAG} to prune it anyway")
    if _namespace(claim) in going_namespaces:
        return ""  # every pod of the namespace goes with it (and the namespace check names any that is not ours)
    by_uid = {_uid(o): o for o in contents.objects}
    going = _going(contents.objects, by_uid, doomed_uids)
    users = sorted(_name(pod) for pod in contents.objects
                   if _group_kind(pod) == ("", "Pod") and _uid(pod) not in going and _mounts(pod, _name(claim)))
    if not users:
        return ""
    shown = ", ".join(f"pod/{n}" for n in users[:SHOWN]) + (f" and {len(users) - SHOWN} more"
                                                             if len(users) > SHOWN else "")
    return (f"PersistentVolumeClaim {_namespace(claim)}/{_name(claim)} is in use by {shown}, which this prune "
            f"does not remove (stop them first, or pass {PVCS_IN_USE_FLAG})")


def _going(objects: list[dict], by_uid: dict[str, dict], doomed_uids: set[str]) -> set[str]:
    """Uids this prune removes: the doomed ones, those already going or finished, and
    dependents all of whose owners go (the garbage collector's rule)."""
    going = set(doomed_uids)
    for obj in objects:
        finished = _group_kind(obj) == ("", "Pod") and (obj.get("status") or {}).get("phase") in FINISHED_PHASES
        if finished or (obj.get("metadata") or {}).get("deletionTimestamp"):
            going.add(_uid(obj))
    grew = True
    while grew:
        grew = False
        for obj in objects:
            owners = [ref.get("uid") for ref in _owner_refs(obj)]
            if _uid(obj) not in going and owners and all(o in going for o in owners):
                going.add(_uid(obj))
                grew = True
    return going


def _mounts(pod: dict, claim: str) -> bool:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return any(((v or {}).get("persistentVolumeClaim") or {}).get("claimName") == claim for v in volumes)


def _ours(obj: dict, desired: set[ObjectRef], cluster: str, platform: str | None) -> bool:
    meta = obj.get("metadata") or {}
    group, kind = _group_kind(obj)
    if meta.get("deletionTimestamp") or (group, kind, meta.get("name")) in EVERY_NAMESPACE:
        return True
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) == AGENT_MANAGED_BY_VALUE:
        return True
    return owned_by_tenantc(obj, cluster, platform) and ObjectRef.of(obj) not in desired


def _list_in(client: KubeClient, resource: Resource, namespace: str) -> tuple[list[dict], str]:
    try:
        return client.list(resource.path(namespace)), ""
    except ApiError as exc:
        if exc.status in (404, 405):  # not listable (e.g. Bindings), or gone
            return [], ""
        return [], f"HTTP {exc.status} {exc.reason or exc.message}"
    except KubeError as exc:
        return [], str(exc)


def _short(obj: dict, desired: set[ObjectRef], cluster: str, platform: str | None) -> str:
    """'deployment.apps/web', 'configmap/manual': kubectl's kind/name (and why a
    tenantc-labelled object is not prune's to take)."""
    ref = ObjectRef.of(obj)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    note = ""
    if owned_by_tenantc(obj, cluster, platform) and ref in desired:
        note = f" (still in rendered/{cluster}/)"
    elif labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE and labels.get(CLUSTER_LABEL) != cluster:
        note = f" (tenantc's for cluster {labels.get(CLUSTER_LABEL) or '?'})"
    elif labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE and of_another_platform(labels, platform):
        note = f" (tenantc's for platform {labels[PLATFORM_LABEL]})"
    return f"{ref.kubectl_kind}/{ref.name}{note}"


def _kind_name(resource: Resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def _group_kind(obj: dict) -> tuple[str, str]:
    ref = ObjectRef.of(obj)
    return ref.group, ref.kind


def _owner_refs(obj: dict) -> Iterable[dict]:
    return (obj.get("metadata") or {}).get("ownerReferences") or []


def _uid(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("uid", "")


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _namespace(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")
