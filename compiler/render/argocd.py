"""Argo CD output under rendered/_argocd/: an AppProject per tenant and one ApplicationSet.

Each tenant's AppProject confines what Argo CD may do for it: destinations are only its
namespace on the clusters it is placed on, namespaced kinds only those it owns, cluster-
scoped objects only its own (its Namespace and Queue, by name), and its members get
project roles (admin/edit/view) by user or group. Platform objects (rendered/<cluster>/
_platform/) get a `platform` project of the same shape; no tenant can take that name.

The ApplicationSet uses a list generator with one element per cluster and tenant folder,
written by the compiler, rather than a git directory generator over rendered/*/*:
  - an Application appears in the same commit as the AppProject it needs, and `tenantc
    check` proves both current; a directory generator would create Applications for any
    folder pushed to the repository, including half-written ones, with project names
    parsed from paths;
  - the element carries what paths cannot: the project, the destination namespace and,
    when the platform maps the cluster to an API server URL, that URL;
  - reviewers see added and removed Applications in the pull request.
The cost is a diff in the ApplicationSet when tenants come or go, which is the point.

Applications sync with ServerSideApply=true (tenantc applies the same way, so field
ownership agrees) and PruneLast=true; within an Application the rendered objects carry
`argocd.argoproj.io/sync-wave` set from the apply stages in compiler.kinds.

The rules of compiler.delivery hold under the automated sync (prune + self-heal):
  - Namespaces and PVCs carry `Prune=false,Delete=false` and `IgnoreExtraneous` (set where
    every object is made, compiler.render.context), and the ApplicationSet has
    `preserveResourcesOnDeletion`, so its controller adds no deletion finalizer to the
    Applications: an Application that goes away (a tenant leaves a cluster) deletes nothing;
  - the run-time fields (a scaled Fluid runtime's spec.replicas) are in every Application's
    `ignoreDifferences`, by group, kind, namespace and name, and RespectIgnoreDifferences=true
    keeps a sync from writing the Git value over the live one;
  - Volcano Jobs delivered from Git carry no ttlSecondsAfterFinished (compiler.render.jobs),
    so Volcano never deletes a finished one for Argo CD to re-create.

Settings come from the platform's `argocd` section when it has one (attributes
namespace, repoUrl, targetRevision, servers, cluster); without it nothing is rendered.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from compiler.delivery import run_time_fields
from compiler.identity import ObjectRef, RenderedPath, unit_folder
from compiler.kinds import (
    ARGOCD_DIR,
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_LABEL,
    PLATFORM_TENANT,
    TENANT_LABEL,
    file_name,
    is_cluster_scoped,
)
from compiler.plan import Plan
from compiler.render.context import make_object

ARGO_API = "argoproj.io/v1alpha1"
APPSET_NAME = "tenantc"
SYNC_OPTIONS = ["ServerSideApply=true", "PruneLast=true", "RespectIgnoreDifferences=true"]

# Argo CD project policies per tenant role; `{p}` is the project name.
ROLE_POLICIES = {
    "admin": ["p, proj:{p}:admin, applications, *, {p}/*, allow",
              "p, proj:{p}:admin, logs, get, {p}/*, allow"],
    "edit": ["p, proj:{p}:edit, applications, get, {p}/*, allow",
             "p, proj:{p}:edit, applications, sync, {p}/*, allow",
             "p, proj:{p}:edit, applications, action/*, {p}/*, allow",
             "p, proj:{p}:edit, logs, get, {p}/*, allow"],
    "view": ["p, proj:{p}:view, applications, get, {p}/*, allow"],
}
ROLE_DESCRIPTIONS = {"admin": "sync, change and delete the project's applications",
                     "edit": "see, sync and run actions on the project's applications",
                     "view": "see the project's applications"}


@dataclass(frozen=True)
class ArgoCdSettings:
    """The platform's `argocd` section, with defaults."""

    namespace: str = "argocd"  # where Argo CD runs and these objects live
    repo_url: str = ""  # the Git repository holding rendered/
    target_revision: str = "HEAD"
    servers: dict[str, str] = field(default_factory=dict)  # cluster -> API server URL; others by name
    cluster: str = "argocd"  # value of the cluster label on these objects (where Argo CD runs)

    @classmethod
    def from_platform(cls, platform) -> ArgoCdSettings | None:
        raw = getattr(platform, "argocd", None)
        if raw is None:
            return None
        defaults = cls()
        return cls(namespace=getattr(raw, "namespace", defaults.namespace),
                   repo_url=getattr(raw, "repo_url", defaults.repo_url),
                   target_revision=getattr(raw, "target_revision", defaults.target_revision),
                   servers=dict(getattr(raw, "servers", None) or {}),
                   cluster=getattr(raw, "cluster", defaults.cluster))


