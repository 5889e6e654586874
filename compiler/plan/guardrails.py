"""Guardrail parameters per tenant and cluster, and the checks that they can be enforced.

Design: one ValidatingAdmissionPolicy per object shape per cluster, bound once with
`paramRef: {name: tenantc-guardrails}` and no namespace, so the API server reads the
parameters from a ConfigMap in the namespace of the object being admitted: each tenant's
ConfigMap lands in its own folder of rendered/ and changes with its spec, while the policies
(rendered/<cluster>/_platform/) depend on the platform file only. The alternative, one
binding per tenant with a namespaceSelector and parameters in a platform namespace, keeps the
parameters out of members' reach by RBAC but renders N bindings per cluster and ties every
tenant change to a cluster-scoped object; here the `parameters` rule denies changes to the
ConfigMap by anyone who may not change the bindings themselves, and a missing ConfigMap
denies (parameterNotFoundAction: Deny), so deleting it only locks the tenant out.

Rules that cannot be expressed at admission are input errors here (exit 2, nothing written):
an allowed registry that is not a prefix, a host pattern with an inner '*', GPU pools the
affinity rule cannot tell apart, an untainted GPU pool when CPU work must stay off GPU pools,
a cluster older than Kubernetes 1.30, tenantc's own agent image outside the registries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from compiler import fluid
from compiler.errors import Problems
from compiler.guardrails.rules import (
    FORBIDDEN_BY_LEVEL,
    HOST_FEATURES,
    ClusterFacts,
    HostPatternError,
    Pool,
    RegistryError,
    TenantParams,
    host_allowed,
    host_pattern,
    registry_prefix,
)
from compiler.model import Specs, TenantSpec
from compiler.model.checks import expand_host
from compiler.model.platform import Cluster, Guardrails
from compiler.model.tenant import Quota
from compiler.model.workloads import JobSpec
from compiler.plan.notebooks import notebook_key
from compiler.plan.workloads import DatasetPlacement

MIN_VERSION = (1, 30)  # admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy is GA


@dataclass
class GuardrailPlan:
    """What the guardrail renderer needs: cluster constants and tenant parameters."""

    facts: dict[str, ClusterFacts] = field(default_factory=dict)  # cluster -> constants of its policies
    params: dict[tuple[str, str], TenantParams] = field(default_factory=dict)  # (tenant, cluster)


def check_registries(specs: Specs, problems: Problems) -> None:
    """AllowedRegistries entries must be prefixes (with or without guardrails: the compile-time
    check uses the same match)."""
    for i, entry in enumerate(specs.platform.allowed_registries):
        try:
            registry_prefix(entry)
        except RegistryError as exc:
            problems.add(specs.platform_source.path, f"allowedRegistries[{i}]",
                         f"{exc}: the match is a prefix that ends at a '/'",
                         "write the registry or a path of it, e.g. registry.example.com/ml/ "
                         "(no wildcards, schemes, tags or digests)")


def plan_guardrails(specs: Specs, quotas: dict[str, dict[str, Quota]],
                    datasets: dict[tuple[str, str], list[DatasetPlacement]],
                    problems: Problems, queues: dict[str, str] | None = None) -> GuardrailPlan | None:
    """The parameters per tenant and cluster and the facts per cluster; None without a
    guardrails section (or when a rule cannot be expressed, reported in `problems`)."""
    check_registries(specs, problems)
    settings = specs.platform.guardrails
    if settings is None:
        return None
    file = specs.platform_source.path
    before = len(problems.items)
    hosts = _host_patterns(specs, settings, problems)
    classes = settings.ingress_classes if settings.ingress_classes is not None else \
        list(dict.fromkeys(c for c in [specs.platform.notebooks.ingress_class, specs.platform.serving.ingress_class]
                           if c))
    _check_priority_classes(specs, settings, problems)
    prefixes = specs.platform.registry_prefixes()
    if specs.platform.allowed_registries and not specs.platform.image_allowed(specs.platform.agent_image):
        problems.add(file, "agentImage", f"'{specs.platform.agent_image}' is not from an allowed registry: the "
                     "registries guardrail would reject tenantc's own agent", "add its registry to allowedRegistries")
    out = GuardrailPlan()
    for i, cluster in enumerate(specs.platform.clusters):
        _check_version(cluster, f"clusters[{i}].kubernetesVersion", file, problems)
        out.facts[cluster.name] = _facts(specs, settings, cluster, i, problems)
    if len(problems.items) > before:
        return None
    for spec in specs.tenants:
        tenant = spec.tenant.name
        priority = allowed_priority_classes(specs, settings, spec)
        _check_tenant(specs, spec, priority, hosts, classes, problems)
        for cluster_name, share in quotas.get(tenant, {}).items():
            values = _tenant_values(specs, spec, out.facts[cluster_name], cluster_name, share, prefixes,
                                    priority, classes, hosts, datasets.get((tenant, cluster_name), []), problems)
            if queues and tenant in queues:  # its own namespace's leaf queue (compiler/plan/projects.py)
                values["queues"] = (queues[tenant],)
            out.params[(tenant, cluster_name)] = TenantParams(tenant, values)
    return out


def _tenant_values(specs: Specs, spec, facts: ClusterFacts, cluster_name: str, share: Quota, prefixes: list[str],
                   priority: list[str], classes: list[str], hosts: list[str], placed: list[DatasetPlacement],
                   problems: Problems) -> dict[str, tuple[str, ...]]:
    """One tenant's parameters on one cluster: what each rule allows it."""
    tenant = spec.tenant.name
    values: dict[str, tuple[str, ...]] = {}
    if "registries" in facts.rules:
        values["registries"] = tuple(prefixes)
    values["queues"] = (tenant,)
    values["priorityClasses"] = tuple(priority)
    if "storage-classes" in facts.rules and specs.platform.storage is not None:
        values["storageClasses"] = tuple(specs.platform.storage.classes)
    values["ingressClasses"] = tuple(classes)
    values["ingressHosts"] = tuple(h.replace("{tenant}", tenant) for h in hosts)
    placed_on = specs.platform.cluster(cluster_name)
    if "gpu-pools" in facts.rules and placed_on is not None:
        models = {m for m, n in share.gpu.items() if n.value > 0}
        values["gpuPools"] = tuple(p.name for p in placed_on.pools("gpu") if p.gpu_model in models
                                   and p in placed_on.pools_for("gpu", tenant, p.gpu_model))  # resource groups
        values["gpuCaches"] = _gpu_caches(tenant, placed)
    values["datasetMounts"], values["writableDatasets"] = _dataset_mounts(spec, placed, problems)
    return values


