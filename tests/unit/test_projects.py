"""Projects (issue 16): each project of a tenant is a namespace '<tenant>-<project>' on every
cluster of the tenant, with its members (and the tenant's admins), its part of the quota and a
Volcano queue under the tenant's. Expectations come from the specs: the weights' arithmetic,
the members listed, the namespaces named.

Volcano's hierarchical queues: a queue names its parent in `spec.parent` (the Queue CRD,
volcano-sh/volcano config/crd/volcano/bases/scheduling.volcano.sh_queues.yaml), and its job
admission webhook refuses a job whose queue has child queues ("can only submit job to leaf
queue", volcano-sh/volcano pkg/webhooks/admission/jobs/validate/util.go); so a tenant with
projects runs its own workloads in a leaf queue too.
"""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
from helpers import copy_repo

from compiler.kinds import PROJECT_LABEL
from compiler.model.tenant import Quota
from compiler.pipeline import compile_repo
from compiler.plan.projects import spread_parts
from compiler.quantity import Quantity

SCALAR_KEYS = {"cpu": "requests.cpu", "memory": "requests.memory", "pods": "pods", "pvcs": "persistentvolumeclaims",
               "storage": "requests.storage"}


def _tenants_with_projects(example):
    tenants = [s.tenant for s in example.specs.tenants if s.tenant.projects]
    assert tenants, "the examples must have a tenant with projects"
    return tenants


def _in(example, cluster: str, tenant: str, namespace: str | None, kind: str, name: str) -> dict:
    found = [o for p, o in example.objects.items() if p.startswith(f"{cluster}/{tenant}/") and o["kind"] == kind
             and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace]
    assert len(found) == 1, (cluster, tenant, namespace, kind, name, len(found))
    return found[0]


def _weights(tenant) -> list[int]:
    own = tenant.own_share.weight if tenant.own_share and tenant.own_share.weight is not None else 1
    return [own] + [p.share.weight for p in tenant.projects]


def test_each_project_is_a_namespace_with_its_members_and_the_tenants_admins(example):
    for tenant in _tenants_with_projects(example):
        admins = {m.subject for m in tenant.members if m.role == "admin"}
        for cluster in tenant.placement:
            for project in tenant.projects:
                ns = f"{tenant.name}-{project.name}"
                namespace = _in(example, cluster, tenant.name, None, "Namespace", ns)
                assert namespace["metadata"]["labels"][PROJECT_LABEL] == project.name
                assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
                    example.specs.platform.defaults.pod_security
                for role in ("admin", "edit", "view"):
                    want = {m.subject for m in project.members if m.role == role}
                    want |= admins if role == "admin" else set()
                    found = [o for p, o in example.objects.items() if p.startswith(f"{cluster}/{tenant.name}/")
                             and o["kind"] == "RoleBinding" and o["metadata"]["name"] == f"members-{role}"
                             and o["metadata"]["namespace"] == ns]
                    got = {(s["kind"], s["name"]) for b in found for s in b["subjects"]}
                    assert got == want, (ns, role)
                    if found:
                        assert found[0]["roleRef"]["name"] == f"tenantc-member-{role}"


def test_weights_split_the_tenants_share_over_its_namespaces(example):
    """Single-cluster tenant, amounts the weights divide exactly: each namespace's ResourceQuota
    holds amount x weight / total weight, and a GPU resource the namespace has none of is 0."""
    checked = 0
    for tenant in _tenants_with_projects(example):
        weights = _weights(tenant)
        namespaces = [tenant.name] + [f"{tenant.name}-{p.name}" for p in tenant.projects]
        for cluster in tenant.placement:
            share = example.plan.quotas[tenant.name][cluster]
            for ns, weight in zip(namespaces, weights, strict=True):
                hard = _in(example, cluster, tenant.name, ns, "ResourceQuota", "tenant-quota")["spec"]["hard"]
                amounts = {key: getattr(share, f) for f, key in SCALAR_KEYS.items() if getattr(share, f) is not None}
                for key, amount in amounts.items():
                    exact = amount.value * weight / sum(weights)
                    if len(tenant.placement) == 1 and exact == exact.to_integral_value():
                        assert Quantity.parse(hard[key]).value == exact, (ns, key)
                        checked += 1
                assert all(k.startswith("requests.") or k in ("pods", "persistentvolumeclaims") for k in hard)
    assert checked


