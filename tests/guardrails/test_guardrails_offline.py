"""The guardrails without a cluster: the rule functions, the Python twin of every policy on the
shared case table, every rendered example object passing, and bad input (exit 2, nothing
written). The same table runs on the real API server in test_guardrails_admission.py."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from guardrail_cases import CASES, POD_SECURITY, case_ids
from guardrail_support import compile_variant

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import compile_cli, copy_repo, replace_once, snapshot  # noqa: E402

from compiler.guardrails import host_allowed, image_allowed, registry_prefix  # noqa: E402
from compiler.guardrails.cel import SHAPES, Admission, evaluate, shape_of, validations  # noqa: E402
from compiler.guardrails.rules import RULES, RegistryError, TenantParams  # noqa: E402
from compiler.model.platform import Platform  # noqa: E402

# -- the rule functions ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry, prefix", [
    ("registry.example.com", "registry.example.com/"),
    ("registry.example.com/ml", "registry.example.com/ml/"),
    ("registry.example.com/ml/", "registry.example.com/ml/"),
    ("localhost:5000/team", "localhost:5000/team/"),
])
def test_registry_entries_become_prefixes_ending_at_a_path_boundary(entry, prefix):
    assert registry_prefix(entry) == prefix


@pytest.mark.parametrize("entry", ["registry.example.com/ml/*", "https://registry.example.com/", "*.example.com",
                                   "registry.example.com/ml:1.0", "registry.example.com/ml@sha256:ab", "",
                                   "registry example.com"])
def test_registry_entries_that_are_not_prefixes_are_refused(entry):
    with pytest.raises(RegistryError):
        registry_prefix(entry)


@pytest.mark.parametrize("image, allowed", [
    ("registry.example.com/x:1", True),
    ("registry.example.com.evil/x:1", False),  # the bug of the old startswith() check
    ("registry.example.com:5000/x:1", False),  # another registry (port)
    ("registry.example.comx/y", False),
    ("docker.io/registry.example.com/x", False),
])
def test_image_match_ends_at_a_path_boundary(image, allowed):
    assert image_allowed(image, [registry_prefix("registry.example.com")]) is allowed


def test_compile_time_check_has_the_same_boundary():
    """compiler/model/platform.py's image_allowed used image.startswith(entry): fixed."""
    platform = Platform.model_validate({
        "name": "p", "owners": ["o@example.com"], "allowedRegistries": ["registry.example.com"],
        "clusters": [{"name": "c", "kubernetesVersion": "1.37", "context": "c", "capacity": {"cpu": "1"}}]})
    assert platform.image_allowed("registry.example.com/ml/x:1")
    assert not platform.image_allowed("registry.example.com.evil/x:1")
    assert not platform.image_allowed("registry.example.com:5000/x:1")


@pytest.mark.parametrize("host, ok", [
    ("mei.vision.notebooks.example.com", True),
    ("vision.notebooks.example.com", False),  # the wildcard stands for exactly one label
    ("a.b.vision.notebooks.example.com", False),
    ("mei.vision.notebooks.example.com.evil", False),
    ("*.vision.notebooks.example.com", True),  # the pattern itself
])
def test_host_patterns_match_one_leading_label(host, ok):
    assert host_allowed(host, ["*.vision.notebooks.example.com"]) is ok


def test_rule_ids_are_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "guardrails.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in text, f"docs/guardrails.md does not describe rule {rule}"


# -- the Python twin on the shared table ----------------------------------------------------------

def _twin(example, case) -> str | None:
    guardrails = example.plan.guardrails
    params = guardrails.params[(case.tenant, "gpu-east")]
    messages = evaluate(case.obj, params, guardrails.facts["gpu-east"], case.operation, case.tenant)
    return messages[0] if messages else None


@pytest.mark.parametrize("case", CASES, ids=case_ids())
def test_python_twin_gives_the_table_verdict(example, case):
    """What the compiler believes each policy does; the admission test holds the API server to
    the same messages."""
    expected = None if case.by == POD_SECURITY else case.message
    assert _twin(example, case) == expected


