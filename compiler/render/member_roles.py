"""What tenant members may do: three ClusterRoles per cluster, rendered once under
rendered/<cluster>/_platform/ and bound per tenant namespace by `members-<role>` RoleBindings
(compiler/render/namespace.py), so they grant nothing outside the tenant's namespace.

Why not Kubernetes' built-in admin/edit/view: they do not cover Volcano (`batch.volcano.sh`,
`flow.volcano.sh`, `bus.volcano.sh`), Fluid (`data.fluid.io`) or the agent's Leases, so a
member could not even list their own jobs, datasets or heartbeats; and admin/edit may create,
change and delete NetworkPolicies, `default-deny` included, which would make the tenant's
isolation its own to switch off.

The promise, role by role (proven on a real API server by tests/oracles/test_permissions_oracle.py):
* view reads everything tenantc renders in the namespace, what controllers and the agent make
  of it (pods and their logs, PodGroups, Leases, status ConfigMaps, events) and the guard rails
  (ResourceQuota, LimitRange, NetworkPolicies); no Secrets, and it writes nothing;
* edit also creates, changes and deletes workloads and data (pods, services, ConfigMaps,
  Secrets, PVCs, StatefulSets/Deployments, Jobs/CronJobs, Ingresses, Volcano Jobs, CronJobs,
  Commands, JobFlows and JobTemplates, Fluid datasets, data operations and runtimes), execs
  into pods; never the guard rails, RBAC, Leases or PodGroups;
* admin also manages Roles, RoleBindings and ServiceAccounts of the namespace; the API server
  lets it grant only what it holds itself (no `escalate` or `bind`), so never more than admin.
No role touches anything cluster-scoped (the tenant's Queue included), and no rule uses '*'.
"""
from __future__ import annotations

from compiler.kinds import MEMBER_ROLE_PREFIX
from compiler.render.context import PlatformContext
from compiler.render.rbac import RBAC_API

MEMBER_ROLES = ("admin", "edit", "view")
READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]

FLUID = ["datasets", "dataloads", "datamigrates", "dataprocesses", "databackups",
         "alluxioruntimes", "jindoruntimes", "juicefsruntimes", "thinruntimes", "efcruntimes",
         "vineyardruntimes", "cacheruntimes"]
VOLCANO = [("batch.volcano.sh", ["jobs", "cronjobs"]), ("bus.volcano.sh", ["commands"]),
           ("flow.volcano.sh", ["jobflows", "jobtemplates"])]

# (apiGroup, resources) every member reads.
VIEWABLE: list[tuple[str, list[str]]] = [
    ("", ["configmaps", "endpoints", "events", "limitranges", "persistentvolumeclaims", "pods", "pods/log",
          "resourcequotas", "serviceaccounts", "services"]),
    ("apps", ["controllerrevisions", "deployments", "replicasets", "statefulsets"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("batch", ["cronjobs", "jobs"]),
    ("coordination.k8s.io", ["leases"]),
    ("discovery.k8s.io", ["endpointslices"]),
    ("events.k8s.io", ["events"]),
    ("networking.k8s.io", ["ingresses", "networkpolicies"]),
    ("policy", ["poddisruptionbudgets"]),
    *VOLCANO,
    ("scheduling.volcano.sh", ["podgroups"]),
    ("data.fluid.io", FLUID),
]
# (apiGroup, resources) edit and admin members also change.
EDITABLE: list[tuple[str, list[str]]] = [
    ("", ["configmaps", "persistentvolumeclaims", "pods", "secrets", "services"]),
    ("apps", ["deployments", "replicasets", "statefulsets"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("batch", ["cronjobs", "jobs"]),
    ("networking.k8s.io", ["ingresses"]),
    ("policy", ["poddisruptionbudgets"]),
    *VOLCANO,
    ("data.fluid.io", FLUID),
]


def member_cluster_role(role: str) -> str:
    return f"{MEMBER_ROLE_PREFIX}{role}"


def _rules(entries: list[tuple[str, list[str]]], verbs: list[str]) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources in entries]


def rules_of(role: str) -> list[dict]:
    """The rules of a member role (each role holds the one below it)."""
    rules = _rules(VIEWABLE, READ)
    if role in ("edit", "admin"):
        rules += _rules(EDITABLE, WRITE)
        rules += [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": list(READ)},
            # kubectl exec/attach/port-forward: `create` (POST), `get` (WebSocket upgrade)
            {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward"],
             "verbs": ["create", "get"]},
            {"apiGroups": ["apps"], "resources": ["deployments/scale", "statefulsets/scale"],
             "verbs": ["get", "patch", "update"]},
        ]
    if role == "admin":
        rules += [
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": list(WRITE)},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"],
             "verbs": [*READ, *WRITE]},
        ]
    return rules


def render_platform(ctx: PlatformContext) -> list[dict]:
    return [ctx.obj(RBAC_API, "ClusterRole", member_cluster_role(role), rules=rules_of(role)) for role in MEMBER_ROLES]
