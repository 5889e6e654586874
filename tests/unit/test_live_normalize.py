"""The local 'cannot have changed' test: values, defaults, quantities and field ownership."""
from __future__ import annotations

import copy

from compiler.live import normalize
from compiler.redact import mask_pair

QUOTA = {
    "apiVersion": "v1", "kind": "ResourceQuota",
    "metadata": {"name": "tenant-quota", "namespace": "vision", "labels": {"app.kubernetes.io/managed-by": "tenantc"}},
    "spec": {"hard": {"requests.cpu": "4", "requests.memory": "1.5Gi"}},
}
# managedFields as the API server records them for the apply of QUOTA (shape copied from a real server)
QUOTA_FIELDS = {"f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}}},
                "f:spec": {"f:hard": {"f:requests.cpu": {}, "f:requests.memory": {}}}}


def live_of(desired: dict, fields: dict, **spec_overrides) -> dict:
    live = copy.deepcopy(desired)
    live["metadata"].update(uid="u1", resourceVersion="7", creationTimestamp="2026-01-01T00:00:00Z",
                            managedFields=[{"manager": "tenantc", "operation": "Apply", "apiVersion": "v1",
                                            "fieldsType": "FieldsV1", "fieldsV1": fields}])
    live["spec"].update(spec_overrides)
    return live


def test_server_canonical_quantities_count_as_equal():
    live = live_of(QUOTA, QUOTA_FIELDS, hard={"requests.cpu": "4", "requests.memory": "1536Mi"})
    assert normalize.unchanged(QUOTA, live)


def test_a_different_quantity_is_a_change():
    live = live_of(QUOTA, QUOTA_FIELDS, hard={"requests.cpu": "5", "requests.memory": "1536Mi"})
    assert not normalize.unchanged(QUOTA, live)


def test_a_field_dropped_from_the_spec_is_a_change_while_still_owned_live():
    desired = copy.deepcopy(QUOTA)
    del desired["spec"]["hard"]["requests.memory"]
    live = live_of(QUOTA, QUOTA_FIELDS)
    assert normalize.covers(normalize._body(desired), normalize._body(live))  # values alone cannot see it
    assert not normalize.unchanged(desired, live)


def test_a_field_someone_else_owns_is_a_change_even_with_the_same_value():
    fields = copy.deepcopy(QUOTA_FIELDS)
    del fields["f:spec"]["f:hard"]["f:requests.cpu"]  # an Update by another manager took it
    assert not normalize.unchanged(QUOTA, live_of(QUOTA, fields))


def test_never_applied_by_tenantc_is_a_change():
    live = live_of(QUOTA, QUOTA_FIELDS)
    live["metadata"]["managedFields"][0]["manager"] = "kubectl-client-side-apply"
    assert not normalize.unchanged(QUOTA, live)


def test_defaults_outside_atomic_fields_are_allowed_inside_they_are_not():
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "p", "namespace": "n"},
              "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}
    fields = {"f:spec": {"f:podSelector": {}, "f:ingress": {}}}  # ingress is an atomic list
    live = live_of(policy, fields, ingress=[{"ports": [{"port": 80}]}], policyTypes=["Ingress"])
    assert normalize.unchanged(policy, live)  # policyTypes defaulted beside, not inside
    live["spec"]["ingress"][0]["ports"][0]["protocol"] = "TCP"  # inside the atomic list
    assert not normalize.unchanged(policy, live)


def test_zero_values_the_server_omits_match_absent_fields():
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "w", "namespace": "n"},
               "automountServiceAccountToken": False, "spec": {"x": "", "y": [], "z": {}}}
    live = live_of(account, {"f:automountServiceAccountToken": {}, "f:spec": {"f:x": {}, "f:y": {}, "f:z": {}}})
    for key in ("x", "y", "z"):
        live["spec"].pop(key)
    live.pop("automountServiceAccountToken")
    assert normalize.covers(normalize._body(account), normalize._body(live))
    assert not normalize.covers({"a": True}, {})


def test_list_length_changes_are_changes():
    assert not normalize.covers({"l": [1, 2]}, {"l": [1]})
    assert not normalize.covers({"l": [1]}, {"l": [1, 2]})
    assert normalize.covers({"l": [{"a": 1}]}, {"l": [{"a": 1, "b": 2}]})


