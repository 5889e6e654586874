"""Namespace (with Pod Security labels), the workload ServiceAccount, member RoleBindings."""
from __future__ import annotations

from compiler.render.context import TenantContext
from compiler.render.member_roles import MEMBER_ROLES, member_cluster_role
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
    for role in MEMBER_ROLES:
        subjects = [
            {"kind": kind, "name": name, "apiGroup": RBAC_GROUP}
            for kind, name in sorted({m.subject for m in ctx.members if m.role == role})
        ]
        if subjects:
            # The platform's member roles (compiler/render/member_roles.py), granted in this namespace
            # only: never the built-in admin/edit (they may delete default-deny), never cluster-admin.
            objects.append(role_binding(ctx, f"members-{role}", "ClusterRole", member_cluster_role(role), subjects))
    return objects
