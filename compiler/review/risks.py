"""Risk flags: changes a reviewer must look at twice, each with the object and the reason.

Rules read rendered objects only (not tenantc's own spec fields), so they hold for any
renderer that produces the kind: Namespaces, PVCs, RoleBindings, NetworkPolicies, pod
templates (StatefulSet, batch and Volcano Jobs, CronJobs) and Fluid Datasets. Widening is
judged per namespace, not per object, so moving a rule from one policy or binding to
another is not an opening, and a subject going from edit to admin is.
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from compiler.kinds import (
    MEMBER_ROLE_PREFIX,
    NAMESPACE_NAME_LABEL,
    PLATFORM_TENANT,
    SOURCE_ANNOTATION,
    TENANT_LABEL,
)
from compiler.quantity import Quantity, QuantityError
from compiler.review.compare import ObjectChange, ObjectKey, index

DANGER, WARNING = "danger", "warning"

# rule -> what it means; docs/review.md and the JSON output use these ids.
RULES = {
    "data-removed": "a Namespace, PersistentVolumeClaim or Dataset is removed: apply --prune deletes its data",
    "quota-lowered": "a ResourceQuota limit is lowered (or set where there was none)",
    "quota-below-usage": "a lowered quota is below what the tenant uses now on the live cluster (--kubeconfig)",
    "network-opened": "a NetworkPolicy lets in or out a namespace, tenant or CIDR (or ports) it did not before",
    "rbac-widened": "a subject gets edit, admin or cluster-admin where it had less",
    "workload-moved": "a job or notebook moves to another cluster or node pool",
    "dataset-shared": "a dataset is exported to a tenant that did not mount it before",
    "dataset-writable": "a dataset (or a mount of one) becomes writable",
}

# (cluster, namespace, name of a ResourceQuota) -> status.used, or None when not there.
UsageReader = Callable[[str, str, str], "dict[str, str] | None"]

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_RANK = {"view": 1, "edit": 2, "admin": 3, "cluster-admin": 4}
PRIVILEGED_RANK = 2  # edit and above
DATA_KINDS = {
    ("", "Namespace"): "deleting the namespace deletes everything in it, volumes included",
    ("", "PersistentVolumeClaim"): "the volume and its data would be pruned",
    ("data.fluid.io", "Dataset"): "the dataset and its cache would be pruned",
}
DATASET = ("data.fluid.io", "Dataset")
DATASET_SCHEME = "dataset://"


@dataclass(frozen=True)
class Risk:
    rule: str
    severity: str
    key: ObjectKey
    tenant: str
    reason: str
    source: str = ""  # spec file to annotate
    cross_tenant: bool = False  # needs the platform owners' approval
    involves: tuple[str, ...] = ()  # other tenants whose owners must approve


@dataclass
class RiskContext:
    """What the rules may look at besides the changes themselves."""

    base_objects: dict[str, dict]
    head_objects: dict[str, dict]
    tenants: set[str] = field(default_factory=set)  # tenant names of either revision
    # (tenant, dataset) the head's platform file gives every tenant: a platform decision, approved
    # with the platform file, so a new tenant receiving one is not a new export.
    global_datasets: set[tuple[str, str]] = field(default_factory=set)
    pools: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # cluster -> pool -> labels
    usage: UsageReader | None = None


def find_risks(changes: list[ObjectChange], ctx: RiskContext) -> list[Risk]:
    risks: list[Risk] = []
    for rule in (data_removed, quota_lowered, network_opened, rbac_widened, workload_moved, dataset_risks):
        risks.extend(rule(changes, ctx))
    order = {DANGER: 0, WARNING: 1}
    return sorted(risks, key=lambda r: (order[r.severity], r.key.cluster, r.tenant, r.rule, r.key, r.reason))


def _risk(rule: str, severity: str, change: ObjectChange, reason: str, **extra) -> Risk:
    return Risk(rule, severity, change.key, change.tenant, reason, change.source, **extra)


def _risk_on(rule: str, severity: str, key: ObjectKey, obj: dict, reason: str, **extra) -> Risk:
    """A risk on an object that may itself be unchanged (the policy that now allows a peer)."""
    meta = obj.get("metadata") or {}
    tenant = (meta.get("labels") or {}).get(TENANT_LABEL) or key.namespace or PLATFORM_TENANT
    return Risk(rule, severity, key, tenant, reason, (meta.get("annotations") or {}).get(SOURCE_ANNOTATION, ""),
                **extra)


# -- data ---------------------------------------------------------------------------------

def data_removed(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    for c in changes:
        why = DATA_KINDS.get((c.key.group, c.key.kind))
        if c.change != "removed" or not why:
            continue
        if (c.key.group, c.key.kind) == DATASET and _only_references(c.old or {}):
            continue  # a reference to another tenant's dataset: removing it leaves the data alone
        yield _risk("data-removed", DANGER, c, f"{c.key.kind} removed: {why}")


# -- quotas -------------------------------------------------------------------------------

def quota_lowered(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    for c in changes:
        if c.change != "changed" or (c.key.group, c.key.kind) != ("", "ResourceQuota"):
            continue
        old_hard = (c.old or {}).get("spec", {}).get("hard") or {}
        new_hard = (c.new or {}).get("spec", {}).get("hard") or {}
        lowered = [(r, old_hard.get(r), new_hard[r]) for r in sorted(new_hard)
                   if r not in old_hard or _less(new_hard[r], old_hard[r])]
        if not lowered:
            continue
        yield _risk("quota-lowered", WARNING, c, "; ".join(
            f"{r}: {old if old is not None else '(no limit)'} -> {new}" for r, old, new in lowered))
        used = ctx.usage(c.key.cluster, c.key.namespace, c.key.name) if ctx.usage else None
        over = [(r, used[r], new) for r, _, new in lowered if used and r in used and _less(new, used[r])]
        if over:
            yield _risk("quota-below-usage", DANGER, c, "; ".join(
                f"{r}: {u} in use now, new limit {new}" for r, u, new in over)
                + " (new pods would be refused until usage falls)")


def _less(a: object, b: object) -> bool:
    try:
        return Quantity.parse(a).value < Quantity.parse(b).value  # type: ignore[arg-type]
    except QuantityError:
        return False


# -- network ------------------------------------------------------------------------------

Peer = tuple[str, str, str]  # (direction, kind, value): ('ingress', 'namespace', 'recsys')
Ports = frozenset | None  # None: all ports


def network_opened(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    scopes = {(c.key.cluster, c.key.namespace) for c in changes if _is(c.key, "networking.k8s.io", "NetworkPolicy")}
    if not scopes:
        return
    before = _by_scope(ctx.base_objects, "networking.k8s.io", "NetworkPolicy")
    after = _by_scope(ctx.head_objects, "networking.k8s.io", "NetworkPolicy")
    namespaces_before = {(k.cluster, k.name) for k in index(ctx.base_objects) if (k.group, k.kind) == ("", "Namespace")}
    touched = {c.key for c in changes}
    baselines: dict[str, dict[Peer, tuple[Ports, list]]] = {}
    for scope in sorted(scopes):
        cluster, namespace = scope
        old = _peers(before.get(scope, []))
        brand_new = scope not in namespaces_before and not old
        if brand_new:
            # A new namespace: what every existing namespace of the cluster already has (DNS,
            # monitoring, the API server) is the platform's standard, not an opening to review.
            if cluster not in baselines:
                baselines[cluster] = _baseline([_peers(p) for (c, _), p in before.items() if c == cluster])
            old = baselines[cluster]
        new = _peers(after.get(scope, []))
        for peer, (ports, policies) in sorted(new.items(), key=lambda item: item[0]):
            direction, kind, value = peer
            if kind == "namespace" and (value == namespace or (brand_new and value not in ctx.tenants)):
                continue  # its own pods; a new tenant's access from platform namespaces (ingress, monitoring)
            widened = _widening(peer, ports, old)
            if widened is None:
                continue
            key, obj = next(((k, o) for k, o in policies if k in touched), policies[0])  # name a changed policy
            other_tenant = kind == "namespace" and value in ctx.tenants
            cross = other_tenant or kind in ("all-namespaces", "namespaces", "anywhere")
            yield _risk_on("network-opened", WARNING, key, obj,
                           f"{_describe_peer(peer, other_tenant)} {widened}", cross_tenant=cross)


def _by_scope(objects: dict[str, dict], group: str, kind: str) -> dict[tuple[str, str], list[tuple[ObjectKey, dict]]]:
    out: dict[tuple[str, str], list[tuple[ObjectKey, dict]]] = {}
    for path, obj in objects.items():
        if obj.get("kind") != kind:
            continue
        key = ObjectKey.of(path, obj)
        if key.group == group:
            out.setdefault((key.cluster, key.namespace), []).append((key, obj))
    return out


def _peers(policies: list[tuple[ObjectKey, dict]]) -> dict[Peer, tuple[Ports, list[tuple[ObjectKey, dict]]]]:
    """Everything a namespace's policies let in and out: peer -> (ports, the policies allowing it)."""
    out: dict[Peer, tuple[Ports, list[tuple[ObjectKey, dict]]]] = {}
    for key, policy in sorted(policies, key=lambda p: p[0]):
        spec = policy.get("spec") or {}
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        for direction, rules_key, peers_key in (("Ingress", "ingress", "from"), ("Egress", "egress", "to")):
            if direction not in types:
                continue
            for rule in spec.get(rules_key) or []:
                ports = _ports(rule.get("ports"))
                targets = [t for p in rule.get(peers_key) or [] for t in _peer(p)] if rule.get(peers_key) \
                    else [("anywhere", "")]
                for kind, value in targets:
                    peer = (direction.lower(), kind, value)
                    if peer in out:
                        known, allowing = out[peer]
                        out[peer] = (None if known is None or ports is None else known | ports,
                                     allowing + [(key, policy)] if allowing[-1][0] != key else allowing)
                    else:
                        out[peer] = (ports, [(key, policy)])
    return out