def _check_version(cluster: Cluster, where: str, file: str, problems: Problems) -> None:
    match = re.match(r"^v?(\d+)\.(\d+)", cluster.kubernetes_version)
    if match and (int(match[1]), int(match[2])) < MIN_VERSION:
        problems.add(file, where, f"guardrails need Kubernetes 1.30 or later (ValidatingAdmissionPolicy v1); "
                     f"{cluster.name} runs {cluster.kubernetes_version}",
                     "upgrade the cluster or remove the guardrails section")


def _facts(specs: Specs, settings: Guardrails, cluster: Cluster, index: int, problems: Problems) -> ClusterFacts:
    file = specs.platform_source.path
    rules = ["queues", "priority-classes", "ingress", "datasets", "parameters"]
    if specs.platform.allowed_registries:
        rules.append("registries")
    if specs.platform.storage is not None:
        rules.append("storage-classes")
    level = specs.platform.defaults.pod_security
    host = tuple(f for f in HOST_FEATURES if f in settings.forbid and f not in FORBIDDEN_BY_LEVEL[level])
    if host:
        rules.append("host-access")
    gpu = cluster.pools("gpu")
    pools = tuple(Pool(p.name, dict(p.labels), tuple((t.key, t.value, t.effect) for t in p.taints)) for p in gpu)
    _check_gpu_pools(cluster, index, settings, file, problems)
    if gpu:
        rules.append("gpu-pools")
    resources = tuple(sorted({p.gpu_resource for p in gpu}))
    groups = _group_taints(cluster)
    if groups:
        rules.append("resource-groups")
    return ClusterFacts(cluster.name, tuple(sorted(rules)), pools, resources, settings.cpu_off_gpu_pools, host, groups)


def _check_gpu_pools(cluster: Cluster, index: int, settings: Guardrails, file: str, problems: Problems) -> None:
    """GPU pools the gpu-pools rule can tell apart (a label of their own) and keep CPU pods off (a taint)."""
    for j, pool in enumerate(cluster.node_pools):
        if pool.role != "gpu":
            continue
        where = f"clusters[{index}].nodePools[{j}]"
        if not pool.labels:
            problems.add(file, f"{where}.labels", f"GPU pool {pool.name} has no labels: the gpu-pools guardrail "
                         "cannot tell a pod pinned to it", "give the pool its node labels")
            continue
        for other in cluster.node_pools:
            if other is not pool and other.labels and set(pool.labels.items()) <= set(other.labels.items()):
                problems.add(file, f"{where}.labels", f"every label of GPU pool {pool.name} is also on pool "
                             f"{other.name}: a pod pinned to {pool.name} could land on {other.name}",
                             "give each GPU pool a label the other pools lack, e.g. node.example.com/pool")
        if settings.cpu_off_gpu_pools and not pool.taints:
            problems.add(file, f"{where}.taints", f"GPU pool {pool.name} has no taint: pods without GPUs cannot "
                         "be kept off it at admission", "taint it (e.g. nvidia.com/gpu=present:NoSchedule) or set "
                         "guardrails.cpuOffGpuPools: false")


