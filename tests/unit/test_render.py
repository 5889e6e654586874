"""Renderers: ownership labels, least-privilege RBAC and deny-by-default networking, checked
over every object the examples render (expectations come from the specs, not literals)."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from helpers import REPO, notebook_intents

from compiler.identity import RenderedPath
from compiler.kinds import (
    MANAGED_BY_LABEL,
    PLATFORM_DIR,
    PLATFORM_TENANT,
    PROJECT_LABEL,
    QUEUE_READER_PREFIX,
    SOURCE_ANNOTATION,
    TENANT_LABEL,
)
from compiler.quantity import Quantity

RBAC = "rbac.authorization.k8s.io/v1"
MEMBER_ROLES = {"admin", "edit", "view"}


def in_project_namespace(obj: dict) -> bool:
    """Objects of a project's namespace (tests/unit/test_projects.py checks those)."""
    return bool(obj["metadata"].get("namespace")) and PROJECT_LABEL in obj["metadata"]["labels"]


def by_unit(objects: dict) -> dict[tuple[str, str], dict[tuple[str, str], dict]]:
    """(cluster, tenant) -> (kind, name) -> object, the tenant's own namespace's and its
    cluster-scoped objects."""
    out: dict = defaultdict(dict)
    for path, obj in objects.items():
        rendered = RenderedPath.parse(path)
        if rendered.in_cluster and not in_project_namespace(obj):  # rendered/_argocd/ is Argo CD's view
            out[(rendered.cluster, rendered.unit)][(obj["kind"], obj["metadata"]["name"])] = obj
    return out


def tenant_units(example):
    """(cluster, tenant spec, objects by (kind, name)) for every tenant on every cluster."""
    for (cluster, tenant), objects in sorted(by_unit(example.objects).items()):
        if tenant != PLATFORM_DIR:
            yield cluster, example.specs.tenant(tenant).tenant, objects


def test_every_object_carries_ownership_labels_and_its_source(example):
    """apply/prune find tenantc's objects by these labels; the annotation leads back to the spec."""
    assert example.objects
    for path, obj in example.objects.items():
        rendered = RenderedPath.parse(path)
        if not rendered.in_cluster:
            continue
        unit = rendered.unit
        meta = obj["metadata"]
        assert meta["labels"][MANAGED_BY_LABEL] == "tenantc", path
        assert meta["labels"][TENANT_LABEL] == (PLATFORM_TENANT if unit == PLATFORM_DIR else unit), path
        source = meta["annotations"][SOURCE_ANNOTATION]
        assert source.startswith("tenants/") and (REPO / source).is_file(), path
        if unit != PLATFORM_DIR:
            assert source == example.specs.tenant(unit).source.path, path


def test_namespaced_objects_live_in_their_tenants_namespace(example):
    """A tenant's objects never land in another tenant's namespace."""
    for cluster, tenant, objects in tenant_units(example):
        for (kind, name), obj in objects.items():
            namespace = obj["metadata"].get("namespace")
            assert namespace in (None, tenant.name), (cluster, tenant.name, kind, name)


def test_no_cluster_wide_grants_and_no_wildcards(example):
    """Tenants get namespaced grants only: ClusterRoles exist only as the platform's member roles
    (under _platform/, bound per namespace) and one queue reader per tenant, limited by name to
    that tenant's own Queue and bound (ClusterRoleBinding) to exactly that tenant's members; no '*'
    in any rule."""
    assert any(obj["kind"] == "Role" and obj["rules"] for obj in example.objects.values())
    cluster_roles = set()
    readers = 0
    for path, obj in example.objects.items():
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding") and path.split("/")[1] != PLATFORM_DIR:
            tenant = example.specs.tenant(path.split("/")[1]).tenant
            # the tenant's readers (its queue, and its leaf queue when it has projects), or a project's
            wanted = {f"{QUEUE_READER_PREFIX}{tenant.name}": (
                [tenant.name, *([f"{tenant.name}-default"] if tenant.projects else [])], tenant.members)}
            for project in tenant.projects:
                members = [m for m in tenant.members if m.role == "admin"] + list(project.members)
                wanted[f"{QUEUE_READER_PREFIX}{tenant.name}-{project.name}"] = (
                    [f"{tenant.name}-{project.name}"], members)
            assert obj["metadata"]["name"] in wanted, path
            queues, members = wanted[obj["metadata"]["name"]]
            if obj["kind"] == "ClusterRole":
                assert obj["rules"] == [{"apiGroups": ["scheduling.volcano.sh"], "resources": ["queues"],
                                         "resourceNames": queues, "verbs": ["get", "list", "watch"]}], path
            else:
                assert obj["roleRef"]["name"] == obj["metadata"]["name"], path
                assert {(s["kind"], s["name"]) for s in obj["subjects"]} == {m.subject for m in members}
            readers += 1
        elif obj["kind"] == "ClusterRole":
            cluster_roles.add((path.split("/")[0], obj["metadata"]["name"]))
        else:
            assert obj["kind"] != "ClusterRoleBinding", path
        for rule in obj.get("rules", []) if isinstance(obj.get("rules"), list) else []:
            for key in ("verbs", "resources", "apiGroups", "resourceNames"):
                assert "*" not in rule.get(key, []), (path, rule)
                assert not any("*" in value for value in rule.get(key, [])), (path, rule)
    clusters = {c.name for c in example.specs.platform.clusters}
    assert cluster_roles == {(c, f"tenantc-member-{role}") for c in clusters for role in MEMBER_ROLES}
    assert readers