def _peer(peer: dict) -> list[tuple[str, str]]:
    if "ipBlock" in peer:
        return [("cidr", str(peer["ipBlock"].get("cidr", "")))]
    selector = peer.get("namespaceSelector")
    if selector is None:
        return []  # pods of the policy's own namespace
    labels, expressions = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    if not labels and not expressions:
        return [("all-namespaces", "")]
    if set(labels) == {NAMESPACE_NAME_LABEL} and not expressions:
        return [("namespace", labels[NAMESPACE_NAME_LABEL])]
    if not labels and len(expressions) == 1 and expressions[0].get("key") == NAMESPACE_NAME_LABEL \
            and expressions[0].get("operator") == "In":
        return [("namespace", v) for v in expressions[0].get("values") or []]
    return [("namespaces", json.dumps(selector, sort_keys=True, separators=(",", ":")))]


def _baseline(namespaces: list[dict[Peer, tuple[Ports, list]]]) -> dict[Peer, tuple[Ports, list]]:
    """Peers (with the ports) that every one of `namespaces` allows."""
    if not namespaces:
        return {}
    common = dict(namespaces[0])
    for peers in namespaces[1:]:
        for peer in list(common):
            if peer not in peers:
                del common[peer]
                continue
            a, b = common[peer][0], peers[peer][0]
            narrowest = b if a is None else a if b is None else a & b
            common[peer] = (narrowest, common[peer][1])
    return common


