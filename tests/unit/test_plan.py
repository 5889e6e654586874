"""Plan stage: per-cluster shares and the checks that need more than one file."""
from __future__ import annotations

from decimal import Decimal

import compiler.plan as plan_module
from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.plan import make_plan, resource_amounts
from compiler.plan.quota import SCALARS
from compiler.quantity import Quantity


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
    the platform's global datasets and the tenants that let it in (its egress to them), never
    itself; and for an owner, the importers whose GPU pods read its cached data (their models get
    caches of their own): vision's A100 pods read ml-platform's imagenet, recsys's A10 pods its
    click-logs."""
    globals_ = {g.tenant for g in example.specs.platform.global_datasets}
    assert any(spec.tenant.imports for spec in example.specs.tenants), "the examples should import datasets"
    gpu_readers = {"ml-platform": {"vision", "recsys"}}
    for spec in example.specs.tenants:
        name = spec.tenant.name
        letting_in = {t.tenant.name for t in example.specs.tenants if name in t.tenant.network.allow_from_tenants}
        expected = ({i.tenant for i in spec.tenant.imports} | globals_ | letting_in | gpu_readers.get(name, set()))
        assert example.plan.tenants_read_by(name) == sorted(expected - {name}), name


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


def test_gpu_models_with_resource_names_of_their_own_are_capped_apart(example):
    """With per-model resource names (the H100 pool's gpuResource), each model is its own line."""
    share = example.plan.quotas["ads-ranking"]["gpu-east"]
    assert {m: q.value for m, q in share.gpu.items()} == {"A100": 24, "H100": 8}
    cluster = example.specs.platform.cluster("gpu-east")
    assert cluster.gpu_models() == {"A100": "nvidia.com/gpu", "H100": "nvidia.com/h100"}


def _with_changed_quota(specs: Specs, name: str) -> Specs:
    """`specs` with one tenant's model replaced by a copy of larger CPU quota; every other model,
    and the platform's, the very same objects."""
    def changed(spec: TenantSpec) -> TenantSpec:
        if spec.tenant.name != name:
            return spec
        cpu = spec.tenant.quota.cpu
        assert cpu is not None
        quota = spec.tenant.quota.model_copy(update={"cpu": Quantity(cpu.value * 2, cpu.fmt)})
        return TenantSpec(spec.tenant.model_copy(update={"quota": quota}), spec.source)
    return Specs(specs.platform, specs.platform_source, [changed(s) for s in specs.tenants])


def _split_tenants(monkeypatch) -> list[str]:
    """The names of the tenants whose quota make_plan splits from here on, one per split."""
    split: list[str] = []
    real = plan_module.split_quota

    def spied(tenant, *args, **kwargs):
        split.append(tenant.name)
        return real(tenant, *args, **kwargs)
    monkeypatch.setattr(plan_module, "split_quota", spied)
    return split


def test_a_plan_lent_decisions_equals_one_made_afresh(example, monkeypatch):
    """make_plan(previous=...) takes each shared tenant's own decisions from the previous plan
    and splits only the changed tenant's quota again: the plan is the one made without it,
    field by field."""
    changed = "ml-platform"
    specs = _with_changed_quota(example.specs, changed)
    afresh = make_plan(specs, Problems())
    split = _split_tenants(monkeypatch)
    lent = make_plan(specs, Problems(), previous=example.plan)
    assert lent == afresh
    assert lent.quotas[changed] != example.plan.quotas[changed]
    assert set(split) == {changed}


def test_no_decision_is_lent_across_platforms(example, monkeypatch):
    """A platform model that is not the very object the previous plan was made for (an equal
    copy, here) lends nothing: every tenant's quota is split again."""
    specs = Specs(example.specs.platform.model_copy(), example.specs.platform_source, example.specs.tenants)
    split = _split_tenants(monkeypatch)
    plan = make_plan(specs, Problems(), previous=example.plan)
    assert plan == make_plan(specs, Problems()) and plan.quotas == example.plan.quotas
    assert set(split) == {t.tenant.name for t in specs.tenants}
