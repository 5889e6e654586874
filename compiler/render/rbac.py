"""Namespaced RBAC: a ServiceAccount with its own Role and RoleBinding (the agent's account, a
cache scaler's), and RoleBindings of tenant members to the platform's member roles
(compiler/render/member_roles.py)."""
from __future__ import annotations

from compiler.render.context import TenantContext

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = f"{RBAC_GROUP}/v1"


def role_binding(ctx: TenantContext, name: str, role_kind: str, role: str, subjects: list[dict]) -> dict:
    return ctx.obj(RBAC_API, "RoleBinding", name, roleRef={"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role},
                   subjects=subjects)


def account(ctx: TenantContext, name: str, rules: list[dict]) -> list[dict]:
    """ServiceAccount, Role and RoleBinding all named `name`: the account may do `rules` only."""
    return [
        ctx.obj("v1", "ServiceAccount", name),
        ctx.obj(RBAC_API, "Role", name, rules=rules),
        role_binding(ctx, name, "Role", name, [{"kind": "ServiceAccount", "name": name, "namespace": ctx.namespace}]),
    ]