def test_queues_form_a_tree_and_workloads_use_leaf_queues(example):
    """Project queues and the tenant's own leaf queue have the tenant's queue as parent and a
    capability equal to their namespace's ResourceQuota; the tenant's own jobs and guardrail
    parameters name its leaf queue, each project's parameters its project's queue."""
    for tenant in _tenants_with_projects(example):
        for cluster in tenant.placement:
            leaves = {tenant.name: f"{tenant.name}-default"}
            leaves.update({f"{tenant.name}-{p.name}": f"{tenant.name}-{p.name}" for p in tenant.projects})
            for ns, queue_name in leaves.items():
                queue = _in(example, cluster, tenant.name, None, "Queue", queue_name)["spec"]
                hard = _in(example, cluster, tenant.name, ns, "ResourceQuota", "tenant-quota")["spec"]["hard"]
                assert queue["parent"] == tenant.name
                for resource, amount in queue["capability"].items():
                    assert hard[f"requests.{resource}"] == amount, (ns, resource)
                params = _in(example, cluster, tenant.name, ns, "ConfigMap", "tenantc-guardrails")
                assert params["data"]["queues"] == queue_name
            jobs = [o for p, o in example.objects.items() if p.startswith(f"{cluster}/{tenant.name}/")
                    and o["kind"] in ("Job", "JobTemplate") and "volcano" in o["apiVersion"]]
            assert jobs and all(j["spec"]["queue"] == leaves[tenant.name] for j in jobs)


def test_project_namespaces_reach_each_other_and_carry_the_tenants_policies(example):
    for tenant in _tenants_with_projects(example):
        namespaces = {tenant.name} | {f"{tenant.name}-{p.name}" for p in tenant.projects}
        for cluster in tenant.placement:
            own = {o["metadata"]["name"] for p, o in example.objects.items()
                   if p.startswith(f"{cluster}/{tenant.name}/") and o["kind"] == "NetworkPolicy"
                   and o["metadata"]["namespace"] == tenant.name}
            for ns in namespaces:
                policy = _in(example, cluster, tenant.name, ns, "NetworkPolicy", "allow-tenant-namespaces")["spec"]
                peers = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                         for rule in policy["ingress"] for peer in rule["from"]}
                assert peers == namespaces - {ns}
                names = {o["metadata"]["name"] for p, o in example.objects.items()
                         if p.startswith(f"{cluster}/{tenant.name}/") and o["kind"] == "NetworkPolicy"
                         and o["metadata"]["namespace"] == ns}
                assert names == own, ns


def test_a_tenant_without_projects_renders_as_before(tmp_path, crds, example):
    """Removing a tenant's projects leaves exactly the objects of its own namespace, whole share,
    no leaf queue, jobs in the tenant's queue: what a tenant without projects always rendered."""
    tenant = _tenants_with_projects(example)[0]
    root = copy_repo(tmp_path / "repo")
    path = root / "tenants" / f"{tenant.name}.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("ownShare:")])
    result = compile_repo(root, crds=crds)
    for cluster in tenant.placement:
        folder = {p: o for p, o in result.objects.items() if p.startswith(f"{cluster}/{tenant.name}/")}
        assert not [p for p, o in folder.items() if PROJECT_LABEL in o["metadata"]["labels"]]
        hard = folder[f"{cluster}/{tenant.name}/resourcequota-tenant-quota.yaml"]["spec"]["hard"]
        assert hard["requests.cpu"] == result.plan.quotas[tenant.name][cluster].cpu.canonical()
        assert f"{cluster}/{tenant.name}/queue.scheduling.volcano.sh-{tenant.name}-default.yaml" not in folder
        jobs = [o for o in folder.values() if o["kind"] == "JobTemplate"]
        assert jobs and all(j["spec"]["queue"] == tenant.name for j in jobs)


@pytest.mark.parametrize("seed", range(40))
def test_spread_adds_up_both_ways(seed):
    """Each namespace's logical part over the clusters, and each cluster's share over the
    namespaces, add up exactly; no part is negative."""
    rng = random.Random(seed)
    clusters = [f"c{i}" for i in range(rng.randint(1, 4))]
    namespaces = rng.randint(1, 5)
    unit = Decimal(1024) ** 3 if seed % 2 else Decimal(1)
    total = rng.randint(0, 300)
    cut = sorted(rng.randint(0, total) for _ in range(len(clusters) - 1))
    shares_units = [b - a for a, b in zip([0, *cut], [*cut, total], strict=True)]
    cut = sorted(rng.randint(0, total) for _ in range(namespaces - 1))
    parts_units = [b - a for a, b in zip([0, *cut], [*cut, total], strict=True)]
    resource = "memory" if seed % 2 else "pods"
    shares = {c: Quota.model_construct(gpu={}, **{resource: Quantity(Decimal(n) * unit)})
              for c, n in zip(clusters, shares_units, strict=True)}
    logical = Quota.model_construct(gpu={}, **{resource: Quantity(Decimal(total) * unit)})
    parts = [{resource: Decimal(n) * unit} for n in parts_units]
    spread = spread_parts(parts, shares, logical)
    assert spread is not None
    for cluster, quotas in spread.items():
        values = [getattr(q, resource).value for q in quotas]
        assert all(v >= 0 for v in values)
        assert sum(values) == shares[cluster].__getattribute__(resource).value
    for i, part in enumerate(parts):
        assert sum(getattr(spread[c][i], resource).value for c in clusters) == part[resource]
