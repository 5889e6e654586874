"""Fixtures of the guardrail tests: the example compiled once, and (cluster tests) an installer
that puts one cluster's rendered guardrails and tenancy onto the session's API server.

The session cluster is shared with other suites, so `guarded` removes the policies and
bindings again at the end of the guardrail module, and the namespaces it applies
are the examples' own (which tests/cluster/test_rendered_accepted.py creates too, identically).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py

from helpers import copy_repo, crd_dirs  # noqa: E402
from helpers import eventually as poll  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # guardrail_cases.py
from guardrail_cases import POD_GROUP_WRITER  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIELD_MANAGER = "tenantc"


@pytest.fixture(scope="session")
def example(tmp_path_factory):
    """The example repository compiled in memory (no cache written into the checkout)."""
    from compiler.pipeline import compile_repo

    root = copy_repo(tmp_path_factory.mktemp("guard-example") / "repo")
    return compile_repo(root, crd_dirs(), serialize=False)


# Grants an installation of Volcano and Fluid gives the built-in roles (aggregated into `edit`).
# Members are bound to tenantc's own member ClusterRoles (rendered under _platform/, installed
# below); this keeps subjects bound to the built-in roles able to create these kinds too.
MEMBER_CRD_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "guardrail-tests-volcano-fluid-edit",
                 "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true",
                            "rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
    "rules": [
        {"apiGroups": ["batch.volcano.sh"], "resources": ["jobs", "cronjobs"], "verbs": ["*"]},
        {"apiGroups": ["flow.volcano.sh"], "resources": ["jobtemplates", "jobflows"], "verbs": ["*"]},
        {"apiGroups": ["scheduling.volcano.sh"], "resources": ["podgroups"], "verbs": ["*"]},
        {"apiGroups": ["data.fluid.io"], "resources": ["datasets", "dataloads", "alluxioruntimes", "jindoruntimes",
                                                      "juicefsruntimes", "thinruntimes"], "verbs": ["*"]},
    ],
}
PRIORITY_CLASSES = ("batch-low", "training-normal", "production-high")
TENANCY_KINDS = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap")


class Guarded:
    """Installs one cluster's guardrails (policies, bindings) and its tenants' namespaces,
    RBAC and parameters, from a compile result; re-installs only when asked for another."""

    def __init__(self, kubectl):
        self.kubectl = kubectl
        self.installed: tuple[int, str] | None = None

    def apply(self, objects: list[dict]) -> None:
        self.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-",
                     input=yaml.safe_dump_all(objects))

    def install(self, result, cluster: str) -> None:
        if self.installed == (id(result), cluster):
            return
        # Policies are updated in place, never deleted and re-created in between: once no binding
        # names the ConfigMap paramKind, kube-apiserver stops that parameter informer for good and
        # re-created bindings read its frozen store (kubernetes/kubernetes#130887, #133827; seen
        # here on 1.37.2; docs/guardrails.md, "Operating").
        objects = {p: o for p, o in result.objects.items() if p.startswith(f"{cluster}/")}
        tenancy = [o for p, o in sorted(objects.items()) if "/_platform/" not in p and o["kind"] in TENANCY_KINDS]
        namespaces = [o for o in tenancy if o["kind"] == "Namespace"]
        member_roles = [o for p, o in sorted(objects.items()) if "/_platform/" in p and o["kind"] == "ClusterRole"]
        self.apply(namespaces + member_roles + [MEMBER_CRD_ROLE] + [
            {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": n}, "value": 1000 + i}
            for i, n in enumerate(PRIORITY_CLASSES)])
        self.apply([o for o in tenancy if o["kind"] != "Namespace"] + [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "guardrail-tests-edit", "namespace": ns["metadata"]["name"]},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": POD_GROUP_WRITER}]}
            for ns in namespaces])
        self.apply([o for p, o in sorted(objects.items()) if "/_platform/" in p and o["kind"].startswith("Validating")])
        self.installed = (id(result), cluster)
        self.wait_enforced(namespaces[0]["metadata"]["name"])
        self.wait_aggregated(namespaces[0]["metadata"]["name"])

    def wait_aggregated(self, namespace: str, timeout: float = 60) -> None:
        """The clusterrole-aggregation controller copies MEMBER_CRD_ROLE's rules into `edit` in
        its own time: wait until the API server's RBAC lets POD_GROUP_WRITER create PodGroups
        (a PodGroup case run before that was refused by RBAC, not by a guardrail)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.kubectl("auth", "can-i", "create", "podgroups.scheduling.volcano.sh", "-n", namespace,
                                  "--as", POD_GROUP_WRITER, check=False)
            if result.returncode == 0 and result.stdout.strip() == "yes":
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{POD_GROUP_WRITER} still cannot create PodGroups after {timeout}s")
            time.sleep(0.5)

    def wait_enforced(self, namespace: str, timeout: float = 60) -> None:
        """The admission plugin picks policies and bindings up from informers: wait until a
        known-bad pod is denied."""
        probe = yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "probe", "namespace": namespace},
                                "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:1"}]}})
        deadline = time.monotonic() + timeout
        while True:
            result = self.kubectl("create", "--dry-run=server", "-f", "-", input=probe, check=False)
            if result.returncode != 0 and "denied request" in result.stderr:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"guardrails not enforced after {timeout}s: {result.stderr or result.stdout}")
            time.sleep(0.5)

    def remove(self) -> None:
        if self.installed is None:
            return
        self.kubectl("delete", "validatingadmissionpolicybindings,validatingadmissionpolicies", "-l",
                     "app.kubernetes.io/managed-by=tenantc", "--ignore-not-found", "--wait=true")
        self.installed = None


@pytest.fixture(scope="module")
def guarded(kubectl):
    """`guarded.install(compile_result, "gpu-east")`; the policies go away after the module, before
    other suites (tests/live) use the session cluster with specs that have no guardrails."""
    guard = Guarded(kubectl)
    yield guard
    guard.remove()
    kubectl("delete", "clusterrole", MEMBER_CRD_ROLE["metadata"]["name"], "--ignore-not-found")


@pytest.fixture
def eventually():
    """`eventually(check, timeout, what)`: retry until `check` returns a truthy value (returned)."""
    return lambda check, timeout=60.0, what="condition": poll(check, timeout, what=what)
