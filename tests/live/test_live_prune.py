"""--prune against the real API server: only what tenantc owns and rendered/ dropped goes."""
from __future__ import annotations

import json
import re
import time

import pytest
from live_support import PLATFORM, SHARED_CRDS, apply, find, fresh, live_get, target, tenant_objects, unique, write_repo

from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)
from compiler.kube.discovery import discover
from compiler.live.apply import DELETED, WOULD_DELETE
from compiler.live.prune import PruneFlags
from compiler.render.context import make_object

pytestmark = pytest.mark.cluster


def wait_for(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s"
        time.sleep(0.25)
    return result


def without(desired: dict, *objs: dict) -> dict:
    return {p: o for p, o in desired.items() if all(o is not x for x in objs)}


def configmap(name: str, namespace: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace,
                                                                 "labels": labels}, "data": {"k": "v"}}


def test_prune_deletes_only_owned_objects_that_rendered_dropped(control_plane, kube):
    cluster, namespace = unique("prune"), unique("prune")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), tgt, desired).ok
    client = kube()
    # look-alikes: no managed-by label; tenantc's labels but another cluster's; owned by another tool
    lookalikes = [
        configmap("settings-old", namespace, {TENANT_LABEL: namespace, CLUSTER_LABEL: cluster}),
        configmap("settings-west", namespace, {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: namespace,
                                               CLUSTER_LABEL: "west"}),
        configmap("settings-helm", namespace, {MANAGED_BY_LABEL: "helm", TENANT_LABEL: namespace,
                                               CLUSTER_LABEL: cluster}),
    ]
    for obj in lookalikes:
        client.apply(f"/api/v1/namespaces/{namespace}/configmaps/{obj['metadata']['name']}", obj,
                     field_manager="someone-else")
    settings = find(desired, "ConfigMap", "settings")

    report = apply(kube(), tgt, without(desired, settings), prune=True)
    assert report.ok, report.prune_refused
    assert [(o.label, o.result) for o in report.pruned] == [(f"ConfigMap {namespace}/settings", DELETED)]
    assert live_get(kube(), settings) is None
    for obj in lookalikes:
        assert live_get(kube(), obj) is not None, obj["metadata"]["name"]


def test_another_repositorys_objects_on_a_shared_cluster_are_never_pruned(control_plane, kube):
    """Two repositories apply to one cluster under the same cluster name, their platforms told
    apart by the platform label: pruning one (at any threshold) deletes what it dropped and
    leaves every object of the other, which it does not render."""
    cluster, mine, theirs = unique("shared"), unique("mine"), unique("theirs")
    tgt = target(cluster, control_plane)
    other = tenant_objects(theirs, cluster, platform="research-platform")
    assert apply(kube(), tgt, other).ok
    desired = tenant_objects(mine, cluster)
    assert apply(kube(), tgt, desired).ok
    settings = find(desired, "ConfigMap", "settings")

    report = apply(kube(), tgt, without(desired, settings), prune=True, prune_flags=PruneFlags(True, True, 100))
    assert report.ok, report.prune_refused
    assert [(o.label, o.result) for o in report.pruned] == [(f"ConfigMap {mine}/settings", DELETED)]
    assert report.change_set.prune.foreign >= len(other)  # and the other tests' clusters' objects
    for obj in other.values():
        assert live_get(kube(), obj) is not None, obj["metadata"]["name"]


