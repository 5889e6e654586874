"""Argo CD output: AppProjects confine each tenant, the ApplicationSet lists every rendered
folder; both valid against the upstream CRDs and accepted by the real API server. The
delivery rules (compiler.delivery) as Argo CD objects here; what Argo CD then does with them
is tests/delivery (the documented-behaviour oracle)."""
from __future__ import annotations

import json

import pytest
from live_support import SHARED_CRDS, client_for, fresh, write_repo

from compiler import delivery
from compiler.kinds import (
    ARGOCD_DIR,
    COMPARE_OPTIONS_ANNOTATION,
    SYNC_OPTIONS_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
    is_cluster_scoped,
)
from compiler.kube.discovery import discover
from compiler.kube.errors import ApiError
from compiler.pipeline import compile_repo
from compiler.render.argocd import SYNC_OPTIONS, ArgoCdSettings, render_argocd, summaries_of
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
        reader = f"tenantc-queue-reader-{tenant}"  # its members read its Queue (compiler/render/queue.py)
        assert spec["clusterResourceWhitelist"] == [
            {"group": "", "kind": "Namespace", "name": tenant},
            {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
            {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding", "name": reader},
            {"group": "scheduling.volcano.sh", "kind": "Queue", "name": tenant}]
        assert spec["sourceRepos"] == [REPO_URL]
        roles = {r["name"]: r for r in spec["roles"]}
        assert set(roles) == {"admin", "edit"}
        assert f"{tenant}-eng" in roles["edit"]["groups"]
        assert all(p.startswith(f"p, proj:{tenant}:") and f", {tenant}/*, allow" in p
                   for r in roles.values() for p in r["policies"])
    platform = projects["platform"]["spec"]
    assert platform["namespaceResourceBlacklist"] == [{"group": "*", "kind": "*"}]
    # the platform's queues and the member roles tenants are bound to (compiler/render/member_roles.py)
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
    assert spec["syncPolicy"]["syncOptions"] == SYNC_OPTIONS == ["ServerSideApply=true", "PruneLast=true",
                                                                 "RespectIgnoreDifferences=true"]
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # applicationset/Application-Deletion.md: no resources finalizer on the generated Applications
    assert appset["spec"]["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    assert "finalizers" not in appset["spec"]["template"]["metadata"]
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


def test_namespaces_and_pvcs_are_never_pruned_or_deleted_by_argo_cd(compiled):
    """sync-options.md (argoproj/argo-cd): `Prune=false` ("No Prune Resources"), `Delete=false`
    ("No Resource Deletion", "e.g. for Persistent Volume Claims"), concatenated with `,`;
    compare-options.md: `IgnoreExtraneous`, so a kept leftover does not hold the Application
    OutOfSync (with selfHeal, auto_sync.md, the sync would be retried for ever)."""
    result, _, _ = compiled
    kept = [o for o in result.objects.values() if o["kind"] in ("Namespace", "PersistentVolumeClaim")]
    assert "Namespace" in {o["kind"] for o in kept}  # these tenants have no volumes: tests/delivery has them
    for obj in result.objects.values():
        annotations = obj["metadata"]["annotations"]
        if obj in kept:
            assert annotations[SYNC_OPTIONS_ANNOTATION] == "Prune=false,Delete=false"
            assert annotations[COMPARE_OPTIONS_ANNOTATION] == "IgnoreExtraneous"
        else:
            assert SYNC_OPTIONS_ANNOTATION not in annotations and COMPARE_OPTIONS_ANNOTATION not in annotations


def test_scaled_runtime_replicas_are_ignored_by_name_and_kept_by_syncs(compiled):
    """diffing.md: ignoreDifferences by group, kind, name and namespace with jsonPointers;
    sync-options.md: RespectIgnoreDifferences=true keeps the ignored fields' live values in a
    sync (its example is exactly /spec/replicas)."""
    result, cluster, tenants = compiled
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime",
               "metadata": {"name": "cache", "namespace": tenants[0]}, "spec": {"replicas": 1}}
    scaler = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cache-scale-0",
                                                                        "namespace": tenants[0]},
              "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                  {"name": "scale", "args": ["scale-runtime", "alluxioruntime/cache", "-n", tenants[0],
                                             "--replicas", "3"]}]}}}}}}
    objects = {**result.objects, f"{cluster}/{tenants[0]}/alluxioruntime.data.fluid.io-cache.yaml": runtime,
               f"{cluster}/{tenants[0]}/cronjob-cache-scale-0.yaml": scaler}
    out = render_argocd(result.plan, ArgoCdSettings(repo_url=REPO_URL), summaries=summaries_of(objects))
    [appset] = by_kind(out, "ApplicationSet").values()
    assert appset["spec"]["template"]["spec"]["ignoreDifferences"] == [
        {"group": "data.fluid.io", "kind": "AlluxioRuntime", "namespace": tenants[0], "name": "cache",
         "jsonPointers": ["/spec/replicas"]}]
    assert "RespectIgnoreDifferences=true" in appset["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"]
    crds = load_crds([SHARED_CRDS / "argocd"])
    assert crds.compiled(appset["apiVersion"], appset["kind"]).violations(appset) == []
    # without scalers, no entry at all
    [plain] = by_kind(render(compiled), "ApplicationSet").values()
    assert "ignoreDifferences" not in plain["spec"]["template"]["spec"]