def test_every_rule_has_a_rejected_and_an_admitted_case():
    for rule in RULES:
        if rule == "parameters":
            continue  # an update of the ConfigMap itself: test_guardrails_admission.py
        verdicts = {c.message is None for c in CASES if c.rule == rule}
        assert verdicts == {True, False} or rule == "host-access", rule


def test_parameters_rule_lets_only_guardrail_managers_change_the_configmap(example):
    guardrails = example.plan.guardrails
    facts = guardrails.facts["gpu-east"]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tenantc-guardrails", "namespace": "vision"},
          "data": {"registries": "docker.io/"}}
    (check,) = [v.check for v in validations(shape_of(cm), facts)]
    assert check(Admission(cm, "UPDATE", "vision", may_manage_guardrails=True)) is None
    denied = check(Admission(cm, "UPDATE", "vision"))
    assert denied is not None and denied.startswith("parameters: tenant vision: ConfigMap tenantc-guardrails")
    assert check(Admission(cm, "DELETE", "vision", namespace_terminating=True)) is None


def test_every_rendered_object_passes_its_tenants_guardrails(example):
    """Offline twin of the server-side dry-run in test_guardrails_admission.py, on both clusters."""
    guardrails = example.plan.guardrails
    checked, failures = 0, []
    for path, obj in example.objects.items():
        cluster, folder, _ = path.split("/") if path.count("/") == 2 else ("", "", "")
        if not cluster or folder.startswith("_") or shape_of(obj) is None:
            continue
        params = guardrails.params[(folder, cluster)]
        operation = "UPDATE" if obj["kind"] == "ConfigMap" else "CREATE"
        messages = evaluate(obj, params, guardrails.facts[cluster], operation, folder, may_manage_guardrails=True)
        checked += 1
        failures += [f"{path}: {m}" for m in messages]
    assert not failures, "\n".join(failures)
    assert checked > 40


def test_params_configmap_round_trips(example):
    params = example.plan.guardrails.params[("recsys", "cpu-west")]
    assert TenantParams.from_data(params.data()) == params
    assert params.get("gpuPools") == ("gpu-a10",)
    assert params.get("queues") == ("recsys-default",)  # recsys has projects: its own leaf queue
    assert "dataset://quant-research/market-data" in params.get("datasetMounts")
    assert params.get("priorityClasses") == ("batch-low", "training-normal", "production-high")
    vision = example.plan.guardrails.params[("vision", "gpu-east")]
    assert vision.get("priorityClasses") == ("batch-low", "training-normal")


def test_policies_are_rendered_per_cluster_and_only_for_shapes_with_rules(example):
    names = {p for p in example.objects if "/_platform/validatingadmissionpolicy-" in p}
    assert {p.split("/")[0] for p in names} == {"gpu-east", "cpu-west"}
    assert len(names) == 2 * len(SHAPES)
    pods = example.objects["gpu-east/_platform/validatingadmissionpolicy-tenantc-pods.yaml"]["spec"]
    assert {v["messageExpression"].split(":")[0].strip("\"'") for v in pods["validations"]} >= {"registries"}
    binding = example.objects["gpu-east/_platform/validatingadmissionpolicybinding-tenantc-pods.yaml"]["spec"]
    assert binding["paramRef"] == {"name": "tenantc-guardrails", "parameterNotFoundAction": "Deny"}
    assert binding["validationActions"] == ["Deny"]


def test_host_access_rule_renders_only_what_the_level_allows(tmp_path):
    result = compile_variant(tmp_path, lambda p: p["defaults"].update(podSecurity="privileged"))
    facts = result.plan.guardrails.facts["gpu-east"]
    assert facts.host_features == ("privileged", "hostPath", "hostNetwork", "hostPID")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h", "namespace": "vision"},
           "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "registry.example.com/ml/x:1"}]}}
    params = result.plan.guardrails.params[("vision", "gpu-east")]
    assert evaluate(pod, params, facts) == [
        "host-access: tenant vision: pods must not use hostNetwork (the platform forbids it)"]


