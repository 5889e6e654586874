"""RBAC isolation between tenant namespaces, with kubectl as the outside oracle.

The ServiceAccount authenticates with a TokenRequest token (no client certificate), so
the API server's token authenticator, RBAC authorizer and the controller manager's
aggregation of the built-in `edit`/`view` ClusterRoles are all exercised for real.
"""
from __future__ import annotations

import json

import pytest

from compiler.cluster import build_kubeconfig, token_user, write_kubeconfig

pytestmark = pytest.mark.cluster


def _bind(kubectl, namespace: str, cluster_role: str, subject: str) -> None:
    kubectl("create", "rolebinding", f"{cluster_role}-binding", "-n", namespace,
            f"--clusterrole={cluster_role}", subject)


def _audit_events(path: str, username: str) -> list[dict]:
    with open(path) as fh:
        events = [json.loads(line) for line in fh if username in line]
    return [e for e in events if e["user"]["username"] == username]


def test_service_account_is_confined_to_its_namespace(control_plane, kubectl, make_namespace,
                                                      eventually, tmp_path):
    team_a, team_b = make_namespace("team-a"), make_namespace("team-b")
    kubectl("create", "serviceaccount", "builder", "-n", team_a)
    _bind(kubectl, team_a, "edit", f"--serviceaccount={team_a}:builder")
    token = kubectl("create", "token", "builder", "-n", team_a, "--duration=10m").stdout.strip()
    as_sa = str(write_kubeconfig(tmp_path / "builder.kubeconfig", build_kubeconfig(
        control_plane.name, control_plane.server, control_plane.pki.ca, token_user(token),
        user_name="builder")))

    # `edit` gets its rules from the clusterrole-aggregation controller: allow it to catch up.
    eventually(lambda: kubectl("get", "pods", "-n", team_a, kubeconfig=as_sa, check=False).returncode == 0,
               timeout=30, what="builder may list pods in its namespace")
    assert kubectl("auth", "can-i", "create", "deployments", "-n", team_a, kubeconfig=as_sa).stdout.strip() == "yes"

    for resource in ("pods", "secrets"):
        denied = kubectl("get", resource, "-n", team_b, kubeconfig=as_sa, check=False)
        assert denied.returncode != 0
        assert "Forbidden" in denied.stderr
        assert f'cannot list resource "{resource}"' in denied.stderr
        assert f"system:serviceaccount:{team_a}:builder" in denied.stderr

    # The audit log (Metadata level) shows what the ServiceAccount did and what was refused.
    username = f"system:serviceaccount:{team_a}:builder"

    def audited():
        events = _audit_events(control_plane.audit_log_path, username)
        decisions = {(e["verb"], e.get("objectRef", {}).get("resource"), e.get("objectRef", {}).get("namespace"),
                      e.get("annotations", {}).get("authorization.k8s.io/decision")) for e in events}
        assert ("list", "pods", team_a, "allow") in decisions, decisions
        assert ("list", "secrets", team_b, "forbid") in decisions, decisions
        return True

    eventually(audited, timeout=10)


def test_view_binding_cannot_create(kubectl, make_namespace, eventually):
    team_a = make_namespace("team-a")
    _bind(kubectl, team_a, "view", "--user=alice")

    def can_i(verb: str, resource: str, namespace: str) -> str:
        return kubectl("auth", "can-i", verb, resource, "--as", "alice", "-n", namespace, check=False).stdout.strip()

    eventually(lambda: can_i("list", "pods", team_a) == "yes", timeout=30, what="alice may list pods")
    assert can_i("create", "deployments", team_a) == "no"
    assert can_i("list", "pods", "default") == "no"
