"""apply and diff against the real API server: convergence, request counts, conflicts,
immutable fields, dry runs, --wait, and an API server restart in the middle of an apply."""
from __future__ import annotations

import copy
import io
import threading

import pytest
from live_support import (
    PLATFORM,
    SHARED_CRDS,
    apply,
    change_set,
    find,
    live_get,
    patch,
    target,
    tenant_objects,
    unique,
    write_repo,
)

from compiler.identity import ObjectRef
from compiler.live.apply import CONFIGURED, CONFLICT, CREATED, IMMUTABLE, WOULD_APPLY
from compiler.live.report import print_apply, print_diff
from compiler.pipeline import compile_repo
from compiler.render.context import make_object

pytestmark = pytest.mark.cluster


def compiled_objects(tmp_path, cluster: str, context: str) -> dict[str, dict]:
    tenants = [unique(f"{cluster[-4:]}-a"), unique(f"{cluster[-4:]}-b")]
    root = write_repo(tmp_path / "repo", cluster, context, tenants, unique(f"{cluster[-4:]}-q"))
    return compile_repo(root, [SHARED_CRDS]).objects


def test_apply_then_diff_is_clean_and_a_second_apply_writes_nothing(control_plane, kube, tmp_path):
    cluster = unique("conv")
    tgt = target(cluster, control_plane)
    desired = {**tenant_objects(unique("conv-x"), cluster), **compiled_objects(tmp_path, cluster, control_plane.name)}
    # the platform's member ClusterRoles have fixed names: another test's repository may have applied them
    existing = {ObjectRef.of(o) for o in desired.values() if live_get(kube(), o) is not None}
    assert all(o["metadata"]["name"].startswith("tenantc-member-") for o in desired.values()
               if ObjectRef.of(o) in existing)
    first = kube()
    report = apply(first, tgt, desired)
    assert report.ok, [(o.label, o.result, o.message) for o in report.applied if o.failed]
    assert [o.label for o in report.applied if o.result != (CONFIGURED if ObjectRef.of(o.obj) in existing
                                                            else CREATED)] == []
    assert len(report.applied) == len(desired)
    assert first.counts.writes == len(desired)  # one write per object, nothing else

    checker = kube()
    diff = change_set(checker, tgt, desired)
    assert diff.changes == [] and diff.unchanged == len(desired) and not diff.differences
    assert (checker.counts.writes, checker.counts.dry_runs) == (0, 0)  # decided locally, no dry-run needed

    again = kube()
    report = apply(again, tgt, desired)
    assert report.ok and report.applied == []
    assert again.counts.writes == 0 and again.counts.dry_runs == 0
    assert again.counts.by_verb.keys() == {"GET"}


def test_unchanged_objects_cost_no_request_beyond_the_lists(control_plane, kube):
    cluster = unique("cost")
    tgt = target(cluster, control_plane)
    small = tenant_objects(unique("cost-1"), cluster)
    large = {**small, **tenant_objects(unique("cost-2"), cluster), **tenant_objects(unique("cost-3"), cluster)}
    assert apply(kube(), tgt, large).ok
    reads = []
    for desired in (small, large):
        client = kube()
        assert change_set(client, tgt, desired).changes == []
        reads.append(client.counts.reads)
    assert reads[0] == reads[1]  # three times the objects, the same requests: one LIST per kind


