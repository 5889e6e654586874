"""Guardrails at admission: ValidatingAdmissionPolicies and bindings per cluster (under
_platform/, the same for every tenant) and each tenant's parameters ConfigMap.

The policies come from compiler.guardrails.cel, the parameters from compiler.plan.guardrails;
see the latter for why one binding per policy reads the parameters from the admitted object's
namespace. Policies fail closed (failurePolicy Fail, parameterNotFoundAction Deny) and match
only namespaces tenantc manages (managed-by tenantc with a tenant label), in the policy as
well as in the binding, so no binding can stretch them to other namespaces.
"""
from __future__ import annotations

from compiler.guardrails.cel import SHAPES, Shape, match_conditions, validations, variables
from compiler.guardrails.rules import PARAMS_NAME, ClusterFacts
from compiler.kinds import MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLATFORM_TENANT, TENANT_LABEL
from compiler.render.context import PlatformContext, TenantContext

ADMISSION_API = "admissionregistration.k8s.io/v1"
TENANT_NAMESPACES = {"matchExpressions": [
    {"key": MANAGED_BY_LABEL, "operator": "In", "values": [MANAGED_BY_VALUE]},
    {"key": TENANT_LABEL, "operator": "Exists"},
    {"key": TENANT_LABEL, "operator": "NotIn", "values": [PLATFORM_TENANT]},
]}


def render(ctx: TenantContext) -> list[dict]:
    """The tenant's parameters on this cluster (a ConfigMap in its namespace)."""
    guardrails = ctx.plan.guardrails
    params = guardrails.params.get((ctx.tenant.name, ctx.cluster.name)) if guardrails else None
    if params is None:
        return []
    # A namespace's pods may use its own queue only (the tenant's, its own leaf queue once it
    # has projects, or a project's); every other rule is the tenant's.
    data = {**params.data(), "queues": ctx.queue}
    return [ctx.obj("v1", "ConfigMap", PARAMS_NAME, data=data)]


def render_platform(ctx: PlatformContext) -> list[dict]:
    guardrails = ctx.plan.guardrails
    facts = guardrails.facts.get(ctx.cluster.name) if guardrails else None
    if facts is None:
        return []
    objects = []
    for shape in SHAPES:
        policy = policy_spec(shape, facts)
        if policy is None:
            continue
        objects.append(ctx.obj(ADMISSION_API, "ValidatingAdmissionPolicy", shape.policy_name, spec=policy))
        objects.append(ctx.obj(ADMISSION_API, "ValidatingAdmissionPolicyBinding", shape.policy_name,
                               spec=binding_spec(shape)))
    return objects


def policy_spec(shape: Shape, facts: ClusterFacts) -> dict | None:
    """A shape's policy on a cluster, or None when no enabled rule applies to it."""
    checks = validations(shape, facts)
    if not checks:
        return None
    spec: dict = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": _resource_rules(shape), "namespaceSelector": TENANT_NAMESPACES},
    }
    if shape.params:
        spec["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    conditions = match_conditions(shape)
    if conditions:
        spec["matchConditions"] = conditions
    used = variables(shape, facts, checks)
    if used:
        spec["variables"] = used
    spec["validations"] = [{"expression": v.expression, "messageExpression": v.message, "reason": "Forbidden"}
                           for v in checks]
    return spec


def _resource_rules(shape: Shape) -> list[dict]:
    """One rule per API group (a rule's groups, versions and resources combine as a product)."""
    out = []
    for group, version, resources in shape.resources:
        rule: dict = {"apiGroups": [group], "apiVersions": [version], "operations": list(shape.operations),
                      "resources": list(resources)}
        if shape.resource_names:
            rule["resourceNames"] = list(shape.resource_names)
        out.append(rule)
    return out


def binding_spec(shape: Shape) -> dict:
    spec: dict = {"policyName": shape.policy_name, "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": TENANT_NAMESPACES}}
    if shape.params:
        spec["paramRef"] = {"name": PARAMS_NAME, "parameterNotFoundAction": "Deny"}
    return spec
