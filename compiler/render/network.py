"""NetworkPolicies: deny by default, then open exactly what the tenant and platform need.

Namespaces are matched by the `kubernetes.io/metadata.name` label the API server sets on
every namespace, so no extra labelling of other namespaces is required.

A connection between two tenants needs both ends: the receiver's ingress (its own
`allowFromTenants`) and the sender's egress, which the sender's spec does not list. So each
tenant also gets egress to every tenant on its cluster that lets it in, as the plan decided
(`Plan.egress_tenants`; the unit cache keys the unit on those tenants' specs).

The ingress gateway reaches only notebooks that ask for an Ingress, on their port (the
notebook renderer's own policy), and only while the tenant keeps `allowFromIngress`.
"""
from __future__ import annotations

from compiler.kinds import NAMESPACE_NAME_LABEL as NS_NAME
from compiler.render.context import TenantContext
from compiler.render.pods import api_client_labels

NETWORKING = "networking.k8s.io/v1"


def _from_namespace(name: str) -> dict:  # a peer: every pod of one namespace, as source or destination
    return {"namespaceSelector": {"matchLabels": {NS_NAME: name}}}


def render(ctx: TenantContext) -> list[dict]:
    platform, network = ctx.platform, ctx.tenant.network
    policies = [
        ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ("allow-same-namespace", {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        }),
        ("allow-dns", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{
                "to": [{**_from_namespace(platform.dns_namespace),
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            }],
        }),
        ("allow-monitoring", {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [_from_namespace(platform.monitoring_namespace)]}],
        }),
    ]
    if network.allow_from_tenants:
        policies.append(("allow-from-tenants", {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [_from_namespace(t) for t in sorted(set(network.allow_from_tenants))]}],
        }))
    receivers = ctx.plan.egress_tenants(ctx.tenant.name, ctx.cluster.name)
    if receivers:
        policies.append(("allow-to-tenants", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [_from_namespace(t) for t in receivers]}],
        }))
    if network.egress:
        rules = []
        for rule in network.egress:
            entry: dict = {"to": [{"ipBlock": {"cidr": rule.cidr}}]}
            if rule.ports:
                entry["ports"] = [{"port": p.port, "protocol": p.protocol} for p in rule.ports]
            rules.append(entry)
        policies.append(("allow-egress-cidrs", {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules}))
    if ctx.cluster.api_server_cidrs:
        # The pods that run tenantc-agent (job sidecars, data gates, cache scalers, pipeline runners)
        # talk to the API server; no other pod of the tenant needs to, so none other may.
        policies.append(("allow-apiserver-egress", {
            "podSelector": {"matchLabels": api_client_labels()}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in ctx.cluster.api_server_cidrs],
                        "ports": [{"port": ctx.cluster.api_server_port, "protocol": "TCP"}]}],
        }))
    return [ctx.obj(NETWORKING, "NetworkPolicy", name, spec=spec) for name, spec in policies]