def test_namespaces_and_pvcs_stay_without_their_flags(control_plane, kube):
    cluster = unique("prune-ns")
    keep, gone = unique("prune-keep"), unique("prune-gone")
    tgt = target(cluster, control_plane)
    kept = tenant_objects(keep, cluster)
    dropped = tenant_objects(gone, cluster)
    pvc = make_object("v1", "PersistentVolumeClaim", "home", gone, gone, cluster, "tenants/test.yaml", None,
                      {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
                      platform=PLATFORM)
    dropped[f"{cluster}/{gone}/persistentvolumeclaim-home.yaml"] = pvc
    assert apply(kube(), tgt, {**kept, **dropped}).ok

    report = apply(kube(), tgt, kept, prune=True, prune_flags=PruneFlags(threshold=100))
    assert report.ok
    pruned = {o.obj["kind"] for o in report.pruned}
    assert "Namespace" not in pruned and "PersistentVolumeClaim" not in pruned
    assert len(report.pruned) == len(dropped) - 2
    assert live_get(kube(), find(dropped, "Namespace")) is not None
    assert live_get(kube(), pvc) is not None
    assert sorted(r for _, r in report.change_set.prune.kept) == ["a Namespace (pass --prune-namespaces)",
                                                            "a PersistentVolumeClaim (pass --prune-pvcs)"]

    report = apply(kube(), tgt, kept, prune=True, prune_flags=PruneFlags(True, True, 100))
    assert report.ok
    assert [o.obj["kind"] for o in report.pruned] == ["PersistentVolumeClaim", "Namespace"]
    for obj in (pvc, find(dropped, "Namespace")):  # finalizers may keep them a while: being deleted is enough
        live = live_get(kube(), obj)
        assert live is None or live["metadata"].get("deletionTimestamp")
    assert live_get(kube(), find(kept, "Namespace"))["metadata"].get("deletionTimestamp") is None


def test_threshold_refusal_and_dry_run(control_plane, kube):
    cluster, namespace = unique("prune-th"), unique("prune-th")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), tgt, desired).ok
    doomed = [find(desired, "ConfigMap"), find(desired, "ServiceAccount"),
              find(desired, "NetworkPolicy", "default-deny")]
    smaller = without(desired, *doomed)

    client = kube()
    report = apply(client, tgt, smaller, prune=True)
    assert not report.ok and report.pruned == []
    assert f"refusing to prune 3 of {len(desired)} owned objects" in report.prune_refused
    assert client.counts.by_verb.get("DELETE", 0) == 0
    assert all(live_get(kube(), o) is not None for o in doomed)

    client = kube()
    report = apply(client, tgt, smaller, prune=True, dry_run=True, prune_flags=PruneFlags(threshold=50))
    assert report.ok
    assert sorted(o.label for o in report.pruned) == sorted(
        f"{o['kind']} {namespace}/{o['metadata']['name']}" for o in doomed)
    assert {o.result for o in report.pruned} == {WOULD_DELETE}
    assert client.counts.writes == 0
    assert all(live_get(kube(), o) is not None for o in doomed)


def _cli(capsys, command: str, root, plane, *extra: str) -> tuple[int, str]:
    from compiler.cli import main

    capsys.readouterr()
    code = main([command, "--root", str(root), "--crd-dir", str(SHARED_CRDS), "--kubeconfig", plane.kubeconfig_path,
                 *extra])
    return code, capsys.readouterr().out