def _group_taints(cluster: Cluster) -> tuple[tuple[str, str, str, str], ...]:
    """The taints of each resource group that pools open to other tenants lack (key, value,
    effect, tenant): what only that tenant's pods may tolerate."""
    out: list[tuple[str, str, str, str]] = []
    for pool in cluster.node_pools:
        if pool.tenant is None:
            continue
        taken = {(t.key, t.value, t.effect) for p in cluster.node_pools if p.tenant != pool.tenant for t in p.taints}
        for t in pool.taints:
            entry = (t.key, t.value, t.effect, pool.tenant)
            if (t.key, t.value, t.effect) not in taken and t.effect in ("NoSchedule", "NoExecute") and entry not in out:
                out.append(entry)
    return tuple(out)


def _host_patterns(specs: Specs, settings: Guardrails, problems: Problems) -> list[str]:
    file = specs.platform_source.path
    if settings.ingress_hosts is not None:
        patterns = [(f"guardrails.ingressHosts[{i}]", h) for i, h in enumerate(settings.ingress_hosts)]
    else:
        default = specs.platform.notebooks.ingress_host
        if not default.startswith("{user}."):
            problems.add(file, "notebooks.ingressHost", f"'{default}' cannot be turned into an ingress host "
                         "pattern for the guardrails ({user} must be the first label)",
                         "set guardrails.ingressHosts, e.g. ['*.{tenant}.apps.example.com']")
            return []
        patterns = [("notebooks.ingressHost", "*." + default.removeprefix("{user}."))]
        serving = specs.platform.serving
        if serving.templates:  # servings may ask for an Ingress too
            if not serving.ingress_host.startswith("{name}."):
                problems.add(file, "serving.ingressHost", f"'{serving.ingress_host}' cannot be turned into an "
                             "ingress host pattern for the guardrails ({name} must be the first label)",
                             "set guardrails.ingressHosts, e.g. ['*.{tenant}.apps.example.com']")
                return []
            patterns.append(("serving.ingressHost", "*." + serving.ingress_host.removeprefix("{name}.")))
    out = []
    for where, pattern in patterns:
        try:
            host_pattern(pattern.replace("{tenant}", "tenant"))
            if "{" in pattern.replace("{tenant}", ""):
                raise HostPatternError(f"'{pattern}' has a placeholder other than {{tenant}}")
        except HostPatternError as exc:
            problems.add(file, where, f"{exc}: admission matches exact hosts and '*.' + host (one leading label)",
                         "write e.g. '*.{tenant}.apps.example.com' or 'app.{tenant}.example.com'")
            continue
        out.append(pattern)
    return out


def _ancestors(specs: Specs, spec: TenantSpec) -> set[str]:
    """The queues above a tenant's: its parent tenants and platform queues, up to the root."""
    parents = {q.name: q.parent for q in specs.platform.queues}
    parents.update({t.tenant.name: t.tenant.queue.parent for t in specs.tenants})
    out: set[str] = set()
    node = spec.tenant.queue.parent
    while node and node not in out:
        out.add(node)
        node = parents.get(node)
    return out


def allowed_priority_classes(specs: Specs, settings: Guardrails, spec: TenantSpec) -> list[str]:
    """The platform's classes open to every tenant, plus those granted to the tenant or to a
    platform queue above its queue."""
    scope = {spec.tenant.name} | _ancestors(specs, spec)
    return [c for c in specs.platform.priority_classes
            if c not in settings.priority_classes or scope & set(settings.priority_classes[c])]


def _check_priority_classes(specs: Specs, settings: Guardrails, problems: Problems) -> None:
    names = {t.tenant.name for t in specs.tenants} | {q.name for q in specs.platform.queues}
    for cls, grantees in settings.priority_classes.items():
        where = f"guardrails.priorityClasses.{cls}"
        if cls not in specs.platform.priority_classes:
            problems.add(specs.platform_source.path, where, f"unknown priority class '{cls}'",
                         f"use one of priorityClasses: {', '.join(specs.platform.priority_classes) or '(none)'}")
        for i, who in enumerate(grantees):
            if who not in names:
                problems.add(specs.platform_source.path, f"{where}[{i}]", f"'{who}' is neither a tenant nor a "
                             "platform queue", "name a tenant or a platform queue (every tenant under it)")