@dataclass
class _Unit:
    """One rendered folder: rendered/<cluster>/<tenant or _platform>/, as Argo CD needs it."""

    cluster: str
    folder: str
    tenant: str
    namespaces: list[str]
    namespaced: list[tuple[str, str]]  # (group, kind)
    cluster_scoped: list[tuple[str, str, str]]  # (group, kind, name)
    run_time_fields: list[tuple[str, str, str, str, str]]  # (group, kind, namespace, name, JSON pointer)


def unit_summary(objects: list[dict], folder: str) -> dict:
    """What the Argo CD output needs of a unit's objects; JSON-ready, so the compile can cache
    it beside the unit and skip reading unchanged units' objects."""
    refs = [(ObjectRef.of(o), is_cluster_scoped(o)) for o in objects]
    return {
        "tenant": objects[0]["metadata"]["labels"].get(TENANT_LABEL, folder) if objects else folder,
        "namespaces": sorted({ref.namespace for ref, _ in refs if ref.namespace}),
        "namespaced": sorted({(ref.group, ref.kind) for ref, scoped in refs if not scoped}),
        "clusterScoped": sorted({(ref.group, ref.kind, ref.name) for ref, scoped in refs if scoped}),
        "runTimeFields": [[*f.ref, f.json_pointer] for f in run_time_fields(objects)],
    }


def render_argocd(plan: Plan, settings: ArgoCdSettings | None = None,
                  objects: dict[str, dict] | None = None,
                  summaries: dict[str, dict] | None = None) -> dict[str, dict]:
    """'_argocd/<file>.yaml' -> object. Pass the compile's `objects`, or the `summaries`
    ('cluster/folder' -> unit_summary) it cached, to avoid rendering twice."""
    settings = settings or ArgoCdSettings.from_platform(plan.specs.platform)
    if settings is None:
        return {}
    if summaries is None:
        if objects is None:
            from compiler.render import (
                render_all,  # here: compiler.render may import this module
            )

            objects = render_all(plan)
        summaries = summaries_of(objects)
    units = _units(summaries)
    by_project: dict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_project[unit.tenant].append(unit)
    out: list[dict] = [_project(plan, settings, name, members) for name, members in sorted(by_project.items())]
    out.append(_application_set(plan, settings, units))
    return {f"{ARGOCD_DIR}/{file_name(o)}": o for o in out}


