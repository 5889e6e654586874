"""--prune against the real API server: only what tenantc owns and rendered/ dropped goes."""
from __future__ import annotations

import pytest
from live_support import apply, find, live_get, target, tenant_objects, unique

from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TENANT_LABEL,
)
from compiler.live.apply import DELETED, WOULD_DELETE
from compiler.live.prune import PruneFlags
from compiler.render.context import make_object

pytestmark = pytest.mark.cluster


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


def test_namespaces_and_pvcs_stay_without_their_flags(control_plane, kube):
    cluster = unique("prune-ns")
    keep, gone = unique("prune-keep"), unique("prune-gone")
    tgt = target(cluster, control_plane)
    kept = tenant_objects(keep, cluster)
    dropped = tenant_objects(gone, cluster)
    pvc = make_object("v1", "PersistentVolumeClaim", "home", gone, gone, cluster, "tenants/test.yaml", None,
                      {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
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
