"""Risk flags: changes a reviewer must look at twice, each with the object and the reason.

Rules read rendered objects only (not tenantc's own spec fields), so they hold for any
renderer that produces the kind: Namespaces, PVCs, RoleBindings, NetworkPolicies, pod
templates (StatefulSet, batch and Volcano Jobs, CronJobs), Fluid Datasets and the guardrails
(ValidatingAdmissionPolicies, their bindings and each tenant's parameters ConfigMap). Widening is
judged per namespace, not per object, so moving a rule from one policy or binding to
another is not an opening, and a subject going from edit to admin is.

One module per rule family; this registry runs them in order. A new family is a module with
a `FAMILY` (its rule ids with what they mean, and its check) added to FAMILIES, and a row in
docs/review.md's table (a test holds the two together).
"""
from __future__ import annotations

from compiler.review.compare import ObjectChange
from compiler.review.risks import access, data, datasets, guardrails, network, quota, workloads
from compiler.review.risks.common import DANGER, WARNING, Family, Risk, RiskContext, UsageReader
from compiler.review.risks.workloads import placement, pod_specs

FAMILIES: tuple[Family, ...] = (data.FAMILY, quota.FAMILY, network.FAMILY, access.FAMILY, workloads.FAMILY,
                                datasets.FAMILY, guardrails.FAMILY)

# rule -> what it means; docs/review.md, the annotations and the JSON output use these ids.
RULES: dict[str, str] = {rule: meaning for family in FAMILIES for rule, meaning in family.rules.items()}


def find_risks(changes: list[ObjectChange], ctx: RiskContext) -> list[Risk]:
    """Every family's flags, dangers first, then by cluster, tenant, rule and object."""
    risks: list[Risk] = []
    for family in FAMILIES:
        risks.extend(family.check(changes, ctx))
    return sorted(risks, key=lambda r: r.order)


__all__ = ["DANGER", "FAMILIES", "RULES", "WARNING", "Risk", "RiskContext", "UsageReader", "find_risks",
           "placement", "pod_specs"]