def _check_tenant(specs: Specs, spec: TenantSpec, priority: list[str], hosts: list[str], classes: list[str],
                  problems: Problems) -> None:
    """What the tenant's own spec renders must pass its guardrails (the same rule functions)."""
    file, tenant = spec.source.path, spec.tenant
    jobs: list[tuple[str, JobSpec]] = [(f"jobs[{i}]", j) for i, j in enumerate(tenant.jobs)]
    jobs += [(f"schedules[{i}].job", s.job) for i, s in enumerate(tenant.schedules)]
    for where, job in jobs:
        # An unknown class is reported by the workload checks; here only one the tenant may not use.
        if job.priority_class in specs.platform.priority_classes and job.priority_class not in priority:
            problems.add(file, f"{where}.priorityClass", f"the platform's guardrails do not allow priority class "
                         f"'{job.priority_class}' for tenant {tenant.name}",
                         f"use one of: {', '.join(priority) or '(none)'}, or ask the platform owners")
    patterns = [h.replace("{tenant}", tenant.name) for h in hosts]
    settings = specs.platform.notebooks
    for i, nb in enumerate(tenant.notebooks):
        if not tenant.notebook_ingress(nb):
            continue
        if settings.ingress_class and settings.ingress_class not in classes:
            problems.add(file, f"notebooks[{i}].ingress", f"the guardrails do not allow ingress class "
                         f"'{settings.ingress_class}' ({', '.join(classes) or 'none'})",
                         "add it to guardrails.ingressClasses")
        host = expand_host(settings.ingress_host, notebook_key(nb), tenant.name)
        _check_host(file, f"notebooks[{i}].ingress", host, patterns, "notebooks.ingressHost", problems)
    serving = specs.platform.serving
    for i, sv in enumerate(tenant.servings):
        if not sv.ingress:
            continue
        if serving.ingress_class and serving.ingress_class not in classes:
            problems.add(file, f"servings[{i}].ingress", f"the guardrails do not allow ingress class "
                         f"'{serving.ingress_class}' ({', '.join(classes) or 'none'})",
                         "add it to guardrails.ingressClasses")
        host = serving.host(sv.name, tenant.name)
        _check_host(file, f"servings[{i}].ingress", host, patterns, "serving.ingressHost", problems)


def _check_host(file: str, where: str, host: str, patterns: list[str], setting: str, problems: Problems) -> None:
    if not host_allowed(host, patterns):
        problems.add(file, where, f"host {host} does not match the guardrails' ingress hosts "
                     f"({', '.join(patterns) or 'none'})", f"change guardrails.ingressHosts or {setting} so they agree")


def _gpu_caches(namespace: str, placed: list[DatasetPlacement]) -> tuple[str, ...]:
    """Fluid's `fluid.io/dataset` label of the tenant's caches on GPU pools: their workers may
    tolerate the GPU taint without requesting a GPU."""
    return tuple(sorted({fluid.worker_dataset_label(namespace, site.name) for p in placed if p.own is not None
                         for site in p.sites if any(pool.role == "gpu" for pool in site.pools)}))


def _dataset_mounts(spec: TenantSpec, placed: list[DatasetPlacement],
                    problems: Problems) -> tuple[tuple[str, ...], tuple[str, ...]]:
    mounts: list[str] = []
    writable: list[str] = []
    for p in placed:
        if p.own is not None:
            for j, mount in enumerate(p.own.mounts):
                index = next(i for i, d in enumerate(spec.tenant.datasets) if d.name == p.own.name)
                if any(ch.isspace() for ch in mount.uri):
                    problems.add(spec.source.path, f"datasets[{index}].mounts[{j}].uri",
                                 "a mount with whitespace cannot be a guardrail parameter", "encode it (%20)")
                    continue
                if mount.uri not in mounts:
                    mounts.append(mount.uri)
        elif p.origin is not None:
            # One Dataset per cache of the owner's the tenant's pods read (compiler.plan.datasets).
            for origin in [site.origin for site in p.sites if site.origin] or [p.origin[1]]:
                ref = f"dataset://{p.origin[0]}/{origin}"
                if ref not in mounts:
                    mounts.append(ref)
                if p.writable and ref not in writable:
                    writable.append(ref)
    return tuple(mounts), tuple(writable)