def _ports(ports: list | None) -> Ports:
    if not ports:
        return None
    return frozenset(f"{p.get('protocol', 'TCP')}/{p.get('port', '*')}"
                     + (f"-{p['endPort']}" if p.get("endPort") else "") for p in ports)


def _covers(old: Ports, new: Ports) -> bool:
    return old is None or (new is not None and new <= old)


def _widening(peer: Peer, ports: Ports, old: dict[Peer, tuple[Ports, list]]) -> str | None:
    """None when `old` already allowed this; else how it widens ('is new', 'now on all ports')."""
    direction, kind, value = peer
    if kind == "cidr":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            network = None
        for (d, k, v), (old_ports, _) in old.items():
            if d == direction and k == "cidr" and network is not None and _covers(old_ports, ports):
                try:
                    if network.subnet_of(ipaddress.ip_network(v, strict=False)):  # type: ignore[arg-type]
                        return None
                except (ValueError, TypeError):  # another address family, or not a CIDR
                    continue
    if peer in old:
        old_ports = old[peer][0]
        if _covers(old_ports, ports):
            return None
        if ports is None:
            return f"now on all ports (was {', '.join(sorted(old_ports or ()))})"
        return f"gains port(s) {', '.join(sorted(ports - (old_ports or frozenset())))}"
    return "is new" + ("" if ports is None else f" (ports {', '.join(sorted(ports))})")


def _describe_peer(peer: Peer, other_tenant: bool) -> str:
    direction, kind, value = peer
    side = "ingress from" if direction == "ingress" else "egress to"
    what = {
        "namespace": f"tenant {value}" if other_tenant else f"namespace {value}",
        "cidr": f"CIDR {value}",
        "all-namespaces": "every namespace",
        "namespaces": f"namespaces matching {value}",
        "anywhere": "anywhere",
    }[kind]
    return f"{side} {what}"


# -- RBAC ---------------------------------------------------------------------------------