# -- bad input: exit 2, file + field + hint, nothing written ---------------------------------------

BAD_INPUT = [
    ("allowedRegistries: [registry.example.com/ml/, registry.example.com/platform/]",
     "allowedRegistries: [registry.example.com/ml/*, registry.example.com/platform/]",
     "tenants/platform.yaml: allowedRegistries[0]: 'registry.example.com/ml/*' is not a registry prefix"),
    ("    production-high: [production]   # only tenants under the production queue",
     "    production-high: [nobody]",
     "tenants/platform.yaml: guardrails.priorityClasses.production-high[0]: 'nobody' is neither a tenant nor a "
     "platform queue"),
    ("  priorityClasses:\n    production-high: [production]",
     "  ingressHosts: ['app-*.{tenant}.example.com']\n  priorityClasses:\n    production-high: [production]",
     "tenants/platform.yaml: guardrails.ingressHosts[0]: 'app-*.tenant.example.com' is not a host"),
    ('    kubernetesVersion: "1.36"', '    kubernetesVersion: "1.29"',
     "tenants/platform.yaml: clusters[1].kubernetesVersion: guardrails need Kubernetes 1.30 or later"),
    ("  priorityClasses:\n    production-high: [production]",
     "  ingressHosts: ['*.{tenant}.apps.example.com']\n  priorityClasses:\n    production-high: [production]",
     "tenants/vision.yaml: notebooks[0].ingress: host mei.vision.notebooks.example.com does not match the "
     "guardrails' ingress hosts (*.vision.apps.example.com)"),
    ("        taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}]\n        cacheCapacity: {MEM: 2Ti",
     "        cacheCapacity: {MEM: 2Ti",
     "tenants/platform.yaml: clusters[0].nodePools[1].taints: GPU pool gpu-a100 has no taint"),
]


@pytest.mark.parametrize("old, new, expected", BAD_INPUT, ids=["registry-wildcard", "unknown-grantee",
                                                               "inner-host-wildcard", "notebook-host",
                                                               "old-cluster",
                                                               "untainted-gpu-pool"])
def test_inexpressible_rules_are_exit_2_with_file_field_and_hint(tmp_path, old, new, expected):
    root = copy_repo(tmp_path / "repo")
    assert compile_cli(root).returncode == 0
    before = snapshot(root / "rendered")
    replace_once(root / "tenants" / "platform.yaml", old, new)
    result = compile_cli(root)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(expected in line for line in lines), lines
    assert all("(" in line and line.endswith(")") for line in lines if expected in line), "a hint in parentheses"
    assert snapshot(root / "rendered") == before, "nothing rendered half"


def test_a_job_with_a_priority_class_the_tenant_may_not_use_is_exit_2(tmp_path):
    root = copy_repo(tmp_path / "repo")
    replace_once(root / "tenants" / "vision.yaml", "priorityClass: training-normal", "priorityClass: production-high")
    result = compile_cli(root)
    assert result.returncode == 2
    assert ("tenants/vision.yaml: jobs[0].priorityClass: the platform's guardrails do not allow priority class "
            "'production-high' for tenant vision (use one of: batch-low, training-normal") in result.stderr


def test_platform_without_guardrails_renders_none(tmp_path):
    result = compile_variant(tmp_path, lambda p: p.pop("guardrails"))
    assert result.plan.guardrails is None
    assert not [p for p in result.objects if "validatingadmission" in p or "tenantc-guardrails" in p]


def test_rendered_policy_yaml_is_plain(example):
    """What reviewers read in rendered/: CEL stays one expression per field."""
    policy = example.objects["gpu-east/_platform/validatingadmissionpolicy-tenantc-ingresses.yaml"]
    text = yaml.safe_dump(policy)
    assert "messageExpression" in text and "failurePolicy: Fail" in text
