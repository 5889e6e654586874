"""`tenantc review` on changes to the guardrails (compiler/review/risks/guardrails.py)."""
from __future__ import annotations

from review_helpers import approvers, risks_of

REGISTRIES = "allowedRegistries: [registry.example.com/ml/, registry.example.com/platform/]"
PLATFORM_OWNERS = ["dana@example.com", "platform-oncall@example.com"]


def test_a_registry_opened_to_every_tenant_is_loosening(spec_repo, run_review):
    spec_repo.replace("tenants/platform.yaml", REGISTRIES, REGISTRIES.replace("]", ", docker.io/library/]"))
    r = run_review()
    loosened = risks_of(r, "guardrail-loosened")
    assert {(x.key.cluster, x.tenant) for x in loosened} == {
        ("gpu-east", t) for t in ("ads-ranking", "ml-platform", "quant-research", "vision")} | {
        ("cpu-west", t) for t in ("ads-ranking", "ml-platform", "quant-research", "recsys", "sandbox-hackweek",
                                  "sandbox-interns")}
    assert all(x.reason == f"tenant {x.tenant} may now use registry docker.io/library/" for x in loosened)
    assert all(x.severity == "warning" and x.key.ref.short.startswith("ConfigMap ") for x in loosened)
    assert set(PLATFORM_OWNERS) <= set(approvers(r))


def test_a_narrower_registry_is_not_loosening(spec_repo, run_review):
    narrower = REGISTRIES.replace("[", "[registry.example.com/ml/vision/, ")
    spec_repo.replace("tenants/platform.yaml", REGISTRIES, narrower)
    assert not risks_of(run_review(), "guardrail-loosened")


def test_a_production_priority_class_opened_to_a_research_tenant(spec_repo, run_review):
    spec_repo.replace("tenants/platform.yaml", "production-high: [production]", "production-high: [production, vision]")
    r = run_review()
    [loosened] = risks_of(r, "guardrail-loosened")
    assert (loosened.key.cluster, loosened.tenant) == ("gpu-east", "vision")
    assert loosened.reason == "tenant vision may now use priority class production-high"


def test_guardrails_switched_off_are_a_danger(spec_repo, run_review):
    text = spec_repo.path("tenants/platform.yaml").read_text()
    spec_repo.path("tenants/platform.yaml").write_text(text[:text.index("# Guardrails at admission")])
    r = run_review()
    removed = risks_of(r, "guardrail-removed")
    assert {x.key.cluster for x in removed} == {"gpu-east", "cpu-west"}
    assert all(x.severity == "danger" and x.cross_tenant for x in removed)
    assert any(x.reason.startswith("ValidatingAdmissionPolicy tenantc-pods is removed") for x in removed)
    assert not risks_of(r, "guardrail-loosened")  # the parameters go too: that alone denies, it opens nothing


def test_a_rule_dropped_from_a_policy_is_a_danger(spec_repo, run_review):
    # no registries admits every image: refused unless the platform opts in (issue 14)
    spec_repo.replace("tenants/platform.yaml", REGISTRIES, "allowedRegistries: []\npolicy: {allowAnyRegistry: true}")
    r = run_review()
    reasons = {x.reason for x in risks_of(r, "guardrail-removed")}
    assert "rule registries is no longer enforced by tenantc-pods" in reasons


def test_a_new_tenant_is_not_loosening(spec_repo, run_review):
    spec = spec_repo.path("tenants/sandbox-interns.jsonnet").read_text().replace("sandbox-interns", "sandbox-fellows")
    spec_repo.path("tenants/sandbox-fellows.jsonnet").write_text(spec)
    assert not risks_of(run_review(), "guardrail-loosened")
