"""Guardrail rules: a tenant's admission parameters allow more than before (`guardrail-loosened`),
or a cluster's guardrails stop denying (`guardrail-removed`: a policy, binding or rule gone, a
binding that only warns, a policy that fails open).

Read from rendered objects only: the parameters ConfigMap (tenantc-guardrails) per tenant and
the ValidatingAdmissionPolicies and bindings under _platform/. A value is new only when nothing
allowed before covers it (a registry prefix under an allowed one, a host a pattern matched), so
reordering or narrowing is not flagged. A new tenant's parameters are its standard, not an
opening; a tenant that loses its parameters is denied everything, which is not an opening either.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from compiler.guardrails.rules import PARAMS_NAME, TenantParams, host_allowed
from compiler.review.compare import ObjectChange
from compiler.review.risks.common import DANGER, WARNING, Family, Risk, RiskContext, is_kind, risk

RULES = {
    "guardrail-loosened": "a tenant's guardrail parameters allow a registry, queue, class, host, GPU pool or "
                          "dataset they did not before",
    "guardrail-removed": "a guardrail policy, binding or rule is removed, a binding stops denying or a policy "
                         "fails open",
}

ADMISSION_GROUP = "admissionregistration.k8s.io"
POLICY, BINDING = "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"
ALLOW_KEYS = {
    "registries": "registry", "queues": "queue", "priorityClasses": "priority class",
    "storageClasses": "storage class", "ingressClasses": "ingress class", "ingressHosts": "ingress host",
    "gpuPools": "GPU pool", "datasetMounts": "dataset mount", "writableDatasets": "writable dataset",
}
_RULE_OF_MESSAGE = re.compile(r'^"([a-z-]+): tenant ')


def guardrail_risks(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    for c in changes:
        if is_kind(c.key, "", "ConfigMap") and c.key.name == PARAMS_NAME and c.change == "changed":
            yield from _loosened(c, ctx)
        elif c.key.group == ADMISSION_GROUP and c.key.kind in (POLICY, BINDING):
            yield from _removed(c)


def covered(key: str, value: str, old: tuple[str, ...]) -> bool:
    """Whether what `value` allows was allowed before."""
    if key == "registries":
        return any(value.startswith(p) for p in old)
    if key == "ingressHosts":
        return host_allowed(value, old)
    return value in old


def _loosened(c: ObjectChange, ctx: RiskContext) -> Iterable[Risk]:
    old = TenantParams.from_data((c.old or {}).get("data") or {})
    new = TenantParams.from_data((c.new or {}).get("data") or {})
    tenant = c.tenant  # a project's namespace speaks for its tenant (the risk's key names the namespace)
    for key, words in ALLOW_KEYS.items():
        gained = [v for v in new.get(key) if not covered(key, v, old.get(key))]
        for value in gained:
            owner = _other_tenant(key, value, tenant, ctx)
            yield risk("guardrail-loosened", WARNING, c, f"tenant {tenant} may now use {words} {value}",
                       cross_tenant=owner is not None, involves=(owner,) if owner else ())


def _other_tenant(key: str, value: str, tenant: str, ctx: RiskContext) -> str | None:
    """The other tenant a new value reaches into: its queue, or its dataset."""
    if key == "queues" and value != tenant and value in ctx.tenants:
        return value
    if key in ("datasetMounts", "writableDatasets") and value.startswith("dataset://"):
        owner = value.removeprefix("dataset://").split("/", 1)[0]
        return owner if owner != tenant else None
    return None


def rules_of(policy: dict | None) -> set[str]:
    """Rule ids a rendered policy enforces (each validation's message starts with its rule id)."""
    out = set()
    for v in ((policy or {}).get("spec") or {}).get("validations") or []:
        match = _RULE_OF_MESSAGE.match(v.get("messageExpression") or "")
        if match:
            out.add(match[1])
    return out


def _removed(c: ObjectChange) -> Iterable[Risk]:
    def flag(reason: str) -> Risk:
        return risk("guardrail-removed", DANGER, c, reason, cross_tenant=True)

    if c.change == "removed":
        yield flag(f"{c.key.kind} {c.key.name} is removed: its rules no longer apply to any tenant on {c.key.cluster}")
        return
    if c.change != "changed":
        return
    old, new = (c.old or {}).get("spec") or {}, (c.new or {}).get("spec") or {}
    if c.key.kind == POLICY:
        for rule in sorted(rules_of(c.old) - rules_of(c.new)):
            yield flag(f"rule {rule} is no longer enforced by {c.key.name}")
        if new.get("failurePolicy") == "Ignore" and old.get("failurePolicy") != "Ignore":
            yield flag(f"{c.key.name} fails open (failurePolicy Ignore): a rule that errors admits")
    else:
        if "Deny" in (old.get("validationActions") or []) and "Deny" not in (new.get("validationActions") or []):
            yield flag(f"binding {c.key.name} no longer denies (validationActions {new.get('validationActions')})")
        was = (old.get("paramRef") or {}).get("parameterNotFoundAction")
        now = (new.get("paramRef") or {}).get("parameterNotFoundAction")
        if now == "Allow" and was != "Allow":
            yield flag(f"binding {c.key.name} admits everything in a namespace without parameters")


FAMILY = Family(RULES, guardrail_risks)
