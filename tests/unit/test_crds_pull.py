"""The offline parts of `tenantc crds pull` and of diff's CRD skew check: what a pulled file
keeps, names the server gives that are no safe file name, and how two copies of a CRD compare.

A CRD's versions each say whether they are `served` and which one is the `storage` version:
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/
"""
from __future__ import annotations

import copy

from compiler.live.crds import RENDERED_GROUPS, clean_crd, compare_crd, crd_file, write_folder


def _crd(name: str = "queues.scheduling.volcano.sh", group: str = "scheduling.volcano.sh") -> dict:
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "uid": "u", "resourceVersion": "7", "generation": 2,
                     "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}],
                     "labels": {"app": "volcano"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                     "controller-gen.kubebuilder.io/version": "v0.16"}},
        "spec": {"group": group, "names": {"kind": "Queue", "plural": "queues"}, "scope": "Cluster",
                 "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": schema}]},
        "status": {"acceptedNames": {"kind": "Queue"}, "storedVersions": ["v1beta1"]},
    }


def test_a_pulled_crd_keeps_its_declaration_and_drops_the_servers_bookkeeping():
    cleaned = clean_crd(_crd())
    assert set(cleaned) == {"apiVersion", "kind", "metadata", "spec"}
    assert cleaned["metadata"] == {"name": "queues.scheduling.volcano.sh", "labels": {"app": "volcano"},
                                   "annotations": {"controller-gen.kubebuilder.io/version": "v0.16"}}
    assert cleaned["spec"] == _crd()["spec"]


def test_names_that_are_no_safe_file_name_are_skipped(tmp_path):
    assert crd_file(_crd()) == "scheduling.volcano.sh/queues.scheduling.volcano.sh.yaml"
    for name, group in (("../../etc/passwd", "x.io"), ("a.x.io", "../.."), ("A.x.io", "x.io"), ("a/b.x.io", "x.io")):
        assert crd_file(_crd(name, group)) is None, (name, group)
    root = tmp_path / "repo"
    root.mkdir()
    result = write_folder(root, "c", root / "crds" / "c", [clean_crd(_crd()), clean_crd(_crd("../../x", "x.io"))])
    assert result.skipped == ["../../x"] and result.files == ["scheduling.volcano.sh/queues.scheduling.volcano.sh.yaml"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == \
        ["repo/crds/c/scheduling.volcano.sh/queues.scheduling.volcano.sh.yaml"]


def test_the_rendered_groups_are_the_custom_groups_of_the_kinds_tenantc_renders():
    assert set(RENDERED_GROUPS) == {"scheduling.volcano.sh", "batch.volcano.sh", "flow.volcano.sh",
                                    "data.fluid.io", "argoproj.io"}


def test_same_crd_no_skew_whatever_the_server_added():
    assert compare_crd(clean_crd(_crd()), _crd(), "crds/c") == []


def test_skew_names_the_crd_and_both_version_lists():
    repo, live = _crd(), _crd()
    live["spec"]["versions"].append({**copy.deepcopy(live["spec"]["versions"][0]), "name": "v1", "storage": True})
    live["spec"]["versions"][0]["storage"] = False
    [warning] = compare_crd(repo, live, "crds/c")
    assert warning == ("CRD queues.scheduling.volcano.sh: crds/c serves v1beta1 (storage v1beta1), "
                       "the cluster serves v1beta1, v1 (storage v1)")


def test_skew_of_a_schema_names_the_version_and_both_digests():
    repo, live = _crd(), _crd()
    live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"] = \
        {"capability": {"type": "object"}}
    [warning] = compare_crd(repo, live, "--crd-dir")
    assert warning.startswith("CRD queues.scheduling.volcano.sh v1beta1: its schema in --crd-dir differs")
    mine, theirs = warning.split("sha256 ")[1].rstrip(")").split(" vs ")
    assert len(mine) == len(theirs) == 12 and mine != theirs


def test_a_crd_missing_on_the_cluster_is_named():
    assert compare_crd(_crd(), None, "crds/c") == \
        ["CRD queues.scheduling.volcano.sh: in crds/c but not installed on the cluster"]
