"""The guardrails on the real API server (kube-apiserver 1.37 enforces ValidatingAdmissionPolicy
v1 for real; its status controller in kube-controller-manager type-checks the CEL).

Every case acts as an impersonated tenant member (`kubectl --as --as-group`, kubectl being the
outside oracle) after the rendered namespaces, RBAC, parameters and policies were applied.
References: Kubernetes docs, "Validating Admission Policy" (paramRef without namespace reads
per-namespace parameters; parameterNotFoundAction; type checking in status.typeChecking) and
"Common Expression Language in Kubernetes" (the strings, lists, quantity and authorizer
libraries used here).
"""
from __future__ import annotations

import json

import pytest
import yaml
from guardrail_cases import (
    CASES,
    MEMBER_GROUPS,
    MEMBER_USER,
    POD_GROUP_WRITER,
    POD_SECURITY,
    case_ids,
    deployment,
    pod,
)
from guardrail_support import compile_variant

pytestmark = pytest.mark.cluster

DENIED = "denied request: "


def as_member(tenant: str) -> list[str]:
    return [f"--as={MEMBER_USER}", f"--as-group={MEMBER_GROUPS[tenant]}", "--as-group=system:authenticated"]


def identity_for(case) -> list[str]:
    """A member of the case's tenant; for PodGroups, which members may not write, a subject
    bound to the built-in edit role in that namespace."""
    if case.obj["kind"] == "PodGroup":
        return [f"--as={POD_GROUP_WRITER}", "--as-group=system:authenticated"]
    return as_member(case.tenant)


def dry_run_create(kubectl, obj: dict, *identity: str):
    return kubectl(*identity, "create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(obj), check=False)


def denial(stderr: str) -> str | None:
    """The guardrail message of a kubectl error (after 'denied request: '), or None."""
    for line in stderr.splitlines():
        if DENIED in line:
            return line.split(DENIED, 1)[1].strip()
    return None


@pytest.fixture(scope="module")
def gpu_east(example, guarded):
    guarded.install(example, "gpu-east")
    return example


def test_rendered_policies_type_check_clean(gpu_east, kubectl, eventually):
    """The status controller type-checks each policy against the kinds it matches (built-in
    schemas and the Volcano/Fluid CRDs): every warning there is a rule that would misfire."""
    names = sorted(o["metadata"]["name"] for p, o in gpu_east.objects.items()
                   if p.startswith("gpu-east/_platform/") and o["kind"] == "ValidatingAdmissionPolicy")

    def checked():
        policies = json.loads(kubectl("get", "validatingadmissionpolicies", "-o", "json").stdout)["items"]
        done = {p["metadata"]["name"]: p for p in policies
                if (p.get("status") or {}).get("observedGeneration") == p["metadata"]["generation"]}
        assert set(names) <= set(done), f"not yet checked: {sorted(set(names) - set(done))}"
        return done

    done = eventually(checked, timeout=60, what="policies type-checked")
    warnings = {n: done[n]["status"].get("typeChecking", {}).get("expressionWarnings") for n in names}
    assert not any(warnings.values()), json.dumps(warnings, indent=1)


def test_a_cel_expression_that_does_not_compile_is_caught(gpu_east, kubectl, eventually):
    rendered = gpu_east.objects["gpu-east/_platform/validatingadmissionpolicy-tenantc-pods.yaml"]
    policy = yaml.safe_load(yaml.safe_dump(rendered))
    policy["metadata"] = {"name": "guardrail-tests-broken"}
    # The type checker follows `object` into the schemas (variables it treats as dyn).
    policy["spec"]["validations"][0]["expression"] += " && object.spec.containers.all(c, c.noSuchField == 'x')"
    kubectl("apply", "-f", "-", input=yaml.safe_dump(policy))
    try:
        def warned():
            status = json.loads(kubectl("get", "validatingadmissionpolicy", "guardrail-tests-broken", "-o",
                                        "json").stdout)
            return (status.get("status") or {}).get("typeChecking", {}).get("expressionWarnings")

        warnings = eventually(warned, timeout=60, what="type-check warning")
        assert warnings[0]["fieldRef"] == "spec.validations[0].expression"
        assert "undefined field 'noSuchField'" in warnings[0]["warning"]
    finally:
        kubectl("delete", "validatingadmissionpolicy", "guardrail-tests-broken", "--ignore-not-found")
    # A syntax error is refused outright (the API server compiles every expression on write).
    policy["spec"]["validations"][0]["expression"] = "variables.specs.all(s, "
    refused = kubectl("apply", "-f", "-", input=yaml.safe_dump(policy), check=False)
    assert refused.returncode != 0 and "compilation failed" in refused.stderr


@pytest.mark.parametrize("case", CASES, ids=case_ids())
def test_denial_matrix(gpu_east, kubectl, case):
    """Each rule: the violating object is rejected with the table's message, the closest
    allowed one admitted, as a member of the tenant."""
    result = dry_run_create(kubectl, case.obj, *identity_for(case))
    if case.by == POD_SECURITY:
        assert result.returncode != 0 and 'violates PodSecurity "baseline:latest"' in result.stderr, result.stderr
        return
    if case.message is None:
        assert result.returncode == 0, result.stderr
        assert denial(result.stderr) is None
    else:
        assert result.returncode != 0
        assert denial(result.stderr) == case.message, result.stderr


def test_the_parameters_are_the_platforms(gpu_east, kubectl):
    patch = json.dumps({"data": {"registries": "docker.io/"}})
    member = kubectl(*as_member("vision"), "patch", "configmap", "tenantc-guardrails", "-n", "vision", "--type=merge",
                     "-p", patch, "--dry-run=server", check=False)
    assert denial(member.stderr) == ("parameters: tenant vision: ConfigMap tenantc-guardrails holds the tenant's "
                                     "guardrail parameters; only the platform changes it (from the tenant's spec, "
                                     "with tenantc)")
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "vision"},
             "data": {"registries": "docker.io/"}}
    assert dry_run_create(kubectl, other, *as_member("vision")).returncode == 0
    admin = kubectl("patch", "configmap", "tenantc-guardrails", "-n", "vision", "--type=merge", "-p", patch,
                    "--dry-run=server", check=False)
    assert admin.returncode == 0, admin.stderr
    deleted = kubectl(*as_member("vision"), "delete", "configmap", "tenantc-guardrails", "-n", "vision",
                      "--dry-run=server", check=False)
    assert denial(deleted.stderr) is not None


