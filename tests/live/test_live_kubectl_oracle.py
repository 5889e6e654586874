"""tenantc diff agrees with `kubectl diff --server-side --field-manager=tenantc` (the oracle)
on kinds of change made live by other field managers or in rendered/: both see a difference,
or both see none."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from live_support import (
    PLATFORM,
    apply,
    change_set,
    find,
    patch,
    target,
    tenant_objects,
    unique,
    write_tree,
)

from compiler.kinds import MANAGED_BY_LABEL, file_name
from compiler.kube.discovery import discover
from compiler.render.context import make_object

pytestmark = pytest.mark.cluster


@dataclass
class Case:
    name: str
    change: Callable  # (client, desired) -> desired to compare (changes live and/or the copy it gets)
    differs: bool
    kind: str = ""  # the kind tenantc diff must name when it differs


def live_patch(kind: str, body: dict, name: str | None = None):
    def change(client, desired):
        patch(client, find(desired, kind, name), body)
        return desired
    return change


def edit(kind: str, fn, name: str | None = None):
    def change(client, desired):
        fn(find(desired, kind, name))
        return desired
    return change


def delete_live(kind: str):
    def change(client, desired):
        obj = find(desired, kind)
        client.delete(discover(client).for_object(obj).object_path(obj))
        return desired
    return change


def add_policy(client, desired):
    ns = find(desired, "Namespace")["metadata"]["name"]
    cluster = find(desired, "Namespace")["metadata"]["labels"]["tenantc.io/cluster"]
    policy = make_object("networking.k8s.io/v1", "NetworkPolicy", "allow-extra", ns, ns, cluster, "tenants/test.yaml",
                         None, {"spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                                         "ingress": [{"from": [{"podSelector": {}}]}]}}, platform=PLATFORM)
    return {**desired, f"{cluster}/{ns}/{file_name(policy)}": policy}


CASES = [
    Case("nothing changed", lambda client, desired: desired, False),
    Case("quota changed by another manager", live_patch("ResourceQuota", {"spec": {"hard": {"pods": "7"}}}),
         True, "ResourceQuota"),
    Case("ownership label edited", live_patch("ConfigMap", {"metadata": {"labels": {MANAGED_BY_LABEL: "helm"}}}),
         True, "ConfigMap"),
    Case("network policy rule added", edit("NetworkPolicy", lambda o: o["spec"]["ingress"].append(
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}),
        "allow-monitoring"), True, "NetworkPolicy"),
    Case("object deleted live", delete_live("ConfigMap"), True, "ConfigMap"),
    Case("object added to rendered/", add_policy, True, "NetworkPolicy"),
    Case("field dropped from a spec", edit("LimitRange", lambda o: o["spec"]["limits"][0].pop("max")),
         True, "LimitRange"),
    Case("annotation changed by another manager",
         live_patch("ServiceAccount", {"metadata": {"annotations": {"tenantc.io/source": "elsewhere"}}}),
         True, "ServiceAccount"),
    Case("rolebinding subject added", edit("RoleBinding", lambda o: o["subjects"].append(
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "new@example.com"})), True, "RoleBinding"),
    Case("limitrange changed", edit("LimitRange", lambda o: o["spec"]["limits"][0]["default"].update(cpu="3")),
         True, "LimitRange"),
    Case("queue weight changed live", live_patch("Queue", {"spec": {"weight": 5}}), True, "Queue"),
    Case("service account token mount flipped live", live_patch("ServiceAccount",
                                                                {"automountServiceAccountToken": True}),
         True, "ServiceAccount"),
    Case("quota key dropped from the spec", edit("ResourceQuota", lambda o: o["spec"]["hard"].pop("pods")),
         True, "ResourceQuota"),
    Case("unrelated label added by another manager",
         live_patch("ConfigMap", {"metadata": {"labels": {"team": "ml"}}}), False),
    Case("quantity spelled differently in rendered/",
         edit("ResourceQuota", lambda o: o["spec"]["hard"].update({"requests.memory": "32768Mi"})), False),
]


def kubectl_sees_difference(kubectl, plane, folder) -> bool:
    result = kubectl("diff", "--server-side", "--field-manager=tenantc", "--force-conflicts", "-R", "-f",
                     str(folder), kubeconfig=plane.kubeconfig_path, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tenantc_diff_agrees_with_kubectl_diff(case, control_plane, kube, kubectl, tmp_path):
    slug = f"o{CASES.index(case)}"
    cluster, namespace = unique(slug), unique(slug)
    tgt = target(cluster, control_plane)
    desired = tenant_objects(namespace, cluster)
    assert apply(kube(), tgt, desired, force_conflicts=True).ok
    changed = case.change(kube(), copy.deepcopy(desired))

    ours = change_set(kube(), tgt, changed)
    assert ours.errors == []
    theirs = kubectl_sees_difference(kubectl, control_plane, write_tree(changed, tmp_path / "rendered"))
    assert (bool(ours.changes), theirs) == (case.differs, case.differs)
    if case.differs:
        assert case.kind in {c.desired["kind"] for c in ours.changes}
