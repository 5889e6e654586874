"""The agent's account in each tenant: exactly the permissions tenantc-agent declares it uses
(compiler.agent.permissions, checked against the API server's audit log in tests)."""
from __future__ import annotations

from compiler.agent.permissions import rules_for
from compiler.render.context import TenantContext
from compiler.render.pods import AGENT_SERVICE_ACCOUNT


def render(ctx: TenantContext) -> list[dict]:
    return [
        ctx.obj("v1", "ServiceAccount", AGENT_SERVICE_ACCOUNT),
        ctx.obj("rbac.authorization.k8s.io/v1", "Role", AGENT_SERVICE_ACCOUNT, rules=rules_for("sidecar", "wait-dataset")),
        ctx.obj("rbac.authorization.k8s.io/v1", "RoleBinding", AGENT_SERVICE_ACCOUNT,
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": AGENT_SERVICE_ACCOUNT},
                subjects=[{"kind": "ServiceAccount", "name": AGENT_SERVICE_ACCOUNT, "namespace": ctx.namespace}]),
    ]