def test_member_roles_never_write_the_guard_rails(example):
    """No member role may write quotas, limits, NetworkPolicies, Leases or anything RBAC-escalating;
    each role holds the one below it. (What they allow on a real API server: tests/oracles.)"""
    roles = {o["metadata"]["name"]: o["rules"] for p, o in example.objects.items()
             if o["kind"] == "ClusterRole" and p.startswith("gpu-east/")}

    def grants(rules):
        return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
                for resource in rule["resources"] for verb in rule["verbs"]}

    view, edit, admin = (grants(roles[f"tenantc-member-{r}"]) for r in ("view", "edit", "admin"))
    assert view < edit < admin
    assert all(v in ("get", "list", "watch") for _, _, v in view)
    guarded = {("", "resourcequotas"), ("", "limitranges"), ("networking.k8s.io", "networkpolicies"),
               ("coordination.k8s.io", "leases"), ("scheduling.volcano.sh", "podgroups")}
    assert not [g for g in admin if (g[0], g[1]) in guarded and g[2] not in ("get", "list", "watch")]
    assert not [g for g in admin if g[2] in ("escalate", "bind", "impersonate")]


def test_role_bindings_only_to_member_roles_or_own_roles(example):
    """Bindings reference the platform's member roles, never cluster-admin or the built-in
    admin/edit/view, or a Role rendered beside them."""
    bindings = 0
    for cluster, tenant, objects in tenant_units(example):
        for (kind, name), obj in objects.items():
            if kind != "RoleBinding":
                continue
            bindings += 1
            ref = obj["roleRef"]
            if ref["kind"] == "ClusterRole":
                assert ref["name"] in {f"tenantc-member-{r}" for r in MEMBER_ROLES}, (cluster, tenant.name, name)
            else:
                assert ref["kind"] == "Role" and ("Role", ref["name"]) in objects, (cluster, tenant.name, name)
    assert bindings


def test_member_bindings_match_the_members(example):
    """Each role's binding has exactly the users and groups the spec gives that role."""
    for cluster, tenant, objects in tenant_units(example):
        for role in MEMBER_ROLES:
            expected = sorted({m.subject for m in tenant.members if m.role == role})
            binding = objects.get(("RoleBinding", f"members-{role}"))
            got = sorted((s["kind"], s["name"]) for s in binding["subjects"]) if binding else []
            assert got == expected, (cluster, tenant.name, role)
            if binding:
                assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                              "name": f"tenantc-member-{role}"}


def _peers(rule_list: list[dict]) -> set[str]:
    """Namespaces a list of ingress/egress rules reaches through namespaceSelector."""
    return {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in rule_list for peer in rule.get("from", rule.get("to", [])) if "namespaceSelector" in peer}


def _namespaces(example, tenant: str) -> set[str]:
    """A tenant's namespaces as its spec names them: its own and '<tenant>-<project>' per project."""
    spec = example.specs.tenant(tenant).tenant
    return {tenant} | {f"{tenant}-{p.name}" for p in spec.projects}


def test_network_policies_deny_by_default_and_open_what_the_spec_says(example):
    """Default deny, then DNS, monitoring, the ingress gateway (to notebooks with an Ingress, if
    wanted), allowed tenants both ways and egress CIDRs, each exactly as the spec says. (What
    these policies let through is proven by the network oracle, tests/oracles.)"""
    platform = example.specs.platform
    for cluster, tenant, objects in tenant_units(example):
        policies = {name: obj["spec"] for (kind, name), obj in objects.items() if kind == "NetworkPolicy"}
        where = (cluster, tenant.name)
        deny = policies["default-deny"]
        assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}, where
        assert "ingress" not in deny and "egress" not in deny, where

        dns = policies["allow-dns"]["egress"]
        assert _peers(dns) == {platform.dns_namespace}, where
        assert {(p["port"], p["protocol"]) for rule in dns for p in rule["ports"]} == {(53, "UDP"), (53, "TCP")}

        assert _peers(policies["allow-monitoring"]["ingress"]) == {platform.monitoring_namespace}, where

        network = tenant.network
        # The gateway never gets the whole namespace: only notebooks and servings asking for an
        # Ingress, on their port (Jupyter's 8888, the serving template's port).
        from_gateway = {name for name, spec in policies.items()
                        if platform.ingress_namespace in _peers(spec.get("ingress", []))}
        ports = {f"{nb.name}-from-ingress": 8888 for nb in notebook_intents(tenant)
                 if nb.ingress and network.allow_from_ingress and nb.name in
                 {name for kind, name in objects if kind == "StatefulSet"}}
        templates = {t.name: t for t in platform.serving.templates}
        ports.update({f"{sv.name}-from-ingress": templates[sv.template].port for sv in tenant.servings
                      if sv.ingress and network.allow_from_ingress and sv.cluster == cluster})
        assert from_gateway == set(ports), where
        for name in from_gateway:
            assert policies[name]["podSelector"] != {}, where
            assert [p["port"] for rule in policies[name]["ingress"] for p in rule["ports"]] == [ports[name]], where

        allowed = policies.get("allow-from-tenants", {}).get("ingress", [])
        assert _peers(allowed) == {n for t in network.allow_from_tenants for n in _namespaces(example, t)}, where
        # Egress to every tenant on this cluster that lets this one in (the other end of their allow).
        letting_in = {t.tenant.name for t in example.specs.tenants
                      if t.tenant.name != tenant.name and tenant.name in t.tenant.network.allow_from_tenants
                      and cluster in example.plan.quotas[t.tenant.name]}
        assert _peers(policies.get("allow-to-tenants", {}).get("egress", [])) == \
            {n for t in letting_in for n in _namespaces(example, t)}, where

        egress = policies.get("allow-egress-cidrs", {}).get("egress", [])
        got = [(peer["ipBlock"]["cidr"], sorted((p["port"], p["protocol"]) for p in rule.get("ports", [])))
               for rule in egress for peer in rule["to"]]
        want = [(rule.cidr, sorted((p.port, p.protocol) for p in rule.ports)) for rule in network.egress]
        assert got == want, where


