"""What the platform's ingress gateway reaches, drawn once for notebooks and servings: an Ingress
to a Service's port and, if the tenant lets the gateway in (`network.allowFromIngress`), the
NetworkPolicy letting the ingress namespace reach the selected pods on that port only."""
from __future__ import annotations

from compiler.kinds import NAMESPACE_NAME_LABEL
from compiler.render.context import TenantContext


def through_gateway(ctx: TenantContext, name: str, labels: dict[str, str], selector: dict[str, str], host: str,
                    ingress_class: str | None, port: int) -> list[dict]:
    """The Ingress `name` for `host` to Service `name` on `port`, and the gateway's way in."""
    spec: dict = {"rules": [{"host": host, "http": {"paths": [{
        "path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": port}}}}]}}]}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    objects = [ctx.obj("networking.k8s.io/v1", "Ingress", name, labels=labels, spec=spec)]
    if ctx.tenant.network.allow_from_ingress:
        objects.append(ctx.obj("networking.k8s.io/v1", "NetworkPolicy", f"{name}-from-ingress", spec={
            "podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                NAMESPACE_NAME_LABEL: ctx.platform.ingress_namespace}}}],
                "ports": [{"port": port, "protocol": "TCP"}]}]}))
    return objects
