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

import pytest
from live_support import apply, client_for, find, target, tenant_objects, unique

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
    assert tenant["jobs"] == [{"name": "train", "namespace": namespace, "phase": "Running"}]
    [agent] = tenant["agents"]
    assert (agent["job"], agent["task"]) == ("train", "worker")
    assert 29 <= agent["ageSeconds"] < 300

    out = io.StringIO()
    print_status(status_report([report]), "text", out, color=False)
    text = out.getvalue()
    assert "imagenet Bound 42.0%" in text and "train Running" in text and "train/worker " in text
    assert "pods: 0/100" in text


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