def test_conflicts_are_reported_and_only_forced_on_request(control_plane, kube):
    cluster = unique("conflict")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(unique("conflict"), cluster)
    quota = find(desired, "ResourceQuota")
    assert apply(kube(), tgt, desired).ok
    patch(kube(), quota, {"spec": {"hard": {"pods": "7"}}})

    diff = change_set(kube(), tgt, desired)
    [change] = diff.changes
    assert [(d.field, d.managers) for d in change.drift] == [("spec.hard.pods", ("ops-bob (Update)",))]

    client = kube()
    report = apply(client, tgt, desired)
    [outcome] = report.applied
    assert outcome.result == CONFLICT and not report.ok
    assert "ops-bob" in outcome.message and ".spec.hard.pods" in outcome.message
    assert "--force-conflicts" in outcome.message
    assert client.counts.writes == 0
    assert live_get(kube(), quota)["spec"]["hard"]["pods"] == "7"

    forced = apply(kube(), tgt, desired, force_conflicts=True)
    assert forced.ok and [o.result for o in forced.applied] == ["configured"]
    assert live_get(kube(), quota)["spec"]["hard"]["pods"] == "100"
    assert change_set(kube(), tgt, desired).changes == []


def test_an_immutable_field_names_object_and_field_and_what_to_do(control_plane, kube):
    cluster = unique("immutable")
    namespace = unique("immutable")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), tgt, desired).ok
    changed = copy.deepcopy(desired)
    find(changed, "RoleBinding")["roleRef"]["name"] = "view"
    client = kube()
    report = apply(client, tgt, changed)
    [outcome] = report.applied
    assert outcome.result == IMMUTABLE and not report.ok
    assert outcome.label == f"RoleBinding {namespace}/members-edit"
    assert "field roleRef is immutable" in outcome.message
    assert f"kubectl delete rolebinding.rbac.authorization.k8s.io members-edit -n {namespace}" in outcome.message
    assert "revert the change" in outcome.message
    assert client.counts.writes == 0
    out = io.StringIO()
    print_apply([report], "text", out, dry_run=False)
    assert "immutable: RoleBinding" in out.getvalue()


def test_dry_run_checks_everything_and_stores_nothing(control_plane, kube):
    cluster = unique("dry")
    namespace = unique("dry")
    desired = tenant_objects(namespace, cluster)
    client = kube()
    report = apply(client, target(cluster, control_plane), desired, dry_run=True)
    assert report.ok
    assert {o.result for o in report.applied} == {WOULD_APPLY}
    assert any("created first" in o.message for o in report.applied)  # its namespace does not exist yet
    assert client.counts.writes == 0 and client.counts.dry_runs > 0
    assert live_get(kube(), find(desired, "Namespace")) is None


def test_wait_returns_at_once_for_kinds_without_readiness_and_times_out_on_notebooks(control_plane, kube):
    cluster = unique("wait")
    namespace = unique("wait")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    report = apply(kube(), tgt, desired, wait=True, timeout=30)
    assert report.ok and report.waited is not None
    assert (report.waited.without_condition, report.waited.ready, report.waited.pending) == (len(desired), 0, [])

    notebook = make_object("apps/v1", "StatefulSet", "nb-test", namespace, namespace, cluster, "tenants/test.yaml",
                           None, {"spec": {
                               "replicas": 1, "serviceName": "nb-test",
                               "selector": {"matchLabels": {"app": "nb-test"}},
                               "template": {"metadata": {"labels": {"app": "nb-test"}},
                                            "spec": {"containers": [{"name": "nb", "image": "jupyter:1"}]}}}},
                                            platform=PLATFORM)
    with_notebook = {**desired, f"{cluster}/{namespace}/statefulset-nb-test.yaml": notebook}
    report = apply(kube(), tgt, with_notebook, wait=True, timeout=3)
    assert not report.ok and report.waited.timed_out
    assert report.waited.pending == [(f"StatefulSet {namespace}/nb-test", "0/1 replicas ready")]
    out = io.StringIO()
    print_apply([report], "text", out, dry_run=False)
    assert "timed out after 3s waiting for 1 object(s)" in out.getvalue()
    assert f"StatefulSet {namespace}/nb-test: 0/1 replicas ready" in out.getvalue()


