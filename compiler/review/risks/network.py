"""`network-opened`: a namespace's NetworkPolicies newly let in (or out) another tenant, every
namespace, anywhere, a CIDR not inside one allowed before, or more ports.

Judged per namespace, not per policy, so a rule moved to another policy opens nothing. A new
namespace is compared with what every existing namespace of its cluster already allows (DNS,
monitoring, the API server: the platform's standard), and its access from platform namespaces
is not flagged.
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from compiler.kinds import NAMESPACE_NAME_LABEL, TENANT_LABEL
from compiler.review.compare import ObjectChange, ObjectKey
from compiler.review.risks.common import WARNING, Family, Found, Risk, RiskContext, by_scope, is_kind, risk_on

RULES = {
    "network-opened": "a NetworkPolicy lets in or out a namespace, tenant or CIDR (or ports) it did not before",
}

NETWORKING_GROUP = "networking.k8s.io"
POLICY_KIND = "NetworkPolicy"
# Kinds of peers that reach beyond one tenant: opening to them needs the platform owners.
CROSS_TENANT_PEERS = ("all-namespaces", "namespaces", "anywhere")

Peer = tuple[str, str, str]  # (direction, kind, value): ('ingress', 'namespace', 'recsys')
Ports = frozenset | None  # None: all ports
Allowed = dict[Peer, tuple[Ports, list[Found]]]  # peer -> (ports, the policies allowing it)
Scope = tuple[str, str]  # (cluster, namespace)


def network_opened(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    scopes = {(c.key.cluster, c.key.namespace) for c in changes if is_kind(c.key, NETWORKING_GROUP, POLICY_KIND)}
    if not scopes:
        return
    policies = _Policies(ctx, {c.key for c in changes})
    for scope in sorted(scopes):
        yield from policies.openings(scope)


class _Policies:
    """Both revisions' NetworkPolicies by namespace, and each cluster's standard for new namespaces."""

    def __init__(self, ctx: RiskContext, touched: set[ObjectKey]):
        self.tenants = ctx.tenants
        self.touched = touched  # keys of changed objects: a risk names a changed policy when one allows the peer
        self.before = by_scope(ctx.base_objects, NETWORKING_GROUP, (POLICY_KIND,))
        self.after = by_scope(ctx.head_objects, NETWORKING_GROUP, (POLICY_KIND,))
        namespaces = (ObjectKey.of(path, obj) for path, obj in ctx.base_objects.items()
                      if obj.get("kind") == "Namespace")
        self.namespaces_before = {(key.cluster, key.name) for key in namespaces if key.group == ""}
        # a project's namespace '<tenant>-<project>' is its tenant's (issue 16): by the Namespace's tenant label
        self.owners = {obj["metadata"]["name"]: (obj["metadata"].get("labels") or {}).get(TENANT_LABEL, "")
                       for objects in (ctx.base_objects, ctx.head_objects) for obj in objects.values()
                       if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1"}
        self._baselines: dict[str, Allowed] = {}

    def allowed_before(self, scope: Scope) -> tuple[Allowed, bool]:
        """What a namespace allowed before, and whether it is brand new (then: its cluster's standard)."""
        old = allowed(self.before.get(scope, []))
        if old or scope in self.namespaces_before:
            return old, False
        cluster = scope[0]
        if cluster not in self._baselines:
            self._baselines[cluster] = _baseline([allowed(p) for (c, _), p in self.before.items() if c == cluster])
        return self._baselines[cluster], True

    def openings(self, scope: Scope) -> Iterable[Risk]:
        old, brand_new = self.allowed_before(scope)
        namespace = scope[1]
        for peer, (ports, policies) in sorted(allowed(self.after.get(scope, [])).items(), key=lambda item: item[0]):
            direction, kind, value = peer
            owner = self.owners.get(value) if kind == "namespace" else None
            if owner and owner in self.tenants and owner != self.owners.get(namespace, namespace):
                peer = (direction, kind, owner)  # another tenant's project: that tenant
            elif owner and owner == self.owners.get(namespace, namespace) and value != namespace and brand_new:
                continue  # a new namespace of the tenant reaching its siblings
            _, kind, value = peer
            if kind == "namespace" and (value == namespace or (brand_new and value not in self.tenants)):
                continue  # its own pods; a new tenant's access from platform namespaces (ingress, monitoring)
            widened = _widening(peer, ports, old)
            if widened is None:
                continue
            policy = next((p for p in policies if p.key in self.touched), policies[0])
            other_tenant = kind == "namespace" and value in self.tenants
            yield risk_on("network-opened", WARNING, policy, f"{_describe_peer(peer, other_tenant)} {widened}",
                          cross_tenant=other_tenant or kind in CROSS_TENANT_PEERS)


def allowed(policies: list[Found]) -> Allowed:
    """Everything a namespace's policies let in and out: peer -> (ports, the policies allowing it)."""
    out: Allowed = {}
    for policy in sorted(policies, key=lambda p: p.key):
        for peer, ports in _rules(policy.obj.get("spec") or {}):
            if peer in out:
                known, allowing = out[peer]
                out[peer] = (None if known is None or ports is None else known | ports,
                             allowing + [policy] if allowing[-1].key != policy.key else allowing)
            else:
                out[peer] = (ports, [policy])
    return out


def _rules(spec: dict) -> Iterable[tuple[Peer, Ports]]:
    """(peer, ports) of every rule of one policy, in both directions its policyTypes enforce."""
    types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
    for direction, rules_key, peers_key in (("Ingress", "ingress", "from"), ("Egress", "egress", "to")):
        if direction not in types:
            continue
        for rule in spec.get(rules_key) or []:
            ports = _ports(rule.get("ports"))
            targets = [t for p in rule.get(peers_key) or [] for t in _peer(p)] if rule.get(peers_key) \
                else [("anywhere", "")]
            for kind, value in targets:
                yield (direction.lower(), kind, value), ports


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


def _baseline(namespaces: list[Allowed]) -> Allowed:
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


def _widening(peer: Peer, ports: Ports, old: Allowed) -> str | None:
    """None when `old` already allowed this; else how it widens ('is new', 'now on all ports')."""
    if peer[1] == "cidr" and _inside_allowed_cidr(peer, ports, old):
        return None
    if peer in old:
        old_ports = old[peer][0]
        if _covers(old_ports, ports):
            return None
        if ports is None:
            return f"now on all ports (was {', '.join(sorted(old_ports or ()))})"
        return f"gains port(s) {', '.join(sorted(ports - (old_ports or frozenset())))}"
    return "is new" + ("" if ports is None else f" (ports {', '.join(sorted(ports))})")


def _inside_allowed_cidr(peer: Peer, ports: Ports, old: Allowed) -> bool:
    """A CIDR inside one `old` allowed in the same direction, on the ports it allowed."""
    direction, _, value = peer
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    for (d, k, v), (old_ports, _) in old.items():
        if d == direction and k == "cidr" and _covers(old_ports, ports):
            try:
                if network.subnet_of(ipaddress.ip_network(v, strict=False)):  # type: ignore[arg-type]
                    return True
            except (ValueError, TypeError):  # another address family, or not a CIDR
                continue
    return False


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


FAMILY = Family(RULES, network_opened)
