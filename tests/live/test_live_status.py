"""tenantc status against real API servers: quota, queue, datasets, jobs, agent heartbeats;
and n/a (not a crash) on a cluster without the Volcano and Fluid CRDs.

Neither Fluid's nor Volcano's controllers run here, so the status they would write is
written through the real API server's status subresource, as those controllers do.
"""
from __future__ import annotations

import datetime
import io
import json
import time
from pathlib import Path

import pytest
from helpers import eventually
from live_support import apply, client_for, find, target, tenant_objects, unique, user_kubeconfig

from compiler.kube.errors import ApiError
from compiler.live.report import print_status
from compiler.live.status import cluster_status, status_report

pytestmark = pytest.mark.cluster


def create(client, path: str, obj: dict, status: dict | None = None) -> dict:
    created = client.request("POST", path, {"fieldManager": "test-controller"}, json.dumps(obj).encode(),
                             "application/json")
    if status is not None:
        created["status"] = status
        created = client.request("PUT", f"{path}/{obj['metadata']['name']}/status", None,
                                 json.dumps(created).encode(), "application/json")
    return created


def micro_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wait_for_quota_status(client, namespace: str, timeout: float = 180) -> None:
    """Earlier tests stop and restart the API server; until its RBAC cache is warm it refuses the
    controller manager's watches, whose informers then back off (up to about half a minute per
    failure) before the quota controller sees new quotas. Seen in CI: more than 60 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        quota = client.get(f"/api/v1/namespaces/{namespace}/resourcequotas/tenant-quota")
        if (quota.get("status") or {}).get("used"):
            return
        time.sleep(1)
    raise AssertionError("the resourcequota controller did not fill in status.used")


def test_status_shows_quota_queue_datasets_jobs_and_heartbeats(control_plane, kube):
    cluster, namespace = unique("status"), unique("status")
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), target(cluster, control_plane), desired).ok
    client = kube()
    create(client, f"/apis/data.fluid.io/v1alpha1/namespaces/{namespace}/datasets",
           {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": "imagenet"},
            "spec": {"mounts": [{"mountPoint": "s3://bucket/imagenet", "name": "imagenet"}]}},
           status={"phase": "Bound", "conditions": [], "cacheStates": {"cachedPercentage": "42.0%"}})
    create(client, f"/apis/batch.volcano.sh/v1alpha1/namespaces/{namespace}/jobs",
           {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "train"},
            "spec": {"minAvailable": 1, "schedulerName": "volcano", "tasks": [
                {"name": "worker", "replicas": 1,
                 "template": {"spec": {"containers": [{"name": "w", "image": "trainer:1"}]}}}]}},
           status={"state": {"phase": "Running"}})
    renewed = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30)
    create(client, f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
           {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "train-worker-0", "labels": {"app.kubernetes.io/managed-by": "tenantc-agent",
                                                              "tenantc.io/job": "train", "tenantc.io/task": "worker"}},
            "spec": {"holderIdentity": "train-worker-0", "renewTime": micro_time(renewed)}})
    wait_for_quota_status(client, namespace)

    report = cluster_status(kube(), target(cluster, control_plane), tenants=[namespace])
    assert report["unavailable"] == [] and report["errors"] == []
    [tenant] = report["tenants"]
    assert tenant["tenant"] == namespace and tenant["namespaces"] == [namespace]
    [quota] = tenant["quota"]
    assert quota["resources"]["pods"] == {"hard": "100", "used": "0"}
    assert quota["resources"]["requests.memory"]["hard"] == "32Gi"
    assert tenant["queue"]["name"] == namespace
    assert tenant["datasets"] == [{"name": "imagenet", "namespace": namespace, "phase": "Bound",
                                   "cachedPercentage": "42.0%"}]
    assert tenant["jobs"] == [{"name": "train", "namespace": namespace, "phase": "Running", "pods": []}]
    [agent] = tenant["agents"]
    assert (agent["job"], agent["task"]) == ("train", "worker")
    assert 29 <= agent["ageSeconds"] < 300

    out = io.StringIO()
    print_status(status_report([report]), "text", out, color=False)
    text = out.getvalue()
    assert "imagenet Bound 42.0%" in text and "train Running" in text and "train/worker " in text
    assert "pods: 0/100" in text


def test_a_member_sees_their_jobs_agents_and_heartbeats_with_namespace_scoped_reads(control_plane, kube, tmp_path):
    """Issue 16: `tenantc status --tenant T` with a member's own credentials (a client
    certificate of a user bound only to the view member role's rules in the tenant's namespace).
    The API server's audit log shows every resource request of that user was in the namespace,
    but for the one Namespaces probe, refused."""
    from compiler.kube.config import connect, read_kubeconfig
    from compiler.render.member_roles import rules_of

    cluster, namespace, user = unique("member"), unique("member"), f"{unique('mina')}@example.com"
    assert apply(kube(), target(cluster, control_plane), tenant_objects(namespace, cluster)).ok
    admin = kube()
    create(admin, f"/apis/batch.volcano.sh/v1alpha1/namespaces/{namespace}/jobs",
           {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "train"},
            "spec": {"minAvailable": 1, "schedulerName": "volcano", "tasks": [
                {"name": "worker", "replicas": 1,
                 "template": {"spec": {"containers": [{"name": "w", "image": "trainer:1"}]}}}]}},
           status={"state": {"phase": "Running"}})
    agent_labels = {"app.kubernetes.io/managed-by": "tenantc-agent", "tenantc.io/job": "train"}
    renewed = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=20)
    create(admin, f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
           {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "train-worker-0", "labels": {**agent_labels, "tenantc.io/task": "worker"}},
            "spec": {"holderIdentity": "train-worker-0", "renewTime": micro_time(renewed)}})
    entry = {"pod": "train-worker-0", "task": "worker", "phase": "Running", "progress": 0.42,
             "metrics": {"loss": 0.31}, "final": False}
    # what the sidecar mirrors (compiler/agent/sidecar.py)
    create(admin, f"/api/v1/namespaces/{namespace}/configmaps",
           {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "tenantc-status-train", "labels": agent_labels},
            "data": {"train-worker-0.json": json.dumps(entry)}})
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    create(admin, f"{rbac}/roles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                    "metadata": {"name": "member-view"}, "rules": rules_of("view")})
    create(admin, f"{rbac}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "member-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "member-view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    member = connect(target(cluster, control_plane),
                     read_kubeconfig(str(user_kubeconfig(control_plane, user, tmp_path))))

    def can_read() -> bool:
        try:
            member.list(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")
        except ApiError:
            return False
        return True

    eventually(can_read, 60, what="RBAC lets the member read the namespace")
    audit = Path(control_plane.audit_log_path)
    start = audit.stat().st_size
    report = cluster_status(member, target(cluster, control_plane), tenants=[namespace])
    assert report["errors"] == []
    assert report["unavailable"] == ["Queue (scheduling.volcano.sh): cluster-scoped, not readable with these "
                                     "credentials"]
    [tenant] = report["tenants"]
    assert tenant["queue"] is None and tenant["quota"][0]["resources"]["pods"]["hard"] == "100"
    [job] = tenant["jobs"]
    assert (job["name"], job["phase"]) == ("train", "Running")
    [pod] = job["pods"]
    assert {k: pod[k] for k in ("pod", "task", "phase", "progress", "metrics", "final")} == \
        {k: entry[k] for k in ("pod", "task", "phase", "progress", "metrics", "final")}
    assert 19 <= pod["heartbeatAgeSeconds"] < 300
    out = io.StringIO()
    print_status(status_report([report]), "text", out, color=False)
    assert "train Running; train-worker-0 Running 42%" in out.getvalue()

    def requests() -> list[dict]:
        with audit.open("rb") as fh:
            fh.seek(start)
            events = [json.loads(line) for line in fh.read().splitlines() if line.strip()]
        return [e for e in events if e.get("stage") == "ResponseComplete" and e["user"]["username"] == user
                and e.get("objectRef")]

    seen = eventually(lambda: len(r := requests()) >= 6 and r, 30, what="the member's requests in the audit log")
    for event in seen:
        ref = event["objectRef"]
        if ref.get("resource") == "namespaces":
            assert event["responseStatus"]["code"] == 403  # the probe that chose namespace-scoped reads
        else:
            assert ref.get("namespace") == namespace and event["verb"] == "list", event
            assert event["responseStatus"]["code"] == 200, event


@pytest.fixture(scope="module")
def bare_control_plane(tmp_path_factory, control_plane_binaries):
    """A cluster without any CRD, as a cluster without Volcano and Fluid would be."""
    from compiler.cluster import ControlPlane

    plane = ControlPlane(tmp_path_factory.mktemp("bare"), name="bare", binaries=control_plane_binaries,
                         bind_to_parent=True).up()
    yield plane
    plane.down()


@pytest.mark.slow
def test_missing_crds_show_as_na(bare_control_plane):
    cluster, namespace = unique("bare"), unique("bare")
    client = client_for(bare_control_plane)
    desired = {p: o for p, o in tenant_objects(namespace, cluster).items() if o["kind"] != "Queue"}
    assert apply(client, target(cluster, bare_control_plane), desired).ok
    report = cluster_status(client, target(cluster, bare_control_plane))
    assert sorted(report["unavailable"]) == ["Dataset (data.fluid.io)", "Job (batch.volcano.sh)",
                                             "Queue (scheduling.volcano.sh)"]
    [tenant] = report["tenants"]
    assert (tenant["queue"], tenant["datasets"], tenant["jobs"]) == (None, None, None)
    assert tenant["quota"] is not None and tenant["agents"] == []
    out = io.StringIO()
    print_status(status_report([report]), "text", out, color=False)
    assert out.getvalue().count("n/a") == 3

    with_queue = tenant_objects(namespace, cluster)
    queue_report = apply(client, target(cluster, bare_control_plane), with_queue)
    assert not queue_report.ok
    assert queue_report.change_set.errors == ["Queue (scheduling.volcano.sh/v1beta1) is not served by this cluster "
                                              "(is its CRD installed?)"]
    assert find(with_queue, "Queue")  # the rest is still applied: only the unserved kind is refused
    assert all(not o.failed for o in queue_report.applied)
