"""Risk rules on object pairs made by hand from the example's rendered objects (kinds and
moves the example specs cannot produce in one edit: pools, cluster-scoped bindings, ports)."""
from __future__ import annotations

import copy
import re
from dataclasses import replace

import pytest
from review_helpers import REPO

from compiler.identity import RenderedPath
from compiler.kinds import NAMESPACE_NAME_LABEL, TENANT_LABEL
from compiler.review.compare import compare_objects
from compiler.review.risks import FAMILIES, RULES, RiskContext, find_risks, placement
from compiler.review.snapshot import Snapshot

RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example repository compiled once (from a copy, so edits in progress cannot race us)."""
    import shutil

    from compiler.pipeline import compile_repo

    root = tmp_path_factory.mktemp("example")
    shutil.copytree(REPO / "tenants", root / "tenants")
    return Snapshot.from_result(compile_repo(root))


def pick(snapshot: Snapshot, kind: str, tenant: str | None = None, name: str | None = None) -> tuple[str, dict]:
    for path, obj in snapshot.objects.items():
        meta = obj["metadata"]
        if obj["kind"] == kind and (tenant is None or RenderedPath.parse(path).unit == tenant) \
                and (name is None or meta["name"] == name):
            return path, copy.deepcopy(obj)
    raise AssertionError(f"the example renders no {kind} {tenant or ''}/{name or ''}: update this test")


def risks(base: dict, head: dict, snapshot: Snapshot | None = None, tenants: set | None = None, **extra):
    ctx = RiskContext(base, head, tenants=tenants or (set(snapshot.owners) if snapshot else set()),
                      pools=snapshot.pools if snapshot else {}, **extra)
    return find_risks(compare_objects(base, head), ctx)


def test_volcano_job_moved_to_another_pool(example):
    # A Volcano job spec with every task on the A100 pool (resnet50-ddp waits for its data, so it
    # is the JobTemplate its JobFlow starts after the data gate).
    path, job = pick(example, "JobTemplate", tenant="vision", name="resnet50-ddp")
    assert job["apiVersion"].startswith("flow.volcano.sh/") and job["spec"]["tasks"]
    moved = copy.deepcopy(job)
    for task in moved["spec"]["tasks"]:
        pod = task["template"]["spec"]
        pod.pop("affinity", None)
        pod["nodeSelector"] = {"node.example.com/pool": "cpu-general"}
    found = risks({path: job}, {path: moved}, example)
    assert found and {r.rule for r in found} == {"workload-moved"}
    tasks = {t["name"] for t in job["spec"]["tasks"]}
    assert {r.reason.split(":")[0] for r in found} == {f"task {t}" for t in tasks}
    assert all(r.reason.endswith("moves from pool gpu-a100 to pool cpu-general") for r in found)
    # The same pool written as a nodeSelector instead of an affinity term is not a move.
    same = copy.deepcopy(moved)
    for task in same["spec"]["tasks"]:
        task["template"]["spec"]["nodeSelector"] = {"node.example.com/pool": "gpu-a100",
                                                    "nvidia.com/gpu.product": "A100-SXM4-80GB"}
    assert risks({path: job}, {path: same}, example) == []


def test_notebook_moved_to_another_cluster(example):
    path, notebook = pick(example, "StatefulSet")
    where = RenderedPath.parse(path)
    cluster = where.cluster
    other = next(c for c in example.pools if c != cluster)
    [moved] = risks({path: notebook}, {str(replace(where, cluster=other)): notebook}, example)
    assert moved.rule == "workload-moved" and moved.key.cluster == other
    assert moved.reason == f"moves from cluster {cluster} to {other} (the one on {cluster} is deleted)"


def test_placement_reads_selectors_and_affinity_terms():
    terms = [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["x", "y"]}]},
             {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["z"]}]}]
    required = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
    pod = {"nodeSelector": {"zone": "a"}, "affinity": {"nodeAffinity": required}}
    assert placement(pod) == {frozenset({"zone=a", "pool=x|y"}), frozenset({"zone=a", "pool=z"})}
    assert placement({}) == frozenset()


def test_removed_volumes_and_datasets_are_data_loss(example):
    pvc_path, pvc = pick(example, "PersistentVolumeClaim")
    ds_path, dataset = pick(example, "Dataset", tenant="ml-platform")
    found = risks({pvc_path: pvc, ds_path: dataset}, {}, example)
    assert sorted((r.rule, r.severity, r.key.kind) for r in found) == [
        ("data-removed", "danger", "Dataset"), ("data-removed", "danger", "PersistentVolumeClaim")]


def test_shared_own_dataset_made_writable(example):
    path, dataset = pick(example, "Dataset", tenant="ml-platform", name="click-logs")
    assert dataset["spec"]["accessModes"] == ["ReadOnlyMany"]
    writable = copy.deepcopy(dataset)
    writable["spec"]["accessModes"] = ["ReadWriteMany"]
    for mount in writable["spec"]["mounts"]:
        mount["readOnly"] = False
    head = {**example.objects, path: writable}
    found = [r for r in risks(example.objects, head, example) if r.rule == "dataset-writable"]
    assert found and all(r.cross_tenant for r in found)  # recsys and ads-ranking mount it
    assert any("access modes now allow writes (ReadWriteMany)" in r.reason for r in found)
    assert all(r.reason.endswith("(the dataset is shared between tenants)") for r in found)


def test_new_dataset_of_a_tenant_own_is_not_a_risk(example):
    path, dataset = pick(example, "Dataset", tenant="ml-platform", name="click-logs")
    dataset["metadata"]["name"] = "scratch"
    dataset["spec"]["accessModes"] = ["ReadWriteMany"]
    assert risks({}, {path.replace("click-logs", "scratch"): dataset}, example) == []


def test_dataset_reference_to_another_tenant_is_an_export(example):
    path, reference = pick(example, "Dataset", tenant="recsys", name="click-logs")
    assert reference["spec"]["mounts"][0]["mountPoint"] == "dataset://ml-platform/click-logs"
    [shared] = risks({}, {path: reference}, example)
    assert (shared.rule, shared.involves, shared.cross_tenant) == ("dataset-shared", ("ml-platform",), True)
    assert risks({}, {path: reference}, example, global_datasets={("ml-platform", "click-logs")}) == []


def policy(name: str, spec: dict, namespace: str = "vision") -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": {TENANT_LABEL: namespace}},
            "spec": spec}


def ingress_from(peers: list, ports: list | None = None) -> dict:
    rule: dict = {"from": peers}
    if ports:
        rule["ports"] = ports
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [rule]}


FROM_RECSYS = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "recsys"}}}


def test_a_rule_moved_to_another_policy_opens_nothing():
    base = {"c/vision/a.yaml": policy("a", ingress_from([FROM_RECSYS], [{"port": 443, "protocol": "TCP"}]))}
    head = {"c/vision/b.yaml": policy("b", ingress_from([FROM_RECSYS], [{"port": 443, "protocol": "TCP"}]))}
    assert len(compare_objects(base, head)) == 2
    assert risks(base, head) == []


def test_ports_widened_and_every_namespace_opened():
    base = {"c/vision/a.yaml": policy("a", ingress_from([FROM_RECSYS], [{"port": 443, "protocol": "TCP"}]))}
    head = {"c/vision/a.yaml": policy("a", ingress_from([FROM_RECSYS, {"namespaceSelector": {}}]))}
    found = {(r.reason, r.cross_tenant) for r in risks(base, head, tenants={"vision", "recsys"})}
    assert found == {("ingress from tenant recsys now on all ports (was TCP/443)", True),
                     ("ingress from every namespace is new", True)}


def test_cluster_admin_binding_is_cross_tenant():
    binding = {"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": "oops"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "Group", "name": "vision-eng", "apiGroup": "rbac.authorization.k8s.io"}]}
    [risk] = risks({}, {"c/_platform/clusterrolebinding-oops.yaml": binding})
    assert risk.reason == "Group vision-eng gets cluster-admin on the whole cluster" and risk.cross_tenant
    assert (risk.tenant, risk.api_version, risk.key.cluster) == ("platform", RBAC, "c")


def test_a_subject_moved_between_bindings_of_the_same_role_is_not_widened(example):
    path, binding = pick(example, "RoleBinding", tenant="vision", name="members-edit")
    renamed = copy.deepcopy(binding)
    renamed["metadata"]["name"] = "members-edit-2"
    assert risks({path: binding}, {path.replace("members-edit", "members-edit-2"): renamed}, example) == []
    demoted = copy.deepcopy(binding)
    demoted["roleRef"]["name"] = "view"
    assert risks({path: binding}, {path: demoted}, example) == []


def test_every_rule_is_in_the_registry_and_the_docs():
    table = re.findall(r"^\| `([a-z-]+)` \| (?:danger|warning) \|", (REPO / "docs" / "review.md").read_text(), re.M)
    assert sorted(table) == sorted(RULES)
    assert len(RULES) == sum(len(family.rules) for family in FAMILIES)  # no family redefines another's rule
