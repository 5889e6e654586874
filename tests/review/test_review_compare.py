"""The object-by-object comparison on hand-made objects: identity, quantities, lists, Secrets."""
from __future__ import annotations

import copy

from compiler.kinds import SOURCE_ANNOTATION
from compiler.review.compare import (
    HIDDEN,
    FieldChange,
    ObjectKey,
    compare_objects,
    diff_fields,
    join,
)


def quota(hard: dict, source: str = "tenants/vision.yaml", name: str = "tenant-quota") -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": "vision", "labels": {"tenantc.io/tenant": "vision"},
                         "annotations": {SOURCE_ANNOTATION: source}},
            "spec": {"hard": hard}}


def test_same_object_in_another_file_with_another_source_is_no_change():
    base = {"gpu-east/vision/resourcequota-tenant-quota.yaml": quota({"requests.cpu": "4"})}
    head = {"gpu-east/vision/quota-renamed.yaml": quota({"requests.cpu": "4"}, source="tenants/vision.jsonnet")}
    assert compare_objects(base, head) == []


def test_identity_includes_the_cluster_and_namespace():
    obj = quota({"requests.cpu": "4"})
    moved = copy.deepcopy(obj)
    moved["metadata"]["namespace"] = "vision-2"
    changes = compare_objects({"gpu-east/vision/q.yaml": obj},
                              {"cpu-west/vision/q.yaml": obj, "gpu-east/vision/q.yaml": moved})
    assert [(c.key.cluster, c.key.namespace, c.change) for c in changes] == [
        ("cpu-west", "vision", "added"), ("gpu-east", "vision", "removed"), ("gpu-east", "vision-2", "added")]


def test_quantities_compare_as_quantities():
    base = {"c/t/q.yaml": quota({"pods": "1000", "requests.memory": "1536Mi", "requests.cpu": "2"})}
    same = {"c/t/q.yaml": quota({"pods": "1k", "requests.memory": "1.5Gi", "requests.cpu": "2000m"})}
    assert compare_objects(base, same) == []
    lower = {"c/t/q.yaml": quota({"pods": "999", "requests.memory": "2Gi", "requests.cpu": "2"})}
    [change] = compare_objects(base, lower)
    assert change.fields == [
        FieldChange("spec.hard.pods", "changed", "1000", "999", "lowered"),
        FieldChange('spec.hard["requests.memory"]', "changed", "1536Mi", "2Gi", "raised"),
    ]


def test_outside_resource_maps_strings_are_strings():
    old = {"metadata": {"labels": {"version": "1000"}}}
    new = {"metadata": {"labels": {"version": "1k"}}}
    assert diff_fields(old, new) == [FieldChange("metadata.labels.version", "changed", "1000", "1k")]


def test_secret_values_are_never_shown():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "t"},
              "data": {"password": "aHVudGVyMg==", "user": "YWxpY2U="}}
    changed = copy.deepcopy(secret)
    changed["data"]["password"] = "c2VjcmV0"
    del changed["data"]["user"]
    changed["data"]["token"] = "dG9rZW4="
    [change] = compare_objects({"c/t/secret-s.yaml": secret}, {"c/t/secret-s.yaml": changed})
    assert [(f.path, f.op) for f in change.fields] == [("data.password", "changed"), ("data.token", "added"),
                                                        ("data.user", "removed")]
    values = [v for f in change.fields for v in (f.old, f.new) if v is not None]
    assert values and set(values) == {HIDDEN}


def test_lists_of_named_items_are_matched_by_name():
    old = {"containers": [{"name": "main", "image": "a:1"}, {"name": "side", "image": "s:1"}]}
    new = {"containers": [{"name": "side", "image": "s:1"}, {"name": "main", "image": "a:2"}, {"name": "extra"}]}
    assert diff_fields(old, new) == [
        FieldChange("containers[name=extra]", "added", new={"name": "extra"}),
        FieldChange("containers[name=main].image", "changed", "a:1", "a:2"),
    ]
    assert diff_fields(old, {"containers": list(reversed(old["containers"]))}) == [
        FieldChange("containers", "changed", old["containers"], list(reversed(old["containers"])), "reordered")]


def test_other_lists_are_compared_as_sets_of_items():
    old = {"from": [{"podSelector": {}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]}
    new = {"from": [{"podSelector": {}}, {"ipBlock": {"cidr": "10.1.0.0/16"}}]}
    assert diff_fields(old, new) == [
        FieldChange("from[]", "removed", old={"ipBlock": {"cidr": "10.0.0.0/8"}}),
        FieldChange("from[]", "added", new={"ipBlock": {"cidr": "10.1.0.0/16"}}),
    ]
    assert diff_fields({"args": ["a", "b"]}, {"args": ["b", "a"]})[0].note == "reordered"


def test_paths_quote_keys_that_are_not_plain_names():
    assert join("metadata.labels", "tenantc.io/tenant") == 'metadata.labels["tenantc.io/tenant"]'
    assert join("", "spec") == "spec" and join("spec", "node-pool") == "spec.node-pool"


def test_object_key_reads_cluster_from_the_path():
    key = ObjectKey.of("gpu-east/vision/namespace-vision.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                                                 "metadata": {"name": "vision"}})
    assert key == ("gpu-east", "v1", "Namespace", "", "vision") and key.ref == "Namespace vision"
    assert ObjectKey("c", "apps/v1", "StatefulSet", "t", "nb").group == "apps"
