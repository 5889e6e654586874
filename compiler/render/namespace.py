"""Namespace (with Pod Security labels), the workload ServiceAccount, member RoleBindings."""
from __future__ import annotations

from compiler.render.context import TenantContext
from compiler.render.rbac import MEMBER_ROLES, member_cluster_role

WORKLOAD_SERVICE_ACCOUNT = "workloads"


def render(ctx: TenantContext) -> list[dict]:
    level = ctx.platform.defaults.pod_security
    modes = ("enforce", "audit", "warn")
    pod_security: dict[str, str] = {f"pod-security.kubernetes.io/{mode}": level for mode in modes}
    objects = [
        ctx.obj("v1", "Namespace", ctx.namespace, namespaced=False, labels=pod_security),
        ctx.obj("v1", "ServiceAccount", WORKLOAD_SERVICE_ACCOUNT, automountServiceAccountToken=False),
    ]
    for role in MEMBER_ROLES:
        subjects = [
            {"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}
            for kind, name in sorted(m.subject for m in ctx.tenant.members if m.role == role)
        ]
        if subjects:
            # The platform's member roles (compiler/render/rbac.py), granted in this namespace only:
            # never the built-in admin/edit (they may delete default-deny), never cluster-admin.
            objects.append(ctx.obj(
                "rbac.authorization.k8s.io/v1", "RoleBinding", f"members-{role}",
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": member_cluster_role(role)},
                subjects=subjects,
            ))
    return objects
