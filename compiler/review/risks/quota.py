"""Quota rules: a ResourceQuota limit lowered or set where there was none (`quota-lowered`),
and, with a usage reader (--kubeconfig), lowered below what the tenant uses now
(`quota-below-usage`)."""
from __future__ import annotations

from collections.abc import Iterable

from compiler.quantity import Quantity, QuantityError
from compiler.review.compare import ObjectChange
from compiler.review.risks.common import DANGER, WARNING, Family, Risk, RiskContext, is_kind, risk

RULES = {
    "quota-lowered": "a ResourceQuota limit is lowered (or set where there was none)",
    "quota-below-usage": "a lowered quota is below what the tenant uses now on the live cluster (--kubeconfig)",
}

Lowered = tuple[str, object, object]  # (resource, old limit or None, new limit)


def quota_lowered(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    for c in changes:
        if c.change != "changed" or not is_kind(c.key, "", "ResourceQuota"):
            continue
        lowered = lowered_limits(c)
        if not lowered:
            continue
        yield risk("quota-lowered", WARNING, c, "; ".join(
            f"{r}: {old if old is not None else '(no limit)'} -> {new}" for r, old, new in lowered))
        below = _below_usage(c, lowered, ctx)
        if below:
            yield below


def lowered_limits(c: ObjectChange) -> list[Lowered]:
    """The limits of a changed quota that went down or appeared, by resource."""
    old_hard = (c.old or {}).get("spec", {}).get("hard") or {}
    new_hard = (c.new or {}).get("spec", {}).get("hard") or {}
    return [(r, old_hard.get(r), new_hard[r]) for r in sorted(new_hard)
            if r not in old_hard or _less(new_hard[r], old_hard[r])]


def _below_usage(c: ObjectChange, lowered: list[Lowered], ctx: RiskContext) -> Risk | None:
    """The danger of new limits below the live quota's status.used (None without a reader or usage)."""
    used = ctx.usage(c.key.cluster, c.key.namespace, c.key.name) if ctx.usage else None
    if not used:
        return None
    over = [(r, used[r], new) for r, _, new in lowered if r in used and _less(new, used[r])]
    if not over:
        return None
    return risk("quota-below-usage", DANGER, c, "; ".join(f"{r}: {u} in use now, new limit {new}" for r, u, new in over)
                + " (new pods would be refused until usage falls)")


def _less(a: object, b: object) -> bool:
    try:
        return Quantity.parse(a).value < Quantity.parse(b).value  # type: ignore[arg-type]
    except QuantityError:
        return False


FAMILY = Family(RULES, quota_lowered)
