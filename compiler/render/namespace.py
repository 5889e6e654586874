"""Namespace (with Pod Security labels), the workload ServiceAccount, member RoleBindings."""
from __future__ import annotations

from compiler.render.context import TenantContext

WORKLOAD_SERVICE_ACCOUNT = "workloads"


def render(ctx: TenantContext) -> list[dict]:
    level = ctx.platform.defaults.pod_security
    pod_security = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")}
    objects = [
        ctx.obj("v1", "Namespace", ctx.namespace, namespaced=False, labels=pod_security),
        ctx.obj("v1", "ServiceAccount", WORKLOAD_SERVICE_ACCOUNT, automountServiceAccountToken=False),
    ]
    for role in ("admin", "edit", "view"):
        subjects = [
            {"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}
            for kind, name in sorted(m.subject for m in ctx.tenant.members if m.role == role)
        ]
        if subjects:
            # Only the built-in namespaced roles: never cluster-admin, never our own wildcard rules.
            objects.append(ctx.obj(
                "rbac.authorization.k8s.io/v1", "RoleBinding", f"members-{role}",
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=subjects,
            ))
    return objects