def rbac_widened(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    kinds = ("RoleBinding", "ClusterRoleBinding")
    scopes = {(c.key.cluster, c.key.namespace) for c in changes if c.key.group == RBAC_GROUP and c.key.kind in kinds}
    if not scopes:
        return
    before = {**_by_scope(ctx.base_objects, RBAC_GROUP, "RoleBinding"),
              **_by_scope(ctx.base_objects, RBAC_GROUP, "ClusterRoleBinding")}
    after = {**_by_scope(ctx.head_objects, RBAC_GROUP, "RoleBinding"),
             **_by_scope(ctx.head_objects, RBAC_GROUP, "ClusterRoleBinding")}
    for scope in sorted(scopes):
        old, new = _grants(before.get(scope, [])), _grants(after.get(scope, []))
        for subject, (rank, role, key, obj) in sorted(new.items(), key=lambda item: item[0]):
            had = old.get(subject, (0, "", key, obj))
            if rank < PRIVILEGED_RANK or rank <= had[0]:
                continue
            where = f"in namespace {scope[1]}" if scope[1] else "on the whole cluster"
            was = f" (was {had[1]})" if had[1] else ""
            cross = not scope[1] or _foreign_account(subject, scope[1])
            yield _risk_on("rbac-widened", WARNING, key, obj, f"{subject} gets {role} {where}{was}", cross_tenant=cross)


def _grants(bindings: list[tuple[ObjectKey, dict]]) -> dict[str, tuple[int, str, ObjectKey, dict]]:
    """Subject -> (highest rank, role, binding granting it) across a namespace's bindings."""
    out: dict[str, tuple[int, str, ObjectKey, dict]] = {}
    for key, binding in sorted(bindings, key=lambda b: b[0]):
        role = (binding.get("roleRef") or {}).get("name", "").removeprefix(MEMBER_ROLE_PREFIX)  # members' roles
        rank = ROLE_RANK.get(role, 0)
        for s in binding.get("subjects") or []:
            subject = f"{s.get('kind')} {s.get('name')}" + (f" ({s['namespace']})" if s.get("namespace") else "")
            if subject not in out or rank > out[subject][0]:
                out[subject] = (rank, role, key, binding)
    return out


def _foreign_account(subject: str, namespace: str) -> bool:
    """A ServiceAccount of another namespace: the grant crosses tenants."""
    return subject.startswith("ServiceAccount ") and subject.endswith(")") and not subject.endswith(f"({namespace})")


# -- workloads ----------------------------------------------------------------------------

def workload_moved(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    removed = {}
    for c in changes:
        if c.change == "removed" and pod_specs(c.old or {}):
            removed.setdefault((c.key.api_version, c.key.kind, c.key.namespace, c.key.name), []).append(c)
    for c in changes:
        if c.change == "added" and pod_specs(c.new or {}):
            for gone in removed.get((c.key.api_version, c.key.kind, c.key.namespace, c.key.name), []):
                yield _risk("workload-moved", WARNING, c, f"moves from cluster {gone.key.cluster} to "
                            f"{c.key.cluster} (the one on {gone.key.cluster} is deleted)")
        elif c.change == "changed":
            old, new = pod_specs(c.old or {}), pod_specs(c.new or {})
            for name in sorted(set(old) & set(new)):
                a, b = placement(old[name]), placement(new[name])
                if a != b:
                    pools = ctx.pools.get(c.key.cluster, {})
                    what = f"{name}: " if name else ""
                    yield _risk("workload-moved", WARNING, c,
                                f"{what}moves from {_describe_placement(a, pools)} to {_describe_placement(b, pools)}")


def pod_specs(obj: dict) -> dict[str, dict]:
    """Pod specs of a workload by template name ('' for the only one, 'task <name>' for Volcano
    tasks): StatefulSet/Deployment/Job templates, CronJob job templates, Volcano Job tasks."""
    out: dict[str, dict] = {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    job = (spec.get("jobTemplate") or {}).get("spec") if isinstance(spec.get("jobTemplate"), dict) else None
    for owner in (spec, job or {}):
        template = owner.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            out[""] = template["spec"]
        for task in owner.get("tasks") or []:
            if isinstance(task, dict) and isinstance((task.get("template") or {}).get("spec"), dict):
                out[f"task {task.get('name', '?')}"] = task["template"]["spec"]
    return out


def placement(pod_spec: dict) -> frozenset[frozenset[str]]:
    """Where a pod may run, as alternatives (node-affinity terms, ORed), each a set of 'key=value'
    requirements (ANDed; 'key=a|b' for In with several values); nodeSelector joins every term."""
    fixed = {f"{k}={v}" for k, v in (pod_spec.get("nodeSelector") or {}).items()}
    if pod_spec.get("nodeName"):
        fixed.add(f"nodeName={pod_spec['nodeName']}")
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = [{f"{e.get('key')}={'|'.join(sorted(e.get('values') or []))}"
              for e in term.get("matchExpressions") or [] if e.get("operator") == "In"}
             for term in required.get("nodeSelectorTerms") or []]
    return frozenset(frozenset(fixed | term) for term in terms or [set()] if fixed | term)


def _describe_placement(terms: frozenset[frozenset[str]], pools: dict[str, dict[str, str]]) -> str:
    """'pool gpu-a100' when every alternative picks platform pools, else the labels themselves."""
    if not terms:
        return "any node"
    names: set[str] = set()
    for term in terms:
        matching = {name for name, labels in pools.items() if _selects(term, labels)}
        if not matching:
            return " or ".join(", ".join(sorted(t)) for t in sorted(terms, key=sorted))
        names |= matching
    return ("pool " if len(names) == 1 else "pools ") + ", ".join(sorted(names))


def _selects(term: frozenset[str], labels: dict[str, str]) -> bool:
    for requirement in term:
        key, _, values = requirement.partition("=")
        if labels.get(key) not in values.split("|"):
            return False
    return True


# -- datasets -----------------------------------------------------------------------------

def dataset_risks(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    shared_sources = {ref for path, obj in ctx.head_objects.items() if _is(ObjectKey.of(path, obj), *DATASET)
                      for ref in dataset_refs(obj) if ref[0] != obj.get("metadata", {}).get("namespace")}
    for c in changes:
        if not _is(c.key, *DATASET) or c.change == "removed":
            continue
        namespace = c.key.namespace
        new_refs = {r for r in dataset_refs(c.new or {}) - dataset_refs(c.old or {})
                    if r[0] != namespace and r not in ctx.global_datasets}
        for ns, name in sorted(new_refs):
            yield _risk("dataset-shared", WARNING, c, f"dataset {ns}/{name} is exported to tenant {c.tenant}",
                        cross_tenant=True, involves=(ns,))
        refs = {r for r in dataset_refs(c.new or {}) if r[0] != namespace}
        shared = bool(refs) or (namespace, c.key.name) in shared_sources
        reasons = _writable(c.old, c.new or {})
        if c.change == "added" and not refs:
            continue  # a new dataset of the tenant's own: nothing existing becomes writable
        for reason in reasons:
            note = " (the dataset is shared between tenants)" if shared else ""
            yield _risk("dataset-writable", WARNING, c, reason + note,
                        cross_tenant=shared, involves=tuple(sorted({ns for ns, _ in refs})))


def dataset_refs(obj: dict) -> set[tuple[str, str]]:
    """(namespace, name) of other datasets this one mounts through Fluid's dataset:// scheme."""
    out = set()
    for mount in (obj.get("spec") or {}).get("mounts") or []:
        point = str(mount.get("mountPoint", ""))
        if point.startswith(DATASET_SCHEME):
            ns, _, name = point[len(DATASET_SCHEME):].partition("/")
            out.add((ns, name.strip("/")))
    return out


def _only_references(dataset: dict) -> bool:
    mounts = (dataset.get("spec") or {}).get("mounts") or []
    return bool(mounts) and all(str(m.get("mountPoint", "")).startswith(DATASET_SCHEME) for m in mounts)


def _writable(old: dict | None, new: dict) -> list[str]:
    """How `new` allows writes that `old` did not (old None: compared with a read-only dataset)."""
    reasons = []
    old_spec, new_spec = (old or {}).get("spec") or {}, new.get("spec") or {}
    old_modes = {m for m in old_spec.get("accessModes") or [] if m.startswith("ReadWrite")}
    gained = sorted({m for m in new_spec.get("accessModes") or [] if m.startswith("ReadWrite")} - old_modes)
    if gained:
        reasons.append(f"access modes now allow writes ({', '.join(gained)})")
    old_mounts = {_mount_id(m): m for m in old_spec.get("mounts") or []}
    for mount in new_spec.get("mounts") or []:
        before = old_mounts.get(_mount_id(mount))
        was_read_only = before.get("readOnly") is True if before is not None else old is None
        if was_read_only and mount.get("readOnly") is not True:
            reasons.append(f"mount {_mount_id(mount)} is no longer read-only")
    return reasons


def _mount_id(mount: dict) -> str:
    return str(mount.get("name") or mount.get("mountPoint", "?"))


def _is(key: ObjectKey, group: str, kind: str) -> bool:
    return key.kind == kind and key.group == group
