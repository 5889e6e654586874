"""What a pruned Namespace or PVC would take with it (compiler.live.prune_guard), on hand-made
live objects: whose objects count as tenantc's, which pods keep a claim in use."""
from __future__ import annotations

from compiler.identity import ObjectRef
from compiler.kinds import CLUSTER_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLATFORM_LABEL, TENANT_LABEL
from compiler.live.prune_guard import (
    PVCS_IN_USE_FLAG,
    UNOWNED_CONTENTS_FLAG,
    Contents,
    claim_problem,
    namespace_problem,
    not_tenantcs,
)

CLUSTER, NS = "east", "team"
OWNED = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: NS, CLUSTER_LABEL: CLUSTER}


def obj(api_version: str, kind: str, name: str, uid: str, labels: dict | None = None, owners: tuple[str, ...] = (),
        **extra) -> dict:
    meta = {"name": name, "namespace": NS, "uid": uid, "labels": labels or {}}
    if owners:
        meta["ownerReferences"] = [{"uid": o} for o in owners]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def pod(name: str, uid: str, claim: str, owners: tuple[str, ...] = (), phase: str = "Pending") -> dict:
    return obj("v1", "Pod", name, uid, owners=owners, status={"phase": phase},
               spec={"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]})


def names(objects: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def test_tenantcs_own_its_agents_kubernetes_defaults_and_their_dependents_do_not_count():
    notebook = obj("apps/v1", "StatefulSet", "nb", "u-nb", OWNED)
    service = obj("v1", "Service", "nb", "u-svc", OWNED)
    cronjob = obj("batch/v1", "CronJob", "scale", "u-cron", OWNED)
    objects = [
        notebook, service, cronjob,
        pod("nb-0", "u-pod", "home", owners=("u-nb",)),
        obj("apps/v1", "ControllerRevision", "nb-1", "u-rev", owners=("u-nb",)),
        obj("batch/v1", "Job", "scale-1", "u-job", owners=("u-cron",)),
        pod("scale-1-x", "u-jobpod", "none", owners=("u-job",)),  # two owner hops
        obj("v1", "Endpoints", "nb", "u-ep"),  # no owner reference: its Service's name
        obj("discovery.k8s.io/v1", "EndpointSlice", "nb-abc", "u-eps", owners=("u-svc",)),
        obj("v1", "ConfigMap", "heartbeat", "u-hb", {MANAGED_BY_LABEL: "tenantc-agent"}),
        obj("v1", "ServiceAccount", "default", "u-sa"),
        obj("v1", "ConfigMap", "kube-root-ca.crt", "u-ca"),
        obj("v1", "ConfigMap", "leaving", "u-leaving"),
    ]
    objects[-1]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not_tenantcs(objects, set(), CLUSTER) == []


def test_everything_else_counts_and_is_named_kubectl_style_capped_and_counted_by_kind():
    theirs = [obj("v1", "ConfigMap", f"manual-{i:02}", f"u-{i}") for i in range(8)]
    theirs.append(obj("apps/v1", "Deployment", "web", "u-web"))
    theirs.append(pod("web-1", "u-webpod", "x", owners=("u-web",)))  # a dependent of theirs is theirs
    west = obj("v1", "ConfigMap", "west", "u-west", {**OWNED, CLUSTER_LABEL: "west"})
    kept = obj("v1", "ConfigMap", "settings", "u-kept", OWNED)  # tenantc's, but still rendered
    objects = [*theirs, west, kept, obj("v1", "ServiceAccount", "default", "u-sa")]
    found = not_tenantcs(objects, {ObjectRef.of(kept)}, CLUSTER)
    assert len(found) == 12
    message = namespace_problem(NS, Contents(objects), {ObjectRef.of(kept)}, CLUSTER)
    assert message.startswith(f"Namespace {NS}: it holds 12 object(s) tenantc does not own, which would be "
                              "deleted with it: configmap/manual-00, ")
    assert "configmap/settings (still in rendered/east/)" in message and "configmap/west (tenantc's for " \
                                                                         "cluster west)" in message
    assert "and 2 more (configmap 10, deployment.apps 1, pod 1)" in message
    assert message.endswith(f"(move or delete them first, or pass {UNOWNED_CONTENTS_FLAG} to delete them with "
                            "the namespace)")
    unreadable = namespace_problem(NS, Contents([], {"secrets": "HTTP 403 Forbidden"}), set(), CLUSTER)
    assert "what it holds cannot all be read (secrets: HTTP 403 Forbidden)" in unreadable


def test_another_platforms_objects_in_a_namespace_are_not_this_platforms_to_take():
    """Two repositories on one cluster: what the other platform rendered in a namespace would
    go with it, and is named so (objects from before the platform label count as this one's)."""
    other = obj("v1", "ConfigMap", "theirs", "u-theirs", {**OWNED, PLATFORM_LABEL: "research"})
    mine = obj("v1", "ConfigMap", "mine", "u-mine", {**OWNED, PLATFORM_LABEL: "ml"})
    older = obj("v1", "ConfigMap", "older", "u-older", OWNED)
    assert names(not_tenantcs([other, mine, older], set(), CLUSTER, "ml")) == ["theirs"]
    assert "configmap/theirs (tenantc's for platform research)" in namespace_problem(
        NS, Contents([other, mine, older]), set(), CLUSTER, "ml")
    assert not_tenantcs([other, mine, older], set(), CLUSTER) == []  # a rendered/ from before the label


def test_a_claim_is_in_use_by_pods_that_stay_not_by_those_the_prune_removes():
    notebook = obj("apps/v1", "StatefulSet", "nb", "u-nb", OWNED)
    deployment = obj("apps/v1", "Deployment", "web", "u-web")
    replicas = obj("apps/v1", "ReplicaSet", "web-1", "u-rs", owners=("u-web",))
    claim = obj("v1", "PersistentVolumeClaim", "home", "u-home", OWNED)
    objects = [notebook, deployment, replicas, claim,
               pod("nb-0", "u-p1", "home", owners=("u-nb",)),  # goes with its pruned StatefulSet
               pod("done", "u-p2", "home", phase="Succeeded"),  # finished
               pod("other", "u-p3", "scratch")]  # another claim
    assert claim_problem(claim, Contents(objects), set(), {"u-nb", "u-home"}) == ""
    objects.append(pod("web-1-x", "u-p4", "home", owners=("u-rs",)))  # stays: its Deployment is not pruned
    assert claim_problem(claim, Contents(objects), set(), {"u-nb", "u-home"}) == (
        f"PersistentVolumeClaim {NS}/home is in use by pod/web-1-x, which this prune does not remove "
        f"(stop them first, or pass {PVCS_IN_USE_FLAG})")
    assert claim_problem(claim, Contents(objects), {NS}, {"u-home"}) == ""  # the namespace goes, pods with it
    assert claim_problem(claim, Contents(objects), set(), {"u-home", "u-nb", "u-web"}) == ""  # Deployment, RS, pod
    blind = claim_problem(claim, Contents([], {"pods": "HTTP 403 Forbidden"}), set(), {"u-home"})
    assert "cannot tell which pods use it" in blind and PVCS_IN_USE_FLAG in blind