def test_examples_exercise_every_network_branch(example):
    """The checks above only mean something if the examples take each branch at least once."""
    tenants = [spec.tenant for spec in example.specs.tenants]
    assert any(t.network.egress for t in tenants)
    assert any(t.network.allow_from_tenants for t in tenants)
    assert any(not t.network.allow_from_ingress for t in tenants)
    assert any(t.network.allow_from_ingress for t in tenants)
    assert any(nb.ingress for t in tenants for nb in notebook_intents(t))
    placed = example.plan.quotas
    assert any(set(placed[t.name]) & set(placed[other]) for t in tenants for other in t.network.allow_from_tenants)


def test_resource_quota_holds_the_clusters_share(example):
    """The ResourceQuota of a cluster is that cluster's share from the plan, in canonical form;
    for a tenant with projects, the ResourceQuotas of its namespaces add up to it exactly."""
    names = {"cpu": "requests.cpu", "memory": "requests.memory", "pods": "pods",
             "pvcs": "persistentvolumeclaims", "storage": "requests.storage"}
    for cluster, tenant, objects in tenant_units(example):
        hard = objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
        share = example.plan.quotas[tenant.name][cluster]
        if tenant.projects:
            hards = [hard] + [o["spec"]["hard"] for p, o in example.objects.items() if p.startswith(
                f"{cluster}/{tenant.name}/") and o["kind"] == "ResourceQuota" and in_project_namespace(o)]
            assert len(hards) == len(tenant.projects) + 1
            for field, key in names.items():
                amount = getattr(share, field)
                total = sum((Quantity.parse(h[key]).value for h in hards), start=Decimal(0))
                assert amount is not None and total == amount.value, (cluster, tenant.name, key)
            continue
        for field, key in names.items():
            amount = getattr(share, field)
            assert hard.get(key) == (amount.canonical() if amount is not None else None), (cluster, tenant.name, key)


def test_a_tenant_appears_only_on_its_clusters(example):
    """No namespace on a cluster the tenant is not placed on."""
    placed = {(c, t.tenant.name) for t in example.specs.tenants for c in example.plan.quotas[t.tenant.name]}
    rendered = {(c, t) for (c, t) in by_unit(example.objects) if t != PLATFORM_DIR}
    assert rendered == placed


def test_every_gpu_resource_of_the_cluster_is_capped_even_at_zero(example):
    """Issue 12: a ResourceQuota (and a Volcano queue capability) without a line for a resource
    does not limit it, so a tenant without GPUs of a model on a cluster gets an explicit 0 for
    that model's resource; one with GPUs gets exactly its share of each model."""
    checked_zero = 0
    for cluster_name, tenant, objects in tenant_units(example):
        cluster = example.specs.platform.cluster(cluster_name)
        share = example.plan.quotas[tenant.name][cluster_name]
        hard = objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
        capability = objects[("Queue", tenant.name)]["spec"]["capability"]
        for resource in sorted({p.gpu_resource for p in cluster.pools("gpu")}):
            models = [m for m, r in cluster.gpu_models().items() if r == resource and m in share.gpu]
            want = sum((share.gpu[m].value for m in models), start=0)
            if not tenant.projects:  # else its namespaces split the share (tests/unit/test_projects.py)
                assert hard.get(f"requests.{resource}") == str(want), (cluster_name, tenant.name, resource, hard)
            assert capability.get(resource) == str(want), (cluster_name, tenant.name, resource, capability)
            checked_zero += want == 0
    assert checked_zero, "the examples must have a tenant without GPUs on a cluster with GPUs"
