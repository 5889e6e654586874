"""Property tests of the prune decision over random live sets of owned and unowned objects,
some another platform's (another repository's objects on a shared cluster), some from before
objects carried a platform label."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.identity import ObjectRef
from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_LABEL,
    TENANT_LABEL,
    stage_of,
)
from compiler.live.prune import PruneFlags, decide_prune, owned_by_tenantc, platform_of

CLUSTER, PLATFORM = "east", "ml-platform"
KINDS = [("v1", "Namespace", False), ("v1", "PersistentVolumeClaim", True), ("v1", "ConfigMap", True),
         ("networking.k8s.io/v1", "NetworkPolicy", True), ("scheduling.volcano.sh/v1beta1", "Queue", False),
         ("rbac.authorization.k8s.io/v1", "RoleBinding", True), ("batch.volcano.sh/v1alpha1", "Job", True)]

names = st.sampled_from(["a", "b", "settings", "settings-copy", "team", "x1"])
managed_by = st.sampled_from([MANAGED_BY_VALUE, "helm", "tenantc-agent", "Tenantc", None])
tenant = st.sampled_from(["vision", "recsys", "platform", "", None])
cluster = st.sampled_from([CLUSTER, "west", None])
platform = st.sampled_from([PLATFORM, "research-platform", "", None])


@st.composite
def live_object(draw) -> dict:
    api_version, kind, namespaced = draw(st.sampled_from(KINDS))
    labels = {}
    for label, value in ((MANAGED_BY_LABEL, draw(managed_by)), (TENANT_LABEL, draw(tenant)),
                         (CLUSTER_LABEL, draw(cluster)), (PLATFORM_LABEL, draw(platform))):
        if value is not None:
            labels[label] = value
    meta = {"name": draw(names), "labels": labels, "uid": draw(st.uuids()).hex}
    if namespaced:
        meta["namespace"] = draw(st.sampled_from(["vision", "recsys", "kube-system"]))
    if draw(st.booleans()) and draw(st.booleans()):
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def unique(objects: list[dict]) -> list[dict]:
    return list({ObjectRef.of(o): o for o in objects}.values())


@st.composite
def scenario(draw):
    live = unique(draw(st.lists(live_object(), max_size=40)))
    desired = {ObjectRef.of(o) for o in live if draw(st.booleans())}
    desired |= {ObjectRef.of(o) for o in draw(st.lists(live_object(), max_size=5))}  # desired, not live yet
    flags = PruneFlags(draw(st.booleans()), draw(st.booleans()),
                       draw(st.sampled_from([0.0, 5.0, 20.0, 50.0, 100.0])))
    return live, desired, flags


@settings(max_examples=200, deadline=None)
@given(scenario(), st.sampled_from([PLATFORM, None]))
def test_never_deletes_what_tenantc_does_not_own_or_still_wants(case, ours):
    """`ours`: the platform of the desired objects; None for a rendered/ from before the label."""
    live, desired, flags = case
    decision = decide_prune(live, desired, CLUSTER, flags, ours)
    for obj in decision.delete:
        labels = obj["metadata"]["labels"]
        assert labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
        assert labels.get(TENANT_LABEL)
        assert labels.get(CLUSTER_LABEL) == CLUSTER
        assert ours is None or labels.get(PLATFORM_LABEL) in (ours, "", None)
        assert ObjectRef.of(obj) not in desired
        assert "deletionTimestamp" not in obj["metadata"]


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_namespaces_and_pvcs_only_with_their_flags(case):
    live, desired, flags = case
    kinds = {o["kind"] for o in decide_prune(live, desired, CLUSTER, flags).delete}
    assert flags.namespaces or "Namespace" not in kinds
    assert flags.pvcs or "PersistentVolumeClaim" not in kinds
    defaults = {o["kind"] for o in decide_prune(live, desired, CLUSTER).delete}
    assert not defaults & {"Namespace", "PersistentVolumeClaim"}


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_threshold_is_honoured(case):
    live, desired, flags = case
    decision = decide_prune(live, desired, CLUSTER, flags)
    owned = sum(owned_by_tenantc(o, CLUSTER) for o in live)
    assert decision.owned == owned
    if decision.refused:
        assert decision.allowed == []
        assert len(decision.delete) * 100 > flags.threshold * owned
        assert f"prune {len(decision.delete)} of {owned}" in decision.refused
    else:
        assert decision.allowed == decision.delete
        assert len(decision.delete) * 100 <= flags.threshold * max(owned, 1)


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_everything_prunable_is_listed_once_in_reverse_stage_order(case):
    live, desired, flags = case
    decision = decide_prune(live, desired, CLUSTER, flags)
    expected = {ObjectRef.of(o) for o in live
                if owned_by_tenantc(o, CLUSTER) and ObjectRef.of(o) not in desired
                and "deletionTimestamp" not in o["metadata"]
                and (flags.namespaces or o["kind"] != "Namespace")
                and (flags.pvcs or o["kind"] != "PersistentVolumeClaim")}
    assert [ObjectRef.of(o) for o in decision.delete] == sorted(expected, key=lambda k: (
        -stage_of(next(o for o in live if ObjectRef.of(o) == k)), k))
    kept = {ObjectRef.of(o) for o, _ in decision.kept}
    assert not kept & expected


def test_kept_objects_say_which_flag_would_prune_them():
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "old", "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: "old",
                                                  CLUSTER_LABEL: CLUSTER}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "home", "namespace": "old", "labels": dict(ns["metadata"]["labels"])}}
    decision = decide_prune([ns, pvc], set(), CLUSTER, PruneFlags(threshold=100))
    assert decision.delete == []
    assert sorted(reason for _, reason in decision.kept) == [
        "a Namespace (pass --prune-namespaces)", "a PersistentVolumeClaim (pass --prune-pvcs)"]
    decision = decide_prune([ns, pvc], set(), CLUSTER, PruneFlags(True, True, 100))
    assert [o["kind"] for o in decision.delete] == ["PersistentVolumeClaim", "Namespace"]


def test_another_platforms_objects_on_the_cluster_are_counted_but_left_alone():
    """Two repositories sharing a cluster: each prunes its own objects only (and those from
    before the platform label, as it did then)."""
    def config_map(name: str, platform: str | None) -> dict:
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: "t", CLUSTER_LABEL: CLUSTER}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": name, "namespace": "n", "labels": {**labels, **({PLATFORM_LABEL: platform} if platform else {})}}}
    mine, theirs, unlabelled = config_map("a", PLATFORM), config_map("b", "research-platform"), config_map("c", None)
    decision = decide_prune([mine, theirs, unlabelled], set(), CLUSTER, PruneFlags(threshold=100), PLATFORM)
    assert ([o["metadata"]["name"] for o in decision.delete], decision.owned, decision.foreign) == (["a", "c"], 2, 1)
    before = decide_prune([mine, theirs, unlabelled], set(), CLUSTER, PruneFlags(threshold=100))
    assert (len(before.delete), before.foreign) == (3, 0)  # a rendered/ without platform labels: as before


def test_the_platform_of_a_rendered_tree_is_its_objects_label():
    labelled = {"metadata": {"labels": {PLATFORM_LABEL: PLATFORM}}}
    assert platform_of([{"metadata": {}}, labelled]) == PLATFORM
    assert platform_of([{"metadata": {"labels": {}}}]) is None and platform_of([]) is None


def test_objects_labelled_for_another_cluster_are_counted_but_left_alone():
    other = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "c", "namespace": "n", "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE,
                                                                     TENANT_LABEL: "t", CLUSTER_LABEL: "west"}}}
    decision = decide_prune([other], set(), CLUSTER, PruneFlags(threshold=100))
    assert (decision.delete, decision.owned, decision.foreign) == ([], 0, 1)
