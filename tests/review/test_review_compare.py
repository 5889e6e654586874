"""The object-by-object comparison on hand-made objects: identity, quantities, lists, Secrets."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from compiler.identity import ObjectRef, RenderedPath
from compiler.kinds import ARGOCD_DIR, PLATFORM_TENANT, SOURCE_ANNOTATION, TENANT_LABEL
from compiler.redact import MASK
from compiler.review import Review
from compiler.review.compare import (
    FieldChange,
    ObjectChange,
    ObjectKey,
    compare_objects,
    diff_fields,
    join,
    tenant_of,
)
from compiler.review.report import FORMATS, render, to_json
from compiler.review.revision import Revision
from compiler.review.risks import RiskContext, find_risks


def quota(hard: dict, source: str = "tenants/vision.yaml", name: str = "tenant-quota") -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": "vision", "labels": {TENANT_LABEL: "vision"},
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


SECRET_VALUES = ("aHVudGVyMg==", "YWxpY2U=", "a2VwdA==", "c2VjcmV0", "dG9rZW4=", "s3cr3t-note", "kept")


def secret_pair() -> tuple[dict, dict]:
    """A Secret and its edit: one value changed, one removed, one added, one kept, stringData changed."""
    secret: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "t"},
                    "data": {"password": "aHVudGVyMg==", "user": "YWxpY2U=", "same": "a2VwdA=="},
                    "stringData": {"note": "kept"}}
    changed = copy.deepcopy(secret)
    changed["data"]["password"] = "c2VjcmV0"
    del changed["data"]["user"]
    changed["data"]["token"] = "dG9rZW4="
    changed["stringData"]["note"] = "s3cr3t-note"
    return secret, changed


def test_secret_values_are_never_shown():
    secret, changed = secret_pair()
    [change] = compare_objects({"c/t/secret-s.yaml": secret}, {"c/t/secret-s.yaml": changed})
    # Which keys changed is visible ...
    assert [(f.path, f.op) for f in change.fields] == [("data.password", "changed"), ("data.token", "added"),
                                                        ("data.user", "removed"), ("stringData.note", "changed")]
    # ... their values are not, before or after.
    assert [(f.old, f.new) for f in change.fields] == [
        (f"{MASK} (before)", f"{MASK} (after)"), (None, f"{MASK} (after)"), (f"{MASK} (before)", None),
        (f"{MASK} (before)", f"{MASK} (after)")]
    # The objects the rules read are the real ones; only what is shown is masked.
    assert change.new == changed and change.old == secret


def test_a_secret_with_the_same_values_is_unchanged_and_a_new_data_section_shows_keys_only():
    secret, _ = secret_pair()
    assert compare_objects({"c/t/secret-s.yaml": secret}, {"c/t/secret-s.yaml": copy.deepcopy(secret)}) == []
    empty = {k: v for k, v in secret.items() if k not in ("data", "stringData")}
    [change] = compare_objects({"c/t/secret-s.yaml": empty}, {"c/t/secret-s.yaml": secret})
    assert [(f.path, f.op, f.new) for f in change.fields] == [
        ("data", "added", {"password": f"{MASK} (after)", "same": f"{MASK} (after)", "user": f"{MASK} (after)"}),
        ("stringData", "added", {"note": f"{MASK} (after)"})]


def a_review(changes: list[ObjectChange]) -> Review:
    """A Review of hand-made changes, for the report formats."""
    base = Revision("base", "main", "0" * 40, Path("."), Path("."))
    head = Revision("head", None, None, Path("."), Path("."))
    return Review(base, head, changes, [], [], [], [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_prints_a_secret_value(fmt):
    secret, changed = secret_pair()
    review = a_review(compare_objects({"c/t/secret-s.yaml": secret}, {"c/t/secret-s.yaml": changed}))
    text = render(review, fmt)
    assert not [v for v in SECRET_VALUES if v in text]
    if fmt != "github":  # annotations carry risks only, and a Secret change is none
        assert "data.password" in text and "stringData.note" in text and MASK in text


def test_a_new_api_version_of_the_same_object_is_one_change():
    old: dict = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset",
                 "metadata": {"name": "imagenet", "namespace": "vision", "labels": {TENANT_LABEL: "vision"}},
                 "spec": {"mounts": [{"name": "imagenet", "mountPoint": "s3://bucket/imagenet"}]}}
    new = {**old, "apiVersion": "data.fluid.io/v1beta1"}
    base, head = {"c/vision/dataset-imagenet.yaml": old}, {"c/vision/dataset.data.fluid.io-imagenet.yaml": new}
    [change] = compare_objects(base, head)
    assert (change.change, change.api_version, change.key.ref) == (
        "changed", "data.fluid.io/v1beta1", ObjectRef("data.fluid.io", "Dataset", "vision", "imagenet"))
    assert change.fields == [FieldChange("apiVersion", "changed", "data.fluid.io/v1alpha1", "data.fluid.io/v1beta1")]
    assert find_risks([change], RiskContext(base, head)) == []  # not removed: no data-removed danger
    [row] = to_json(a_review([change]))["changes"]
    assert (row["apiVersion"], row["change"], row["path"]) == (
        "data.fluid.io/v1beta1", "changed", "rendered/c/vision/dataset.data.fluid.io-imagenet.yaml")


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


def test_object_key_is_the_cluster_and_the_object_ref():
    key = ObjectKey.of("gpu-east/vision/namespace-vision.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                                                 "metadata": {"name": "vision"}})
    assert key == ("gpu-east", ObjectRef("", "Namespace", "", "vision")) and key.ref.short == "Namespace vision"
    nb = ObjectKey.of("c/t/statefulset-nb.yaml", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                  "metadata": {"name": "nb", "namespace": "t"}})
    assert (nb.group, nb.kind, nb.namespace, nb.name) == ("apps", "StatefulSet", "t", "nb")
    project = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
               "metadata": {"name": "vision", "namespace": "argocd", "labels": {TENANT_LABEL: "vision"}}}
    assert ObjectKey.of(f"{ARGOCD_DIR}/appproject.argoproj.io-vision.yaml", project).cluster == ARGOCD_DIR
    with pytest.raises(ValueError, match="not a rendered/ file path"):
        ObjectKey.of("vision.yaml", project)


def test_tenant_is_the_label_else_the_folder():
    unlabelled: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "vision"}}
    assert tenant_of(RenderedPath.parse("c/vision/configmap-x.yaml"), unlabelled) == "vision"
    assert tenant_of(RenderedPath.parse("c/_platform/configmap-x.yaml"), unlabelled) == PLATFORM_TENANT
    assert tenant_of(RenderedPath.parse(f"{ARGOCD_DIR}/configmap-x.yaml"), unlabelled) == PLATFORM_TENANT
    labelled = {**unlabelled, "metadata": {**unlabelled["metadata"], "labels": {TENANT_LABEL: "recsys"}}}
    assert tenant_of(RenderedPath.parse(f"{ARGOCD_DIR}/configmap-x.yaml"), labelled) == "recsys"
