"""Who must approve: the owners of every tenant whose objects change (old and new owner when
the owner itself changes), the owners of tenants a change reaches into (a dataset exported
from them), and the platform owners when the platform file, platform objects or a
cross-tenant flag are involved. One entry per person, with every reason."""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.kinds import PLATFORM_TENANT
from compiler.review.compare import ObjectChange
from compiler.review.risks import Risk
from compiler.review.snapshot import Snapshot


@dataclass
class Approval:
    """One person who must approve, with every reason."""

    who: str
    reasons: list[str] = field(default_factory=list)


def required_approvals(changes: list[ObjectChange], risks: list[Risk], base: Snapshot,
                       head: Snapshot) -> list[Approval]:
    wanted: dict[str, list[str]] = {}

    def need(who: str, reason: str) -> None:
        reasons = wanted.setdefault(who, [])
        if reason not in reasons:
            reasons.append(reason)

    counts: dict[str, int] = {}
    for c in changes:
        counts[c.tenant] = counts.get(c.tenant, 0) + 1
    for tenant, n in sorted(counts.items()):
        if tenant == PLATFORM_TENANT:
            continue
        for owner in _owners(tenant, base, head):
            need(owner, f"owner of tenant {tenant} ({n} object{'s' if n != 1 else ''} change)")
    for risk in risks:
        for tenant in risk.involves:
            if tenant != risk.tenant:
                for owner in _owners(tenant, base, head):
                    need(owner, f"owner of tenant {tenant}: {risk.rule} in {risk.tenant}")
    platform_reasons = []
    if base.platform_digest != head.platform_digest:
        platform_reasons.append(f"{head.platform_source} changes")
    if counts.get(PLATFORM_TENANT):
        platform_reasons.append(f"{counts[PLATFORM_TENANT]} platform object(s) change")
    crossing = sorted({f"{r.rule} in {r.tenant}" for r in risks if r.cross_tenant})
    if crossing:
        platform_reasons.append("cross-tenant: " + ", ".join(crossing))
    if platform_reasons:
        for owner in head.platform_owners or base.platform_owners:
            for reason in platform_reasons:
                need(owner, f"platform owner: {reason}")
    return [Approval(who, reasons) for who, reasons in sorted(wanted.items())]


def _owners(tenant: str, base: Snapshot, head: Snapshot) -> list[str]:
    """Head's owner, and base's too when it differs (handing a tenant over needs both)."""
    return sorted({o for o in (head.owners.get(tenant), base.owners.get(tenant)) if o})
