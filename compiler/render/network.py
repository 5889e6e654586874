"""NetworkPolicies: deny by default, then open exactly what the tenant and platform need.

Namespaces are matched by the `kubernetes.io/metadata.name` label the API server sets on
every namespace, so no extra labelling of other namespaces is required.
"""
from __future__ import annotations

from compiler.kinds import NAMESPACE_NAME_LABEL as NS_NAME
from compiler.render.context import TenantContext

NETWORKING = "networking.k8s.io/v1"


def _from_namespace(name: str) -> dict:
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
    if network.allow_from_ingress:
        policies.append(("allow-ingress-gateway", {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [_from_namespace(platform.ingress_namespace)]}],
        }))
    if network.allow_from_tenants:
        policies.append(("allow-from-tenants", {
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [_from_namespace(t) for t in sorted(set(network.allow_from_tenants))]}],
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
        # The agent sidecar and the cache scaler talk to the API server; deny-all egress would cut them off.
        policies.append(("allow-apiserver-egress", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in ctx.cluster.api_server_cidrs],
                        "ports": [{"port": ctx.cluster.api_server_port, "protocol": "TCP"}]}],
        }))
    return [ctx.obj(NETWORKING, "NetworkPolicy", name, spec=spec) for name, spec in policies]