def test_a_namespace_holding_what_tenantc_does_not_own_is_not_pruned_without_the_dangerous_flag(
        tmp_path, control_plane, kube, capsys):
    """Issue 15, "Namespace prune": deleting a Namespace deletes everything in it, so a removed
    tenant's namespace that also holds someone else's ConfigMaps and Deployment stops the prune
    (exit 2, what it holds listed, capped), in diff, in a dry run and in apply; the agent's
    objects and what Kubernetes puts in every namespace do not count;
    --dangerous-prune-unowned-contents proceeds."""
    from compiler.cli import main

    cluster = fresh("nsguard")
    kept, gone = f"{cluster}-a", f"{cluster}-b"
    root = write_repo(tmp_path / "repo", cluster, control_plane.name, [kept, gone], f"{cluster}-q")
    compile_args = ["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]
    assert main(compile_args) == 0
    assert _cli(capsys, "apply", root, control_plane)[0] == 0
    client = kube()
    theirs = [configmap(f"manual-{i}", gone, {"team": "ops"}) for i in range(11)]
    theirs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": gone},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
                       "metadata": {"labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    heartbeat = configmap("agent-status", gone, {MANAGED_BY_LABEL: "tenantc-agent", TENANT_LABEL: gone})
    resources = discover(client)
    for obj in [*theirs, heartbeat]:
        client.apply(resources.for_object(obj).object_path(obj), obj, field_manager="ops-bob")
    (root / "tenants" / f"{gone}.yaml").unlink()
    write_repo(root, cluster, control_plane.name, [kept], f"{cluster}-q")  # rewrites kept without the allow
    assert main(compile_args) == 0
    prune = ("--prune", "--prune-namespaces", "--prune-threshold", "100")

    # Theirs: 11 ConfigMaps and the Deployment, plus whatever a controller made from it (a
    # ReplicaSet, where the deployment controller runs): dependents of theirs are theirs.
    held = re.compile(rf"refusing to prune: Namespace {gone}: it holds (\d+) object\(s\) tenantc does not own, "
                      r"which would be deleted with it: (.*) and (\d+) more \((.*?)\) \(move or delete them first, "
                      r"or pass --dangerous-prune-unowned-contents to delete them with the namespace\)")
    code, out = _cli(capsys, "diff", root, control_plane, "--prune-namespaces", "--prune-threshold", "100")
    assert code == 1 and held.search(out), out
    for flags in ((*prune, "--dry-run"), prune):
        code, out = _cli(capsys, "apply", root, control_plane, *flags)
        assert code == 2, out
        found = held.search(out)
        assert found, out
        count, listing, more, kinds = int(found[1]), found[2].split(", "), int(found[3]), found[4]
        assert count >= 12 and len(listing) == 10 and count == len(listing) + more  # ten shown, the rest counted
        assert all(name in {f"configmap/manual-{i}" for i in range(11)} | {"deployment.apps/web"}
                   or name.startswith("replicaset.apps/web-") for name in listing), listing
        assert kinds.startswith("configmap 11, deployment.apps 1")
        assert "agent-status" not in out and "kube-root-ca.crt" not in out and "serviceaccount/default" not in out
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": gone}}
    assert live_get(kube(), namespace)["metadata"].get("deletionTimestamp") is None
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "tenant-quota", "namespace": gone}}
    assert live_get(kube(), quota) is not None  # the refusal stops the whole prune, not just the namespace

    code, out = _cli(capsys, "apply", root, control_plane, *prune, "--dangerous-prune-unowned-contents", "-o", "json")
    assert code == 0, out
    pruned = {(p["kind"], p["name"]) for p in json.loads(out)["clusters"][0]["pruned"]}
    assert ("Namespace", gone) in pruned and ("ResourceQuota", "tenant-quota") in pruned
    live = live_get(kube(), namespace)
    assert live is None or live["metadata"].get("deletionTimestamp")


