"""`rbac-widened`: a user, group or service account gets edit, admin or cluster-admin where
it had less. Judged per namespace (and per cluster for ClusterRoleBindings), so a subject
moved to another binding of the same role is not flagged; one going from edit to admin is."""
from __future__ import annotations

from collections.abc import Iterable

from compiler.kinds import MEMBER_ROLE_PREFIX
from compiler.review.compare import ObjectChange
from compiler.review.risks.common import WARNING, Family, Found, Risk, RiskContext, by_scope, risk_on

RULES = {
    "rbac-widened": "a subject gets edit, admin or cluster-admin where it had less",
}

RBAC_GROUP = "rbac.authorization.k8s.io"
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
ROLE_RANK = {"view": 1, "edit": 2, "admin": 3, "cluster-admin": 4}
PRIVILEGED_RANK = 2  # edit and above

Grant = tuple[int, str, Found]  # (rank, role, the binding granting it)


def rbac_widened(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    scopes = {(c.key.cluster, c.key.namespace) for c in changes
              if c.key.group == RBAC_GROUP and c.key.kind in BINDING_KINDS}
    if not scopes:
        return
    before = by_scope(ctx.base_objects, RBAC_GROUP, BINDING_KINDS)
    after = by_scope(ctx.head_objects, RBAC_GROUP, BINDING_KINDS)
    for scope in sorted(scopes):
        old, new = grants(before.get(scope, [])), grants(after.get(scope, []))
        namespace = scope[1]
        for subject, (rank, role, binding) in sorted(new.items(), key=lambda item: item[0]):
            had_rank, had_role, _ = old.get(subject, (0, "", binding))
            if rank < PRIVILEGED_RANK or rank <= had_rank:
                continue
            where = f"in namespace {namespace}" if namespace else "on the whole cluster"
            was = f" (was {had_role})" if had_role else ""
            cross = not namespace or _foreign_account(subject, namespace)
            yield risk_on("rbac-widened", WARNING, binding, f"{subject} gets {role} {where}{was}", cross_tenant=cross)


def grants(bindings: list[Found]) -> dict[str, Grant]:
    """Subject -> (highest rank, role, binding granting it) across a namespace's bindings."""
    out: dict[str, Grant] = {}
    for binding in sorted(bindings, key=lambda b: b.key):
        role = (binding.obj.get("roleRef") or {}).get("name", "").removeprefix(MEMBER_ROLE_PREFIX)  # members' roles
        rank = ROLE_RANK.get(role, 0)
        for s in binding.obj.get("subjects") or []:
            subject = f"{s.get('kind')} {s.get('name')}" + (f" ({s['namespace']})" if s.get("namespace") else "")
            if subject not in out or rank > out[subject][0]:
                out[subject] = (rank, role, binding)
    return out


def _foreign_account(subject: str, namespace: str) -> bool:
    """A ServiceAccount of another namespace: the grant crosses tenants."""
    return subject.startswith("ServiceAccount ") and subject.endswith(")") and not subject.endswith(f"({namespace})")


FAMILY = Family(RULES, rbac_widened)