@pytest.mark.cluster
def test_the_scaler_owns_replicas_on_the_real_api_server_and_live_values_apply_without_conflict(control_plane):
    """What compiler.delivery tells `tenantc apply`, on the real API server: after the agent's
    scale command (a merge patch without fieldManager), spec.replicas is owned by
    SCALER_FIELD_MANAGER with operation Update (the API server takes the manager from the
    User-Agent); applying the rendered value as tenantc then conflicts (409: what `tenantc
    apply` reported), and applying `with_live_values` does not, and keeps the scaled value."""
    from compiler.agent.kubeapi import ApiError, KubeClient, load_config, object_path
    from compiler.agent.main import main as agent_main

    kubeconfig = str(control_plane.kubeconfig_path)
    client = KubeClient(load_config(kubeconfig))
    namespace = fresh("argoscale")
    client.apply(f"/api/v1/namespaces/{namespace}", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": namespace}}, "tenantc")
    rendered = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime",
                "metadata": {"name": "cache", "namespace": namespace}, "spec": {"replicas": 2}}
    path = object_path("data.fluid.io", "v1alpha1", "jindoruntimes", namespace, "cache")
    client.apply(path, rendered, "tenantc", force=False)
    assert agent_main(["scale-runtime", "jindoruntime/cache", "-n", namespace, "--replicas", "5",
                       "--kubeconfig", kubeconfig]) == 0
    live = client.get(path)
    owners = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]
              if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})}
    assert owners == {(delivery.SCALER_FIELD_MANAGER, delivery.UPDATE)}
    [field] = delivery.run_time_fields([{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "s"},
                                         "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                                             {"args": ["scale-runtime", "jindoruntime/cache", "-n", namespace,
                                                       "--replicas", "5"]}]}}}}}}])
    assert (field.manager, field.operation) == (delivery.SCALER_FIELD_MANAGER, delivery.UPDATE)
    with pytest.raises(ApiError) as conflict:
        client.apply(path, rendered, "tenantc", force=False)
    assert conflict.value.status == 409
    applied = client.apply(path, delivery.with_live_values(rendered, live, [field]), "tenantc", force=False)
    assert applied["spec"]["replicas"] == 5


def _cli(capsys, command: str, root, plane, *extra: str) -> tuple[int, str]:
    from compiler.cli import main

    capsys.readouterr()
    code = main([command, "--root", str(root), "--crd-dir", str(SHARED_CRDS), "--kubeconfig", plane.kubeconfig_path,
                 *extra])
    return code, capsys.readouterr().out