def summaries_of(objects: Mapping[str, dict]) -> dict[str, dict]:
    """'cluster/folder' -> unit_summary, for the cluster folders among `objects`."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path, obj in objects.items():
        rendered = RenderedPath.parse(path)
        if rendered.in_cluster:
            grouped[(rendered.cluster, rendered.unit)].append(obj)
    return {unit_folder(cluster, unit): unit_summary(objs, unit) for (cluster, unit), objs in grouped.items()}


def _units(summaries: dict[str, dict]) -> list[_Unit]:
    out = []
    for unit, s in sorted(summaries.items()):
        cluster, _, folder = unit.partition("/")
        if cluster.startswith("_") or not folder:
            continue
        out.append(_Unit(cluster, folder, s["tenant"], list(s["namespaces"]),
                         [tuple(x) for x in s["namespaced"]], [tuple(x) for x in s["clusterScoped"]],
                         [tuple(x) for x in s.get("runTimeFields", [])]))
    return out


def _destination(settings: ArgoCdSettings, cluster: str, namespace: str) -> dict:
    server = settings.servers.get(cluster)
    return {"server": server, "namespace": namespace} if server else {"name": cluster, "namespace": namespace}


def _project(plan: Plan, settings: ArgoCdSettings, name: str, units: list[_Unit]) -> dict:
    namespaced = sorted({k for u in units for k in u.namespaced})
    cluster_scoped = sorted({k for u in units for k in u.cluster_scoped})
    destinations = [_destination(settings, u.cluster, ns) for u in units for ns in (u.namespaces or ["*"])]
    spec: dict = {
        "description": _description(plan, name),
        "sourceRepos": [settings.repo_url] if settings.repo_url else [],
        "destinations": sorted(destinations, key=lambda d: (d.get("name") or d.get("server"), d["namespace"])),
        "clusterResourceWhitelist": [{"group": g, "kind": k, "name": n} for g, k, n in cluster_scoped],
    }
    if namespaced:
        spec["namespaceResourceWhitelist"] = [{"group": g, "kind": k} for g, k in namespaced]
    else:  # an empty whitelist means "everything" to Argo CD
        spec["namespaceResourceBlacklist"] = [{"group": "*", "kind": "*"}]
    roles = _roles(plan, name)
    if roles:
        spec["roles"] = roles
    source, tenant = _source_and_tenant(plan, name)
    return make_object(ARGO_API, "AppProject", name, settings.namespace, tenant, settings.cluster, source, None,
                       {"spec": spec}, platform=plan.specs.platform.name)


def _description(plan: Plan, name: str) -> str:
    spec = plan.specs.tenant(name)
    if spec is None:
        return f"tenantc platform objects of {plan.specs.platform.name}"
    return f"tenantc tenant {spec.tenant.display_name} (owner {spec.tenant.owner})"[:255]


def _roles(plan: Plan, name: str) -> list[dict]:
    """Project roles by tenant role; subjects are OIDC groups, or user emails (which Argo CD
    matches when its RBAC scopes include `email`)."""
    spec = plan.specs.tenant(name)
    subjects: dict[str, set[str]] = defaultdict(set)
    if spec is None:
        subjects["admin"].update(plan.specs.platform.owners)
    else:
        subjects["admin"].add(spec.tenant.owner)
        for member in spec.tenant.members:
            subjects[member.role].add(member.subject[1])
    return [{"name": role, "description": ROLE_DESCRIPTIONS[role], "groups": sorted(subjects[role]),
             "policies": [p.format(p=name) for p in ROLE_POLICIES[role]]}
            for role in ROLE_POLICIES if subjects.get(role)]


def _source_and_tenant(plan: Plan, name: str) -> tuple[str, str]:
    spec = plan.specs.tenant(name)
    if spec is None:
        return plan.specs.platform_source.path, PLATFORM_TENANT
    return spec.source.path, name


def _application_set(plan: Plan, settings: ArgoCdSettings, units: list[_Unit]) -> dict:
    elements = []
    for unit in units:
        server = settings.servers.get(unit.cluster, "")
        elements.append({
            "cluster": unit.cluster, "tenant": unit.tenant, "project": unit.tenant,
            "path": f"rendered/{unit.cluster}/{unit.folder}",
            "namespace": unit.namespaces[0] if len(unit.namespaces) == 1 else "",
            "server": server, "destinationName": "" if server else unit.cluster,
        })
    app_spec: dict = {
        "project": "{{.project}}",
        "source": {"repoURL": settings.repo_url, "targetRevision": settings.target_revision,
                   "path": "{{.path}}", "directory": {"recurse": False}},
        # exactly one of name/server is non-empty per element
        "destination": {"name": "{{.destinationName}}", "server": "{{.server}}", "namespace": "{{.namespace}}"},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": list(SYNC_OPTIONS),
            "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
        },
    }
    ignored = _ignore_differences(units)
    if ignored:
        app_spec["ignoreDifferences"] = ignored
    template = {
        "metadata": {
            "name": "{{.tenant}}.{{.cluster}}",  # names are DNS labels: the dot keeps pairs unique
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: "{{.tenant}}",
                       CLUSTER_LABEL: "{{.cluster}}", PLATFORM_LABEL: plan.specs.platform.name},
        },
        "spec": app_spec,
    }
    spec = {"goTemplate": True, "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}], "template": template,
            # no deletion finalizer on the Applications: one that goes away deletes nothing
            "syncPolicy": {"preserveResourcesOnDeletion": True}}
    return make_object(ARGO_API, "ApplicationSet", APPSET_NAME, settings.namespace, PLATFORM_TENANT,
                       settings.cluster, plan.specs.platform_source.path, None, {"spec": spec},
                       platform=plan.specs.platform.name)


def _ignore_differences(units: list[_Unit]) -> list[dict]:
    """The run-time fields of every unit, one entry per object (group, kind, namespace, name).

    The template is shared, so every Application gets every entry; an entry names one object,
    and only the Application that has it matches it. A runtime has the same name in its
    tenant's namespace on every cluster and is scaled wherever its dataset is (the scaling
    belongs to the dataset), so naming it by namespace and name never ignores an unscaled one."""
    pointers: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for unit in units:
        for group, kind, namespace, name, pointer in unit.run_time_fields:
            pointers[(group, kind, namespace, name)].add(pointer)
    return [{"group": g, "kind": k, "namespace": ns, "name": n, "jsonPointers": sorted(p)}
            for (g, k, ns, n), p in sorted(pointers.items())]
