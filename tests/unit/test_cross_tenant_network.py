"""A tenant's egress to the tenants that let it in comes from *their* specs: the unit cache
must re-render the sender when a receiver's allowFromTenants changes (Plan.tenants_read_by)."""
from __future__ import annotations

from helpers import crd_dirs, replace_once

from compiler.pipeline import compile_repo

ALLOW_TO = "networkpolicy-allow-to-tenants.yaml"
ALLOW_FROM = "networkpolicy-allow-from-tenants.yaml"


def _compile(repo, **kwargs):
    return compile_repo(repo, crd_dirs(), **kwargs)


def _egress_peers(result, unit: str, file: str = ALLOW_TO, direction: str = "egress") -> set[str]:
    policy = result.objects.get(f"{unit}/{file}")
    if policy is None:
        return set()
    return {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in policy["spec"][direction] for peer in rule["to" if direction == "egress" else "from"]}


def test_a_senders_new_project_re_renders_its_receivers(repo):
    """Recsys lets ads-ranking in: its ingress names every namespace of ads-ranking, so a project
    added to ads-ranking's spec re-renders recsys's unit (Plan.project_peers), cached or not."""
    first = _compile(repo)
    assert _egress_peers(first, "cpu-west/recsys", ALLOW_FROM, "ingress") == {"ads-ranking"}
    text = (repo / "tenants/ads-ranking.yaml").read_text()
    (repo / "tenants/ads-ranking.yaml").write_text(
        text + "projects:\n  - {name: auctions, share: {weight: 0}}  # a namespace, no quota yet\n")
    second = _compile(repo)
    assert _egress_peers(second, "cpu-west/recsys", ALLOW_FROM, "ingress") == {"ads-ranking", "ads-ranking-auctions"}
    uncached = _compile(repo, use_cache=False)
    assert all(second.files[p] == uncached.files[p] for p in uncached.files)


def test_a_receivers_allow_list_re_renders_its_senders(repo):
    first = _compile(repo)
    recsys = first.specs.tenant("recsys").tenant
    recsys_namespaces = {"recsys"} | {f"recsys-{p.name}" for p in recsys.projects}  # and its projects'
    assert _egress_peers(first, "cpu-west/ads-ranking") == recsys_namespaces  # recsys lets ads-ranking in
    assert _egress_peers(first, "cpu-west/quant-research") == set()

    replace_once(repo / "tenants/recsys.yaml", "allowFromTenants: [ads-ranking]",
                 "allowFromTenants: [quant-research]")
    second = _compile(repo)
    assert _egress_peers(second, "cpu-west/quant-research") == recsys_namespaces
    assert _egress_peers(second, "cpu-west/ads-ranking") == set()
    # recsys (cpu-west) and both senders, on each of their two clusters (a unit's dependencies
    # are the tenant's, not the cluster's); and ml-platform's two, whose click-logs has a cache
    # on the A10 pools because recsys's A10 pods read it (README, "Caches next to their
    # readers"); nothing else
    assert second.units_rendered == 7

    uncached = _compile(repo, use_cache=False)
    assert list(second.files) == list(uncached.files)
    assert all(second.files[p] == uncached.files[p] for p in uncached.files)


def test_egress_goes_only_to_receivers_on_the_same_cluster(repo):
    """Vision (gpu-east only) letting recsys (cpu-west only) in opens nothing anywhere."""
    replace_once(repo / "tenants/vision.yaml", "storage:\n  home:",
                 "network:\n  allowFromTenants: [recsys]\nstorage:\n  home:")
    result = _compile(repo, use_cache=False)
    assert _egress_peers(result, "cpu-west/recsys") == set()