def test_secret_values_never_reach_the_diff_output(control_plane, kube):
    cluster = unique("secret")
    namespace = unique("secret")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    secret = make_object("v1", "Secret", "token", namespace, namespace, cluster, "tenants/test.yaml", None,
                         {"stringData": {"password": "hunter2-desired"}}, platform=PLATFORM)
    desired[f"{cluster}/{namespace}/secret-token.yaml"] = secret
    assert apply(kube(), tgt, desired).ok
    patch(kube(), secret, {"data": {"password": "bGVha2VkLWxpdmU="}})  # 'leaked-live'
    diff = change_set(kube(), tgt, desired)
    assert [c.desired["kind"] for c in diff.changes] == ["Secret"]
    for fmt in ("text", "json", "markdown", "github"):
        out = io.StringIO()
        print_diff([diff], fmt, out)
        text = out.getvalue()
        for value in ("hunter2-desired", "aHVudGVyMi1kZXNpcmVk", "bGVha2VkLWxpdmU=", "leaked-live"):
            assert value not in text, fmt
    out = io.StringIO()
    print_diff([diff], "text", out)
    assert "*** (before)" in out.getvalue() and "*** (after)" in out.getvalue()


def test_api_server_killed_mid_apply_then_rerun_converges_and_spares_unowned(control_plane, kube):
    cluster = unique("restart")
    tgt = target(cluster, control_plane)
    desired = {}
    for i in range(4):
        desired.update(tenant_objects(unique(f"restart-{i}"), cluster))
    first_ns = find(desired, "Namespace", unique("restart-0"))
    assert apply(kube(), tgt, {"x/y/ns.yaml": first_ns}).ok
    unowned = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings-copy", "namespace": unique("restart-0"),
                            "labels": {"tenantc.io/tenant": unique("restart-0"), "tenantc.io/cluster": cluster}},
               "data": {"mode": "manual"}}
    created = kube().apply(f"/api/v1/namespaces/{unique('restart-0')}/configmaps/settings-copy", unowned,
                           field_manager="someone-else")[1]

    stopped = threading.Event()
    writes = {"n": 0}
    lock = threading.Lock()

    def stop_after_ten_writes(method: str, path: str) -> None:
        if method != "PATCH" or stopped.is_set():
            return
        with lock:
            writes["n"] += 1
            if writes["n"] == 10 and not stopped.is_set():
                control_plane.stop_component("kube-apiserver")
                stopped.set()

    try:
        report = apply(kube(retry_for=2.0, observer=stop_after_ten_writes), tgt, desired)
        assert stopped.is_set()
        assert not report.ok
        failed = [o for o in report.applied if o.failed]
        assert failed and all("run apply again" in o.message for o in failed if o.result == "failed")
    finally:
        control_plane.start_component("kube-apiserver")

    rerun = apply(kube(), tgt, desired)
    assert rerun.ok, [(o.label, o.result, o.message) for o in rerun.applied if o.failed]
    final = kube()
    assert change_set(final, tgt, desired).changes == []
    after = live_get(kube(), unowned)
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert {m["manager"] for m in after["metadata"]["managedFields"]} == {"someone-else"}


def test_requests_retry_until_a_restarted_api_server_answers(control_plane, kube):
    cluster = unique("retry")
    tgt = target(cluster, control_plane)
    desired = tenant_objects(unique("retry"), cluster)
    attempts = {"n": 0}

    def count(method: str, path: str) -> None:
        attempts["n"] += 1

    control_plane.stop_component("kube-apiserver")
    restarter = threading.Timer(2.0, control_plane.start_component, args=("kube-apiserver",))
    restarter.start()
    try:
        report = apply(kube(retry_for=120.0, observer=count), tgt, desired)
    finally:
        restarter.join()
    assert report.ok, [(o.label, o.result, o.message) for o in report.applied if o.failed]
    assert sorted({o.result for o in report.applied}) == [CREATED]
    normal = kube()
    assert change_set(normal, tgt, desired).changes == []
    assert attempts["n"] > len(desired) + normal.counts.reads  # refused attempts were retried, not given up
