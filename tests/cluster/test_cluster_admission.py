"""What the real API server and controller manager enforce: quota, CRD schemas, namespace finalization.

No kubelet or scheduler runs: pods are admitted and stored, never started.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

pytestmark = pytest.mark.cluster
SHARED_CRDS = Path(__file__).resolve().parents[2].parent / "shared" / "crds"
needs_shared_crds = pytest.mark.skipif(not SHARED_CRDS.is_dir(), reason="../shared/crds is not beside the checkout")


def _pod(name: str, cpu: str) -> dict:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "registry.invalid/never-pulled:1",
                                     "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}}]}}


def test_quota_status_is_filled_and_over_quota_pods_are_rejected(api, make_namespace, eventually):
    core = client.CoreV1Api(api)
    namespace = make_namespace("quota", wait_for_default_sa=True)
    core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "compute"},
        "spec": {"hard": {"requests.cpu": "1", "limits.cpu": "1", "pods": "5"}}})

    # The resourcequota controller computes status; admission refuses pods until it has.
    def computed():
        status = core.read_namespaced_resource_quota("compute", namespace).status
        return status if status and status.hard else None

    status = eventually(computed, what="quota status")
    assert status.hard == {"requests.cpu": "1", "limits.cpu": "1", "pods": "5"}
    assert status.used == {"requests.cpu": "0", "limits.cpu": "0", "pods": "0"}

    with pytest.raises(client.ApiException) as rejected:
        core.create_namespaced_pod(namespace, _pod("too-big", "2"))
    assert rejected.value.status == 403
    assert "exceeded quota: compute" in rejected.value.body

    core.create_namespaced_pod(namespace, _pod("fits", "500m"))
    stored = core.read_namespaced_pod("fits", namespace)
    assert stored.status.phase == "Pending" and not stored.spec.node_name  # stored, never scheduled
    used = core.read_namespaced_resource_quota("compute", namespace).status.used
    assert used["requests.cpu"] == "500m" and used["pods"] == "1"


@needs_shared_crds
def test_volcano_queue_schema_is_enforced(api):
    custom = client.CustomObjectsApi(api)
    group, version, plural = "scheduling.volcano.sh", "v1beta1", "queues"

    def queue(name: str, weight) -> dict:
        return {"apiVersion": f"{group}/{version}", "kind": "Queue", "metadata": {"name": name},
                "spec": {"weight": weight}}

    with pytest.raises(client.ApiException) as rejected:
        custom.create_cluster_custom_object(group, version, plural, queue("bad-weight", "abc"))
    assert rejected.value.status == 422
    assert "spec.weight" in rejected.value.body

    name = "good-weight-schema-test"
    custom.create_cluster_custom_object(group, version, plural, queue(name, 3))
    try:
        assert custom.get_cluster_custom_object(group, version, plural, name)["spec"]["weight"] == 3
    finally:
        custom.delete_cluster_custom_object(group, version, plural, name)


@needs_shared_crds
def test_fluid_dataset_schema_is_enforced(api, make_namespace):
    custom = client.CustomObjectsApi(api)
    namespace = make_namespace("fluid")
    group, version, plural = "data.fluid.io", "v1alpha1", "datasets"

    def dataset(name: str, mounts) -> dict:
        return {"apiVersion": f"{group}/{version}", "kind": "Dataset", "metadata": {"name": name},
                "spec": {"mounts": mounts}}

    with pytest.raises(client.ApiException) as rejected:
        custom.create_namespaced_custom_object(group, version, namespace, plural, dataset("bad", "x"))
    assert rejected.value.status == 422
    assert "spec.mounts" in rejected.value.body

    good = dataset("good", [{"mountPoint": "https://example.org/data", "name": "data"}])
    custom.create_namespaced_custom_object(group, version, namespace, plural, good)
    stored = custom.get_namespaced_custom_object(group, version, namespace, plural, "good")
    assert stored["spec"]["mounts"][0]["mountPoint"] == "https://example.org/data"


def test_deleting_a_namespace_finalizes_its_content(api, make_namespace, eventually):
    core = client.CoreV1Api(api)
    namespace = make_namespace("doomed")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "content"}, "data": {"k": "v"}})
    # Only the namespace controller removes this finalizer, after deleting the content.
    assert core.read_namespace(namespace).spec.finalizers == ["kubernetes"]
    core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            core.read_namespace(namespace)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone, timeout=60, what=f"namespace {namespace} deleted")
    assert core.list_namespaced_config_map(namespace).items == []
