"""Plan stage: per-cluster shares and the checks that need more than one file."""
from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import compile_problems, replace_once

from compiler.plan import resource_amounts
from compiler.plan.quota import SCALARS


def test_shares_of_every_example_tenant_sum_to_its_quota(example):
    """Splitting across clusters must neither create nor lose quota, resource by resource."""
    for spec in example.specs.tenants:
        shares = example.plan.quotas[spec.tenant.name]
        assert shares, spec.tenant.name
        for resource in SCALARS:
            total = getattr(spec.tenant.quota, resource)
            parts = [getattr(share, resource) for share in shares.values()]
            if total is None:
                assert all(p is None for p in parts)
            else:
                assert sum((p.value for p in parts), Decimal(0)) == total.value, (spec.tenant.name, resource)
        for model, count in spec.tenant.quota.gpu.items():
            assert sum(s.gpu[model].value for s in shares.values() if model in s.gpu) == count.value


def test_tenants_read_by_are_the_owners_of_what_a_tenant_imports(example):
    """The plan records whose specs decided a tenant's units: its imports' owners, the owners of
    the platform's global datasets and the tenants that let it in (its egress to them), never itself."""
    globals_ = {g.tenant for g in example.specs.platform.global_datasets}
    assert any(spec.tenant.imports for spec in example.specs.tenants), "the examples should import datasets"
    for spec in example.specs.tenants:
        name = spec.tenant.name
        letting_in = {t.tenant.name for t in example.specs.tenants if name in t.tenant.network.allow_from_tenants}
        expected = ({i.tenant for i in spec.tenant.imports} | globals_ | letting_in) - {name}
        assert example.plan.tenants_read_by(name) == sorted(expected), name


def test_every_unit_draws_only_its_own_workloads(example):
    """Each resolved workload is filed under the unit (tenant, cluster) it runs in."""
    units = example.plan.workloads.units
    assert units
    for (tenant, cluster), unit in units.items():
        jobs = [*unit.jobs, *unit.templates, *(s.job for s in unit.schedules),
                *(step.job for f in unit.flows for step in f.steps if step.job is not None)]
        assert all(f.cluster == cluster and f.tenant == tenant for f in unit.flows), (tenant, cluster)
        assert all((j.tenant, j.cluster) == (tenant, cluster) for j in jobs), (tenant, cluster)
        assert all((n.tenant, n.cluster) == (tenant, cluster) for n in unit.notebooks), (tenant, cluster)
        assert all((d.tenant, d.cluster) == (tenant, cluster) for d in unit.datasets), (tenant, cluster)
    assert any(unit.notebooks for unit in units.values()), "the examples should have notebooks"


def test_guarantees_fit_inside_each_clusters_quota_share(example):
    """A queue's guarantee on a cluster can never exceed that cluster's capability."""
    assert example.plan.guarantees, "the examples should exercise guarantees"
    for tenant, by_cluster in example.plan.guarantees.items():
        for cluster, guarantee in by_cluster.items():
            share = example.plan.quotas[tenant][cluster]
            models = example.specs.platform.cluster(cluster).gpu_models()
            capability = resource_amounts(share, models)
            for resource, amount in resource_amounts(guarantee, models).items():
                assert amount.value <= capability[resource].value, (tenant, cluster, resource)


def test_weighted_placement_follows_the_weights(example):
    """quant-research is placed 1:2 on gpu-east:cpu-west, so its cpu splits 200:400."""
    spec = example.specs.tenant("quant-research")
    weights = {name: share.weight for name, share in spec.tenant.placement.items()}
    shares = example.plan.quotas["quant-research"]
    total = spec.tenant.quota.cpu.value
    for cluster, weight in weights.items():
        expected = total * weight / sum(weights.values())
        assert abs(shares[cluster].cpu.value - expected) < 1


def _problem(problems, file: str, path: str) -> str:
    """The problem at (file, path) as printed; fails listing all problems when absent."""
    found = [str(p) for p in problems if p.file == file and p.path == path]
    assert found, "\n".join(map(str, problems))
    return found[0]