def test_pods_a_controller_creates_pass_the_same_guardrails(gpu_east, guarded, kubectl, eventually):
    """A Deployment's pods are created by the replicaset controller, not the member: admitted
    when they comply, refused (ReplicaFailure on the ReplicaSet) once the tenant's parameters
    stop allowing their registry. The Deployment itself is not updated, so nothing else stops it."""
    name = "guard-web"
    web = deployment("vision", name, "registry.example.com/ml/vision/web:1")
    kubectl(*as_member("vision"), "create", "-f", "-", input=yaml.safe_dump(web))
    try:
        def pods(count: int):
            listed = kubectl("get", "pods", "-n", "vision", "-l", f"app={name}", "-o", "json").stdout
            items = json.loads(listed)["items"]
            return items if len(items) >= count else None

        (created,) = eventually(lambda: pods(1), timeout=60, what="the replicaset controller's pod")
        assert created["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        # The platform narrows the tenant's registries (what a compile of a changed platform file does).
        params = gpu_east.objects["gpu-east/vision/configmap-tenantc-guardrails.yaml"]
        narrowed = yaml.safe_load(yaml.safe_dump(params))
        narrowed["data"]["registries"] = "registry.example.com/platform/"
        guarded.apply([narrowed])
        kubectl(*as_member("vision"), "scale", "deployment", name, "-n", "vision", "--replicas=2")
        want = ("registries: tenant vision: images must come from registry.example.com/platform/; "
                "got registry.example.com/ml/vision/web:1")

        def refused():
            sets = json.loads(kubectl("get", "replicasets", "-n", "vision", "-l", f"app={name}", "-o", "json").stdout)
            conditions = [c for rs in sets["items"] for c in (rs.get("status") or {}).get("conditions") or []]
            failure = [c for c in conditions if c["type"] == "ReplicaFailure" and c["status"] == "True"]
            assert failure, conditions
            return failure[0]

        condition = eventually(refused, timeout=60, what="ReplicaFailure on the ReplicaSet")
        assert condition["reason"] == "FailedCreate"
        assert want in condition["message"]
        events = kubectl("get", "events", "-n", "vision", "--field-selector", "reason=FailedCreate",
                         "-o", "json").stdout
        assert want in events
        assert len(pods(1)) == 1  # the second pod never came
    finally:
        guarded.apply([gpu_east.objects["gpu-east/vision/configmap-tenantc-guardrails.yaml"]])
        kubectl("delete", "deployment", name, "-n", "vision", "--ignore-not-found")


def _apply_dry_run(kubectl, objects: list[dict], *identity: str):
    return kubectl(*identity, "apply", "--server-side", "--field-manager=tenantc", "--force-conflicts",
                   "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(objects), check=False)


@pytest.mark.parametrize("cluster", ["gpu-east", "cpu-west"])
def test_every_rendered_object_passes_the_guardrails(example, guarded, kubectl, cluster):
    """Server-side dry-run of every object tenantc renders for the cluster's tenants: first as
    the tenant's member (what RBAC lets them create), then everything as the admin. The
    guardrails judge both identities alike; none may deny."""
    guarded.install(example, cluster)
    tenants = sorted({p.split("/")[1] for p in example.objects if p.startswith(f"{cluster}/")} - {"_platform"})
    as_member_ok, denied = 0, []
    for tenant in tenants:
        objects = [o for p, o in sorted(example.objects.items()) if p.startswith(f"{cluster}/{tenant}/")
                   and o["kind"] != "Namespace" and o["metadata"].get("namespace")
                   and not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == "tenantc-guardrails")]
        group = MEMBER_GROUPS.get(tenant)
        if group:
            member = _apply_dry_run(kubectl, objects, *as_member(tenant))
            as_member_ok += member.stdout.count("(server dry run)")
            denied += [line for line in member.stderr.splitlines() if DENIED in line]
            assert all("cannot" in line or DENIED in line for line in member.stderr.splitlines() if "Error" in line)
        admin = _apply_dry_run(kubectl, objects)
        denied += [line for line in admin.stderr.splitlines() if DENIED in line]
        assert admin.returncode == 0 or denied, admin.stderr
    assert not denied, "\n".join(denied)
    assert as_member_ok > 20, "members create most of what tenantc renders for them"


def test_host_access_where_the_level_allows_it(tmp_path_factory, guarded, kubectl):
    """With Pod Security `privileged`, the guardrail itself refuses what the platform forbids."""
    variant = compile_variant(tmp_path_factory.mktemp("privileged"),
                              lambda p: p["defaults"].update(podSecurity="privileged"))
    guarded.install(variant, "gpu-east")
    member = as_member("vision")
    cases = [
        (pod("vision", "h1", hostNetwork=True), "pods must not use hostNetwork (the platform forbids it)"),
        (pod("vision", "h2", hostPID=True), "pods must not use hostPID (the platform forbids it)"),
        (pod("vision", "h3", volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
         "pods must not use hostPath volumes (the platform forbids it)"),
        (pod("vision", "h4", containers=[{"name": "c", "image": "registry.example.com/ml/x:1",
                                          "securityContext": {"privileged": True}}]),
         "pods must not use privileged containers (the platform forbids it)"),
        (pod("vision", "h5"), None),
    ]
    for obj, message in cases:
        result = dry_run_create(kubectl, obj, *member)
        if message is None:
            assert result.returncode == 0, result.stderr
        else:
            assert denial(result.stderr) == f"host-access: tenant vision: {message}", result.stderr
    labels = json.loads(kubectl("get", "namespace", "vision", "-o", "json").stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