def test_a_pvc_a_pod_mounts_is_kept_unless_the_pod_goes_with_the_prune(control_plane, kube):
    """Issue 15: a PersistentVolumeClaim in use by a pod is not pruned (Kubernetes would only
    defer its removal until the pod is gone, then the data goes), unless
    --dangerous-prune-pvcs-in-use; a pod this very prune removes (its owner is pruned: the
    garbage collector deletes it) does not count."""
    from compiler.live.prune_guard import PVCS_IN_USE_FLAG

    cluster, namespace = unique("pvcguard"), unique("pvcguard")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)

    def claim(name: str) -> dict:
        return make_object("v1", "PersistentVolumeClaim", name, namespace, namespace, cluster, "tenants/test.yaml",
                           None, {"spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": "1Gi"}}}}, platform=PLATFORM)

    home, scratch = claim("home"), claim("scratch")
    notebook = make_object("apps/v1", "StatefulSet", "nb", namespace, namespace, cluster, "tenants/test.yaml", None,
                           {"spec": {"replicas": 1, "serviceName": "nb", "selector": {"matchLabels": {"app": "nb"}},
                                     "template": {"metadata": {"labels": {"app": "nb"}}, "spec": {
                                         "containers": [{"name": "nb", "image": "jupyter:1"}]}}}}, platform=PLATFORM)
    extra = {f"{cluster}/{namespace}/persistentvolumeclaim-home.yaml": home,
             f"{cluster}/{namespace}/persistentvolumeclaim-scratch.yaml": scratch,
             f"{cluster}/{namespace}/statefulset-nb.yaml": notebook}
    assert apply(kube(), tgt, {**desired, **extra}).ok
    client = kube()
    wait_for(lambda: client.list(f"/api/v1/namespaces/{namespace}/serviceaccounts"), "the default ServiceAccount")
    owner = live_get(client, notebook)

    def pod(name: str, claim_name: str, owned: bool) -> dict:
        meta = {"name": name, "namespace": namespace}
        if owned:  # as the StatefulSet controller makes it
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "nb",
                                        "uid": owner["metadata"]["uid"], "controller": True}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim_name}}]}}

    client.request("POST", f"/api/v1/namespaces/{namespace}/pods", None,
                   json.dumps(pod("debug", "home", owned=False)).encode(), "application/json")
    client.request("POST", f"/api/v1/namespaces/{namespace}/pods", None,
                   json.dumps(pod("nb-0", "scratch", owned=True)).encode(), "application/json")

    flags = PruneFlags(pvcs=True, threshold=100)
    report = apply(kube(), tgt, desired, prune=True, prune_flags=flags)
    assert not report.ok and report.pruned == []
    assert report.prune_refused == (f"refusing to prune: PersistentVolumeClaim {namespace}/home is in use by "
                                    f"pod/debug, which this prune does not remove (stop them first, or pass "
                                    f"{PVCS_IN_USE_FLAG})")  # scratch's pod goes with the StatefulSet
    for obj in (home, scratch, notebook):
        assert live_get(kube(), obj)["metadata"].get("deletionTimestamp") is None

    report = apply(kube(), tgt, desired, prune=True, prune_flags=PruneFlags(pvcs=True, threshold=100,
                                                                              pvcs_in_use=True))
    assert report.ok, report.prune_refused
    assert sorted((o.obj["kind"], o.obj["metadata"]["name"], o.result) for o in report.pruned) == [
        ("PersistentVolumeClaim", "home", DELETED), ("PersistentVolumeClaim", "scratch", DELETED),
        ("StatefulSet", "nb", DELETED)]
    for obj in (home, scratch):  # the pvc-protection finalizer keeps them while pods exist: being deleted is enough
        live = live_get(kube(), obj)
        assert live is None or live["metadata"].get("deletionTimestamp")


def test_a_doomed_object_changed_by_a_controller_since_it_was_read_is_still_deleted(control_plane, kube):
    """Pruning a whole tenant makes the quota controller rewrite the namespace's ResourceQuota
    status between the listing and the delete, so the delete's resourceVersion precondition
    fails (409). Still the same object with the same labels, it is deleted at its new version;
    an object whose labels changed meanwhile is left alone (SKIPPED), and a deleted one is GONE."""
    from compiler.live.apply import GONE, SKIPPED, _delete_one

    cluster, namespace = unique("prune"), unique("prune")
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), target(cluster, control_plane), desired).ok
    client = kube()
    resources = discover(client)
    settings = find(desired, "ConfigMap", "settings")
    path = resources.for_object(settings).object_path(settings)

    stale = live_get(client, settings)
    client.request("PATCH", path, None, json.dumps({"data": {"k": "changed"}}).encode(),
                   "application/merge-patch+json")  # what a controller's write does to the version
    assert _delete_one(client, resources, stale, dry_run=False).result == DELETED
    assert live_get(client, settings) is None
    assert _delete_one(client, resources, stale, dry_run=False).result == GONE

    client.apply(path, settings, field_manager="tenantc")
    stale = live_get(client, settings)
    client.request("PATCH", path, None, json.dumps({"metadata": {"labels": {"team": "kept-by-hand"}}}).encode(),
                   "application/merge-patch+json")
    outcome = _delete_one(client, resources, stale, dry_run=False)
    assert outcome.result == SKIPPED and "changed since it was read" in outcome.message
    assert live_get(client, settings) is not None