def test_fields_leaves_map_list_keys_to_items():
    fields = {"f:spec": {"f:containers": {'k:{"name":"main"}': {".": {}, "f:image": {}, "f:name": {}}},
                         "f:finalizers": {'v:"kubernetes"': {}}}}
    assert normalize.fields_leaves(fields) == {("spec", "containers", "[]", "image"),
                                               ("spec", "containers", "[]", "name"),
                                               ("spec", "finalizers", "[]")}


def test_same_fields_treats_a_leaf_as_its_whole_subtree():
    desired = {("spec", "ingress", "[]", "ports", "[]", "port"), ("metadata", "labels", "a")}
    assert normalize.same_fields(desired, {("spec", "ingress"), ("metadata", "labels", "a")})
    assert not normalize.same_fields(desired, {("spec", "ingress"), ("metadata", "labels", "a"), ("spec", "egress")})
    assert not normalize.same_fields(desired, {("spec", "ingress")})


def test_crd_defaults_are_applied_before_comparing_values():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "levels": {"type": "array", "items": {"type": "object", "properties": {
            "quota": {"type": "string"}, "volumeType": {"type": "string", "default": "hostPath"}}}}}}}}
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "AlluxioRuntime", "metadata": {"name": "r"},
               "spec": {"levels": [{"quota": "10Gi"}]}}
    live = live_of(runtime, {"f:spec": {"f:levels": {}}}, levels=[{"quota": "10Gi", "volumeType": "hostPath"}])
    assert not normalize.unchanged(runtime, live)
    assert normalize.unchanged(runtime, live, schema)
    live["spec"]["levels"][0]["volumeType"] = "emptyDir"
    assert not normalize.unchanged(runtime, live, schema)


def test_ignored_run_time_fields_count_neither_as_values_nor_as_ownership():
    """compiler.delivery's run-time fields: after the scaler's Update, tenantc no longer owns
    spec.replicas and live holds another value; neither makes the object changed."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "replicas": {"type": "integer", "default": 1}}}}}
    runtime = {"apiVersion": "data.fluid.io/v1alpha1", "kind": "JindoRuntime", "metadata": {"name": "r"},
               "spec": {"replicas": 2, "master": {"replicas": 1}}}
    scaled = live_of(runtime, {"f:spec": {"f:master": {"f:replicas": {}}}}, replicas=6)
    assert not normalize.unchanged(runtime, scaled)
    assert normalize.unchanged(runtime, scaled, ignored=[("spec", "replicas")])
    assert normalize.unchanged(runtime, scaled, schema, ignored=[("spec", "replicas")])  # no default stands in
    scaled["spec"]["master"]["replicas"] = 3  # anything else still counts
    assert not normalize.unchanged(runtime, scaled, ignored=[("spec", "replicas")])
    assert normalize.without_paths({("spec", "replicas"), ("spec", "master", "replicas")},
                                   [("spec", "replicas")]) == {("spec", "master", "replicas")}


def test_clean_drops_bookkeeping_and_status():
    live = live_of(QUOTA, QUOTA_FIELDS)
    live["status"] = {"used": {}}
    cleaned = normalize.clean(live)
    assert "status" not in cleaned
    assert not set(cleaned["metadata"]) & set(normalize.NOISE_METADATA)
    assert "managedFields" in live["metadata"]  # the input is untouched


def test_secret_values_are_masked_but_changes_stay_visible():
    before = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"same": "c2VjcmV0", "changed": "b2xk", "gone": "eA=="}}
    after = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
             "data": {"same": "c2VjcmV0", "changed": "bmV3"}, "stringData": {"plain": "hunter2"}}
    masked_before, masked_after = mask_pair(before, after)
    assert masked_before["data"] == {"same": "***", "changed": "*** (before)", "gone": "*** (before)"}
    assert masked_after["data"] == {"same": "***", "changed": "*** (after)"}
    assert masked_after["stringData"] == {"plain": "*** (after)"}
    assert "hunter2" not in repr((masked_before, masked_after))
    assert after["stringData"]["plain"] == "hunter2"  # inputs untouched


def test_other_owners_names_the_manager_of_a_changed_field():
    live = live_of(QUOTA, QUOTA_FIELDS)
    live["metadata"]["managedFields"].append({"manager": "ops-bob", "operation": "Update", "fieldsType": "FieldsV1",
                                              "fieldsV1": {"f:spec": {"f:hard": {"f:pods": {}}}}})
    assert normalize.other_owners(live, ("spec", "hard", "pods")) == ["ops-bob (Update)"]
    assert normalize.other_owners(live, ("spec", "hard", "requests.cpu")) == []
    assert normalize.dotted(("spec", "egress", 0, "ports")) == "spec.egress[0].ports"
