"""`--kubeconfig`: a lowered quota compared with what the tenant uses now on a real API server
(the local control plane: quota admission and the quota controller fill status.used)."""
from __future__ import annotations

import time

import pytest
import yaml

from compiler.cli import main
from compiler.review import review

pytestmark = pytest.mark.cluster

TENANT = "review-live"
NAMESPACE_OBJECTS = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {TENANT}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {{name: tenant-quota, namespace: {TENANT}}}
spec: {{hard: {{requests.cpu: "8", pods: "20"}}}}
"""


def pod(i: int) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: busy-{i}, namespace: {TENANT}}}
spec:
  automountServiceAccountToken: false
  containers:
    - {{name: main, image: registry.example.com/ml/busy:1, resources: {{requests: {{cpu: "1"}}, limits: {{cpu: "1"}}}}}}
"""


def eventually(check, timeout: float = 180.0):
    """Generous: after earlier tests restart the API server, the controller manager's informers
    may back off for a while before the quota controller catches up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def busy_tenant(kubectl):
    """Three pods of one CPU each in the tenant's namespace: status.used says requests.cpu 3."""
    eventually(lambda: kubectl("apply", "-f", "-", input=NAMESPACE_OBJECTS))  # a previous run's may be terminating
    for i in range(3):  # refused until the controllers made the default account and synced the quota
        eventually(lambda i=i: kubectl("apply", "-f", "-", input=pod(i)))

    def used() -> str:
        value = kubectl("get", "resourcequota", "tenant-quota", "-n", TENANT,
                        "-o", "jsonpath={.status.used.requests\\.cpu}").stdout
        assert value == "3", value
        return value

    eventually(used)
    yield
    kubectl("delete", "namespace", TENANT, "--wait=false", check=False)


@pytest.fixture
def kubeconfig_for_platform(control_plane, tmp_path):
    """The control plane's kubeconfig with its context renamed to the platform's gpu-east context."""
    config = yaml.safe_load(open(control_plane.kubeconfig_path))
    for context in config["contexts"]:
        context["name"] = "gpu-east"
    config["current-context"] = "gpu-east"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def add_tenant(repo, cpu: str) -> None:
    repo.write(f"tenants/{TENANT}.yaml", f"""\
name: {TENANT}
displayName: Review live test
owner: live@example.com
members: [{{user: live@example.com, role: admin}}]
quota: {{cpu: "{cpu}", pods: 20}}
placement: {{gpu-east: {{weight: 1}}}}
""")


def test_quota_lowered_below_what_the_tenant_uses_now(spec_repo, crds, busy_tenant, kubeconfig_for_platform, capsys):
    add_tenant(spec_repo, "8")
    spec_repo.commit("a tenant that runs three one-CPU pods")
    add_tenant(spec_repo, "2")
    r = review(spec_repo.root, "main", crds=crds, kubeconfig=kubeconfig_for_platform)
    [below] = [x for x in r.risks if x.rule == "quota-below-usage"]
    assert below.key.namespace == TENANT and below.severity == "danger"
    assert "requests.cpu: 3 in use now, new limit 2" in below.reason
    assert not [w for w in r.warnings if "live usage" in w]  # the cluster answered

    add_tenant(spec_repo, "4")  # lowered, but still above what is used
    r = review(spec_repo.root, "main", crds=crds, kubeconfig=kubeconfig_for_platform)
    assert [x.rule for x in r.risks if x.tenant == TENANT] == ["quota-lowered"]

    add_tenant(spec_repo, "2")
    code = main(["review", "--root", str(spec_repo.root), "--base", "main", "--kubeconfig",
                 str(kubeconfig_for_platform), "--format", "github"])
    out = capsys.readouterr().out
    assert code == 0 and "::error file=tenants/review-live.yaml,title=quota-below-usage" in out


def test_an_unknown_context_is_a_warning_not_a_failure(spec_repo, crds, control_plane):
    add_tenant(spec_repo, "8")
    spec_repo.commit("tenant")
    add_tenant(spec_repo, "2")
    r = review(spec_repo.root, "main", crds=crds, kubeconfig=control_plane.kubeconfig_path)  # no gpu-east context
    assert [x.rule for x in r.risks if x.tenant == TENANT] == ["quota-lowered"]
    assert any(w.startswith("live usage on cluster gpu-east not checked") for w in r.warnings)
