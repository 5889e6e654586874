"""What each subject of a tenant may do on the API server, written from the specs and the
documented contracts (never from the rendered Roles), as a matrix of access checks.

Subjects of a tenant on a cluster: each member user and group (with its highest role) and each
ServiceAccount that exists in the tenant's namespace once its objects are applied.

A member's promise, by role (the issue's wording; compiler/render/rbac.py implements it):
* every role reads every kind tenantc renders in the namespace and what the agent and the
  controllers make of it (pods and their logs, Leases, status ConfigMaps, PodGroups, events),
  the guard rails included; Secrets only from edit up, Roles/RoleBindings only as admin;
* edit and admin create, change and delete workloads and data (pods, ConfigMaps, Secrets,
  Services, PVCs, StatefulSets, Jobs, CronJobs, Ingresses, Volcano Jobs/CronJobs/Commands,
  JobFlows, JobTemplates, Fluid Datasets, DataLoads and runtimes) and exec into pods;
* admin also manages RoleBindings, Roles and ServiceAccounts (never beyond its own role);
* view writes nothing.
Never, for anyone: writing the ResourceQuota, LimitRange or NetworkPolicies (default-deny
included), Leases (the agent's heartbeats) or PodGroups (Volcano's); `escalate`, `bind` or
`impersonate`; minting ServiceAccount tokens; anything in another tenant's or a platform
namespace; anything cluster-scoped (namespaces, RBAC, CRDs, nodes...) except that every member
reads (get, list and watch by name) the tenant's own Queue, so they can see why a job waits; they
never change it and never read another tenant's.

ServiceAccounts hold exactly the agent's documented permissions (docs/agent.md, "Permissions"):
`tenantc-agent` Leases get/create/update, ConfigMaps create/patch, Pods get, Datasets get;
`tenantc-flow-runner` JobFlows create/delete/list; a dataset's `<dataset>-scaler` may patch that
dataset's runtime and nothing else. Every other account (`workloads`, `default`) may do nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
VERBS = READ + WRITE
RANK = {"view": 1, "edit": 2, "admin": 3}
RUNTIMES = {"alluxio": "alluxioruntimes", "jindo": "jindoruntimes", "juicefs": "juicefsruntimes",
            "thin": "thinruntimes"}

# (group, resource, who may write it): every namespaced kind tenantc renders, plus what the
# agent (Leases, status ConfigMaps) and the controllers (pods, PodGroups, events) create.
EDITABLE, GUARD, READ_ONLY, ADMIN_ONLY, SECRET = "editable", "guard rail", "read-only", "admin-only", "secret"
KINDS = [
    ("", "pods", EDITABLE), ("", "configmaps", EDITABLE), ("", "services", EDITABLE),
    ("", "persistentvolumeclaims", EDITABLE), ("", "secrets", SECRET), ("", "serviceaccounts", ADMIN_ONLY),
    ("", "events", READ_ONLY), ("", "resourcequotas", GUARD), ("", "limitranges", GUARD),
    ("networking.k8s.io", "networkpolicies", GUARD), ("networking.k8s.io", "ingresses", EDITABLE),
    ("apps", "statefulsets", EDITABLE), ("batch", "cronjobs", EDITABLE), ("batch", "jobs", EDITABLE),
    # a serving's kinds (issue 16)
    ("apps", "deployments", EDITABLE), ("autoscaling", "horizontalpodautoscalers", EDITABLE),
    ("policy", "poddisruptionbudgets", EDITABLE),
    ("coordination.k8s.io", "leases", READ_ONLY),
    ("rbac.authorization.k8s.io", "roles", ADMIN_ONLY), ("rbac.authorization.k8s.io", "rolebindings", ADMIN_ONLY),
    ("batch.volcano.sh", "jobs", EDITABLE), ("batch.volcano.sh", "cronjobs", EDITABLE),
    ("bus.volcano.sh", "commands", EDITABLE),
    ("flow.volcano.sh", "jobflows", EDITABLE), ("flow.volcano.sh", "jobtemplates", EDITABLE),
    ("scheduling.volcano.sh", "podgroups", READ_ONLY),
    ("data.fluid.io", "datasets", EDITABLE), ("data.fluid.io", "dataloads", EDITABLE),
    *[("data.fluid.io", r, EDITABLE) for r in RUNTIMES.values()],
]
# The agent accounts' documented permissions (docs/agent.md, "Permissions"): job pods' sidecar
# and data wait, and the pipeline scheduler's runs.
AGENT = {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")} | \
    {("", "configmaps", v) for v in ("create", "patch")} | {("", "pods", "get"), ("data.fluid.io", "datasets", "get")}
FLOW_RUNNER = {("flow.volcano.sh", "jobflows", v) for v in ("create", "delete", "list")}
ACCOUNTS = {"tenantc-agent": AGENT, "tenantc-flow-runner": FLOW_RUNNER}
# In namespaces that are not the tenant's: a sample of kinds, every verb denied.
FOREIGN_KINDS = [("", "pods"), ("", "secrets"), ("batch.volcano.sh", "jobs"), ("data.fluid.io", "datasets"),
                 ("networking.k8s.io", "networkpolicies")]
FOREIGN_VERBS = ("list", "create", "delete")
CLUSTER_KINDS = [("", "namespaces"), ("scheduling.volcano.sh", "queues"), ("rbac.authorization.k8s.io", "clusterroles"),
                 ("rbac.authorization.k8s.io", "clusterrolebindings"),
                 ("apiextensions.k8s.io", "customresourcedefinitions"), ("", "nodes"), ("", "persistentvolumes"),
                 ("storage.k8s.io", "storageclasses"), ("scheduling.k8s.io", "priorityclasses")]
CLUSTER_VERBS = ("list", "create", "patch", "delete")


@dataclass(frozen=True)
class Subject:
    """Whom the checks impersonate: a user, a group (through a probe user) or a ServiceAccount."""

    kind: str  # User | Group | ServiceAccount
    name: str
    role: str  # member role, or the ServiceAccount's name
    namespace: str

    def kubectl_args(self) -> list[str]:
        if self.kind == "User":
            return [f"--as={self.name}"]
        if self.kind == "Group":
            return [f"--as=probe-member-of-{self.name}@example.invalid", f"--as-group={self.name}"]
        return [f"--as=system:serviceaccount:{self.namespace}:{self.name}"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.role} in {self.namespace})"


@dataclass(frozen=True)
class Check:
    verb: str
    group: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""

    def attributes(self) -> dict:
        fields = {"verb": self.verb, "group": self.group, "resource": self.resource, "namespace": self.namespace,
                  "name": self.name, "subresource": self.subresource}
        return {k: v for k, v in fields.items() if v}  # the API server echoes them back without the empty ones

    def can_i_args(self) -> list[str]:
        """The same question as `kubectl auth can-i` arguments."""
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.name:
            resource += f"/{self.name}"
        args = [self.verb, resource]
        if self.subresource:
            args.append(f"--subresource={self.subresource}")
        return args + ([f"--namespace={self.namespace}"] if self.namespace else [])

    def __str__(self) -> str:
        where = f"in {self.namespace}" if self.namespace else "cluster-wide"
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        what += f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb} {what}{'/' + self.name if self.name else ''} {where}"


def member_subjects(tenant) -> list[Subject]:
    """Each member user and group of a tenant spec, with its highest role."""
    best: dict[tuple[str, str], str] = {}
    for m in tenant.members:
        kind, name = m.subject
        if RANK[m.role] > RANK.get(best.get((kind, name), ""), 0):
            best[(kind, name)] = m.role
    return [Subject(kind, name, role, tenant.name) for (kind, name), role in sorted(best.items())]


def matrix(subject: Subject, tenant, cluster: str, other_namespaces: list[str]) -> list[tuple[Check, bool]]:
    """Every check of one subject with the intended answer."""
    ns = subject.namespace
    rank = RANK.get(subject.role, 0) if subject.kind != "ServiceAccount" else 0
    scaled = {(RUNTIMES[d.runtime.type], d.name) for d in tenant.datasets if d.scaling
              and (not d.clusters or cluster in d.clusters)}
    out: list[tuple[Check, bool]] = []

    def member_may(group: str, resource: str, verb: str, who: str) -> bool:
        if rank == 0:
            return False
        if verb in READ:
            return {SECRET: rank >= 2, ADMIN_ONLY: rank >= 3 or resource == "serviceaccounts"}.get(who, True)
        return {EDITABLE: rank >= 2, SECRET: rank >= 2, ADMIN_ONLY: rank >= 3}.get(who, False)

    for group, resource, who in KINDS:
        for verb in VERBS:
            if subject.kind == "ServiceAccount":
                want = (group, resource, verb) in ACCOUNTS.get(subject.name, set())
            else:
                want = member_may(group, resource, verb, who)
            out.append((Check(verb, group, resource, ns), want))
    # named objects: the guard rails tenantc renders, the tenant's runtimes for its scalers
    for group, resource, name in [("networking.k8s.io", "networkpolicies", "default-deny"),
                                  ("", "resourcequotas", "tenant-quota"), ("", "limitranges", "tenant-limits")]:
        for verb in ("update", "patch", "delete"):
            out.append((Check(verb, group, resource, ns, name), False))
    for resource, dataset in sorted(scaled):
        out.append((Check("patch", "data.fluid.io", resource, ns, dataset), subject.name == f"{dataset}-scaler"
                    or rank >= 2))
        out.append((Check("patch", "data.fluid.io", resource, ns, dataset + "-other"), rank >= 2))
    # subresources and special verbs
    for sub in ("exec", "attach", "portforward"):
        out.append((Check("create", "", "pods", ns, subresource=sub), rank >= 2))
    out.append((Check("get", "", "pods", ns, subresource="log"), rank >= 1))
    out.append((Check("create", "", "serviceaccounts", ns, "workloads", "token"), False))
    for group, resource in [("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles")]:
        for verb in ("escalate", "bind"):
            out.append((Check(verb, group, resource, ns), False))
    for role in ("cluster-admin", "admin", "edit", "tenantc-member-admin"):
        out.append((Check("bind", "rbac.authorization.k8s.io", "clusterroles", ns, role), False))
    out.append((Check("impersonate", "", "serviceaccounts", ns), False))
    for resource in ("users", "groups"):
        out.append((Check("impersonate", "", resource), False))
    # other namespaces: other tenants and the platform's
    for other in other_namespaces:
        for group, resource in FOREIGN_KINDS:
            for verb in FOREIGN_VERBS:
                out.append((Check(verb, group, resource, other), False))
    # cluster-scoped, the tenant's own Namespace and Queue by name, and every namespace at once
    for group, resource in CLUSTER_KINDS:
        for verb in CLUSTER_VERBS:
            out.append((Check(verb, group, resource), False))
    for verb in ("update", "patch", "delete"):
        out.append((Check(verb, "", "namespaces", name=ns), False))
        out.append((Check(verb, "scheduling.volcano.sh", "queues", name=ns), False))
    for verb in READ:  # the tenant's own Queue: every member reads it, no ServiceAccount does
        out.append((Check(verb, "scheduling.volcano.sh", "queues", name=ns), subject.kind != "ServiceAccount"))
    for other in other_namespaces:
        out.append((Check("get", "scheduling.volcano.sh", "queues", name=other), False))
    out.append((Check("list", "", "pods"), False))
    out.append((Check("list", "", "secrets"), False))
    return out
