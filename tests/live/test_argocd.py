"""Argo CD output: AppProjects confine each tenant, the ApplicationSet lists every rendered
folder; both valid against the upstream CRDs and accepted by the real API server."""
from __future__ import annotations

import pytest
from live_support import SHARED_CRDS, client_for, fresh, write_repo

from compiler.kinds import ARGOCD_DIR, SYNC_WAVE_ANNOTATION, is_cluster_scoped
from compiler.live.resources import discover
from compiler.pipeline import compile_repo
from compiler.render.argocd import SYNC_OPTIONS, ArgoCdSettings, render_argocd
from compiler.validate.crds import load_crds

REPO_URL = "https://git.example.com/ml/platform.git"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    base = fresh("argo")
    tenants = [f"{base}-a", f"{base}-b"]
    root = write_repo(tmp_path_factory.mktemp("argo"), base, f"{base}-ctx", tenants, f"{base}-q")
    return compile_repo(root, [SHARED_CRDS]), base, tenants


def render(compiled, **settings):
    result, _, _ = compiled
    return render_argocd(result.plan, ArgoCdSettings(repo_url=REPO_URL, **settings), result.objects)


def by_kind(objects: dict, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects.values() if o["kind"] == kind}


def test_nothing_is_rendered_without_argocd_settings(compiled):
    result, _, _ = compiled
    assert render_argocd(result.plan, objects=result.objects) == {}


def test_objects_are_valid_against_the_argo_cd_crds(compiled):
    crds = load_crds([SHARED_CRDS / "argocd"])
    out = render(compiled)
    assert out and all(path.startswith(f"{ARGOCD_DIR}/") for path in out)
    for path, obj in out.items():
        schema = crds.compiled(obj["apiVersion"], obj["kind"])
        assert schema is not None, path
        assert schema.violations(obj) == [], path


def test_each_tenant_project_is_confined_to_its_namespace_kinds_and_objects(compiled):
    result, cluster, tenants = compiled
    projects = by_kind(render(compiled), "AppProject")
    assert set(projects) == {*tenants, "platform"}
    for tenant in tenants:
        spec = projects[tenant]["spec"]
        assert spec["destinations"] == [{"name": cluster, "namespace": tenant}]
        owned = [o for p, o in result.objects.items() if p.startswith(f"{cluster}/{tenant}/")]
        kinds = [(e["group"], e["kind"]) for e in spec["namespaceResourceWhitelist"]]
        assert kinds == sorted({(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in owned
                                if not is_cluster_scoped(o)})
        assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace", "name": tenant},
                                                    {"group": "scheduling.volcano.sh", "kind": "Queue", "name": tenant}]
        assert spec["sourceRepos"] == [REPO_URL]
        roles = {r["name"]: r for r in spec["roles"]}
        assert set(roles) == {"admin", "edit"}
        assert f"{tenant}-eng" in roles["edit"]["groups"]
        assert all(p.startswith(f"p, proj:{tenant}:") and f", {tenant}/*, allow" in p
                   for r in roles.values() for p in r["policies"])
    platform = projects["platform"]["spec"]
    assert platform["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]
    # the platform's queues and the member roles tenants are bound to (compiler/render/rbac.py)
    assert {e["kind"] for e in platform["clusterResourceWhitelist"]} == {"Queue", "ClusterRole"}
    assert {e["name"] for e in platform["clusterResourceWhitelist"] if e["kind"] == "ClusterRole"} == \
        {"tenantc-member-admin", "tenantc-member-edit", "tenantc-member-view"}


def test_application_set_lists_every_rendered_folder_and_syncs_server_side(compiled):
    result, cluster, tenants = compiled
    out = render(compiled, servers={cluster: "https://10.0.0.1:6443"})
    [appset] = by_kind(out, "ApplicationSet").values()
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    folders = sorted({p.rsplit("/", 1)[0] for p in result.objects if not p.startswith("_")})
    assert sorted(e["path"] for e in elements) == [f"rendered/{f}" for f in folders]
    for element in elements:
        assert (element["server"], element["destinationName"]) == ("https://10.0.0.1:6443", "")
    assert {e["project"] for e in elements} == {*tenants, "platform"}
    spec = appset["spec"]["template"]["spec"]
    assert spec["syncPolicy"]["syncOptions"] == SYNC_OPTIONS == ["ServerSideApply=true", "PruneLast=true"]
    assert spec["source"]["repoURL"] == REPO_URL
    waves = {o["metadata"]["annotations"][SYNC_WAVE_ANNOTATION] for o in result.objects.values()}
    assert waves <= {"0", "1", "2", "3", "4"} and "0" in waves  # the apply stages, carried by every object
    named = render(compiled)
    element = by_kind(named, "ApplicationSet")["tenantc"]["spec"]["generators"][0]["list"]["elements"][0]
    assert (element["server"], element["destinationName"]) == ("", cluster)


@pytest.mark.cluster
def test_the_api_server_accepts_them(compiled, control_plane):
    client = client_for(control_plane)
    namespace = fresh("argocd")
    client.apply(f"/api/v1/namespaces/{namespace}", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": namespace}})
    resources = discover(client)
    out = render(compiled, namespace=namespace)
    for obj in out.values():
        status, result = client.apply(resources.for_object(obj).object_path(obj), obj, dry_run=True)
        assert (status, result["metadata"]["name"]) == (201, obj["metadata"]["name"])
    assert client.counts.writes == 1  # only the namespace: the rest were dry runs
