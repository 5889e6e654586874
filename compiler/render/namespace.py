"""Namespace (with Pod Security labels), the workload ServiceAccount, member RoleBindings."""
from __future__ import annotations

from compiler.render.context import TenantContext
from compiler.render.rbac import RBAC_GROUP, role_binding

WORKLOAD_SERVICE_ACCOUNT = "workloads"


def render(ctx: TenantContext) -> list[dict]:
    level = ctx.platform.defaults.pod_security
    pod_security: dict[str, str] = {f"pod-security.kubernetes.io/{mode}": level
                                    for mode in ("enforce", "audit", "warn")}
    objects = [
        ctx.obj("v1", "Namespace", ctx.namespace, namespaced=False, labels=pod_security),
        ctx.obj("v1", "ServiceAccount", WORKLOAD_SERVICE_ACCOUNT, automountServiceAccountToken=False),
    ]
    for role in ("admin", "edit", "view"):
        subjects = [
            {"kind": kind, "name": name, "apiGroup": RBAC_GROUP}
            for kind, name in sorted(m.subject for m in ctx.tenant.members if m.role == role)
        ]
        if subjects:
            # Only the built-in namespaced roles: never cluster-admin, never our own wildcard rules.
            objects.append(role_binding(ctx, f"members-{role}", "ClusterRole", role, subjects))
    return objects