def test_quota_over_capacity_names_the_cluster_resource_and_tenants(repo):
    """Overbooking a cluster is caught before anything is rendered, with the tenants involved."""
    replace_once(repo / "tenants/vision.yaml", "A100: 64}", "A100: 640}")
    message = _problem(compile_problems(repo), "tenants/platform.yaml", "clusters.gpu-east.capacity.nvidia.com/gpu")
    assert "vision" in message and "128" in message


def test_gpus_of_a_model_no_placed_cluster_has(repo):
    """Recsys runs only on cpu-west, which has no A100 pools."""
    replace_once(repo / "tenants/recsys.yaml", "gpu: {A10: 16}", "gpu: {A10: 16, A100: 4}")
    assert "no cluster of this tenant has A100" in _problem(compile_problems(repo), "tenants/recsys.yaml",
                                                             "quota.gpu.A100")


def test_guarantee_of_a_gpu_model_outside_the_quota_is_an_error_not_a_crash(repo):
    """Regression: the guarantee split divided by zero weights and raised a traceback."""
    replace_once(repo / "tenants/vision.yaml", "guarantee: {gpu: {A100: 16}}", "guarantee: {gpu: {A10: 2}}")
    message = _problem(compile_problems(repo), "tenants/vision.yaml", "queue.guarantee.gpu.A10")
    assert "exceeds the quota" in message


def test_guarantee_above_quota(repo):
    """A queue cannot be guaranteed more than its quota."""
    replace_once(repo / "tenants/quant-research.yaml", 'guarantee: {cpu: "120"', 'guarantee: {cpu: "601"')
    assert "exceeds the quota 600" in _problem(compile_problems(repo), "tenants/quant-research.yaml",
                                               "queue.guarantee.cpu")


def test_explicit_amounts_must_add_up(repo):
    """ads-ranking places explicit amounts; they must sum to its logical quota."""
    replace_once(repo / "tenants/ads-ranking.yaml", 'quota: {cpu: "400"', 'quota: {cpu: "401"')
    message = _problem(compile_problems(repo), "tenants/ads-ranking.yaml", "placement.*.quota.cpu")
    assert "701" in message and "700" in message


def test_unknown_cluster_in_placement(repo):
    """A placement on a cluster the platform does not have lists the clusters it has."""
    replace_once(repo / "tenants/vision.yaml", "gpu-east: {weight: 1}",
                 "gpu-east: {weight: 1}\n  gpu-north: {weight: 1}")
    message = _problem(compile_problems(repo), "tenants/vision.yaml", "placement.gpu-north")
    assert "gpu-east" in message and "cpu-west" in message


def test_unknown_allowed_from_tenant(repo):
    """Letting traffic in from a tenant that does not exist is a typo to report."""
    replace_once(repo / "tenants/recsys.yaml", "allowFromTenants: [ads-ranking]", "allowFromTenants: [ads-rankin]")
    assert "unknown tenant 'ads-rankin'" in _problem(compile_problems(repo), "tenants/recsys.yaml",
                                                     "network.allowFromTenants[0]")


def test_queue_cycle_is_reported_for_each_member(repo):
    """Queues form a tree; a -> b -> a is named in both files."""
    replace_once(repo / "tenants/quant-research.yaml", "parent: research", "parent: ml-platform")
    replace_once(repo / "tenants/ml-platform.yaml", "queue:\n  weight: 1\n",
                 "queue:\n  weight: 1\n  parent: quant-research\n")
    problems = compile_problems(repo)
    for file in ("tenants/quant-research.yaml", "tenants/ml-platform.yaml"):
        assert "cycle" in _problem(problems, file, "queue.parent")


@pytest.mark.parametrize(("resource", "limit"), [("cpu", '"97"'), ("memory", "769Gi")])
def test_container_defaults_above_the_platform_maximum(repo, resource, limit):
    """A tenant default above the platform's LimitRange max would make every pod unschedulable."""
    old = 'default: {cpu: "4", memory: 16Gi}'
    new = old.replace('"4"', limit) if resource == "cpu" else old.replace("16Gi", limit)
    replace_once(repo / "tenants/quant-research.yaml", old, new)
    assert "above the platform maximum" in _problem(compile_problems(repo), "tenants/quant-research.yaml",
                                                    f"containerDefaults.default.{resource}")