@pytest.mark.cluster
def test_tenantc_apply_and_diff_leave_what_the_cache_scaler_set(tmp_path, control_plane, capsys):
    """Issue 12, point 5 ("tenantc apply leaves them alone too: no conflict, no revert"), end to
    end through the CLI on the real API server: a tenant's scaled cache is compiled and applied,
    the agent runs the rendered scale command (so spec.replicas belongs to tenantc-agent,
    operation Update); `tenantc apply` then neither conflicts nor reverts it, `tenantc diff`
    shows nothing, and a later change to the same runtime is applied around the scaled value
    (compiler.delivery: compare without run-time fields, send their live values)."""
    from compiler.agent.main import main as agent_main
    from compiler.load import yaml_io

    cluster = fresh("scaled")
    tenant = f"{cluster}-t"
    dataset = {"name": "ticks", "mounts": [{"uri": "oss://quant-ticks/"}],
               "runtime": {"type": "jindo", "replicas": 2, "tiers": [{"medium": "MEM", "path": "/dev/shm",
                                                                       "quota": "8Gi"}]},
               "scaling": [{"schedule": "0 8 * * 1-5", "replicas": 6}, {"schedule": "0 19 * * 1-5", "replicas": 2}]}
    root = write_repo(tmp_path / "repo", cluster, control_plane.name, [tenant], f"{cluster}-q",
                      extra={tenant: {"datasets": [dataset]}})
    platform_file = root / "tenants" / "platform.yaml"
    platform = yaml_io.load(platform_file.read_text())
    platform["clusters"][0].update(context=control_plane.name, nodePools=[
        {"name": "cpu", "role": "cpu", "labels": {"pool": "cpu"}, "cacheCapacity": {"MEM": "1Ti"}}])
    platform_file.write_text(yaml_io.dump(platform))
    compile_args = ["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]
    from compiler.cli import main

    assert main(compile_args) == 0
    folder = root / "rendered" / cluster / tenant
    runtime = yaml_io.load((folder / "jindoruntime.data.fluid.io-ticks.yaml").read_text())
    scale_up = yaml_io.load((folder / "cronjob-ticks-scale-0.yaml").read_text())
    [container] = scale_up["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["scale-runtime", "jindoruntime/ticks"] and container["args"][-1] == "6"

    code, out = _cli(capsys, "apply", root, control_plane)
    assert code == 0, out
    client = client_for(control_plane)
    path = discover(client).for_object(runtime).object_path(runtime)
    assert client.get(path)["spec"]["replicas"] == 2  # the rendered value is the initial one

    # the CronJob's run, as its pod would do it (its args, the agent's own client and User-Agent)
    assert agent_main([*container["args"], "--kubeconfig", control_plane.kubeconfig_path]) == 0
    live = client.get(path)
    assert live["spec"]["replicas"] == 6
    assert {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]
            if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})} == {
        (delivery.SCALER_FIELD_MANAGER, delivery.UPDATE)}

    code, out = _cli(capsys, "apply", root, control_plane, "-o", "json")
    assert code == 0, out  # before compiler.delivery was followed: exit 2, conflict on .spec.replicas
    report = json.loads(out)
    assert report["summary"]["failed"] == 0 and report["summary"]["writes"] == 0
    assert client.get(path)["spec"]["replicas"] == 6
    code, out = _cli(capsys, "diff", root, control_plane)
    assert code == 0 and "no differences" in out, out  # before: exit 1, drift spec.replicas by tenantc-agent

    # a later change of the same runtime (a bigger memory tier) is applied around the scaled value
    spec_file = root / "tenants" / f"{tenant}.yaml"
    spec_file.write_text(spec_file.read_text().replace("quota: 8Gi", "quota: 16Gi"))
    assert main(compile_args) == 0
    code, out = _cli(capsys, "diff", root, control_plane, "-o", "json")
    assert code == 1, out
    [changed] = [c for t in json.loads(out)["clusters"][0]["tenants"] for c in t["changed"]]
    assert (changed["kind"], changed["name"]) == ("JindoRuntime", "ticks")
    assert changed["drift"] == [] and "replicas" not in changed["diff"] and "16Gi" in changed["diff"]
    code, out = _cli(capsys, "apply", root, control_plane, "-o", "json")
    assert code == 0, out
    assert [(o["kind"], o["result"]) for o in json.loads(out)["clusters"][0]["objects"]] == [
        ("JindoRuntime", "configured")]
    live = client.get(path)
    assert live["spec"]["replicas"] == 6 and live["spec"]["tieredstore"]["levels"][0]["quota"] == "16Gi"
    code, out = _cli(capsys, "diff", root, control_plane)
    assert code == 0, out
    client.close()


@pytest.mark.cluster
def test_apply_leaves_the_hpa_its_replicas_on_the_real_api_server(control_plane):
    """A serving's Deployment is rendered without spec.replicas (Kubernetes' HPA docs:
    https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling).
    After the HPA controller scales it through the scale subresource (an Update by
    HPA_FIELD_MANAGER), `tenantc apply` of the rendered object (run-time fields at their live
    values) leaves replicas as the HPA set them and takes no ownership of them; a rendered
    replicas value would scale the serving back at every apply."""
    client = client_for(control_plane)
    namespace = fresh("hpa")
    client.apply(f"/api/v1/namespaces/{namespace}", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": namespace}})
    labels = {"tenantc.io/serving": "ctr"}
    rendered = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ctr", "namespace": namespace},
                "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                    "containers": [{"name": "server", "image": "registry.example.com/platform/tf-serving:2.17.0"}]}}}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "ctr", "namespace": namespace},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ctr"},
                    "minReplicas": 2, "maxReplicas": 10}}
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/ctr"
    client.apply(path, rendered)
    for _ in range(10):  # as the HPA controller does: read the scale again when the Deployment moved on (409)
        scale = client.get(f"{path}/scale")
        scale["spec"]["replicas"] = 5
        try:
            client.request("PUT", f"{path}/scale", {"fieldManager": delivery.HPA_FIELD_MANAGER},
                           json.dumps(scale).encode(), "application/json")
            break
        except ApiError as conflict:
            if conflict.status != 409:
                raise
    live = client.get(path)
    assert live["spec"]["replicas"] == 5
    fields = delivery.run_time_fields([hpa, rendered])
    assert [(f.ref.kind, f.ref.name, f.path, f.manager) for f in fields] == \
        [("Deployment", "ctr", ("spec", "replicas"), delivery.HPA_FIELD_MANAGER)]
    _, applied = client.apply(path, delivery.with_live_values(rendered, live, fields))
    assert applied["spec"]["replicas"] == 5, "the apply left the HPA's value alone"
    assert not any("f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})
                   for m in applied["metadata"]["managedFields"] if m["manager"] == "tenantc"), "tenantc owns none"
    # What rendering a value would do: every apply scales the serving back (the fight the docs warn of).
    _, reverted = client.apply(path, {**rendered, "spec": {**rendered["spec"], "replicas": 2}}, force=True)
    assert reverted["spec"]["replicas"] == 2
