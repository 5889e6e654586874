"""What `--prune` may delete: a pure function of the live set, the desired set and flags.

Kept pure so property tests can throw random live sets at it. The rules, in order:
  - only objects carrying tenantc's managed-by label AND a tenant label AND this
    cluster's cluster label AND this platform's platform label (or none: rendered before
    objects carried it) are this repository's; everything else is never touched, another
    platform's objects on a shared cluster included;
  - an owned object that rendered/ still has is kept (it is applied, not pruned);
  - the kinds compiler.delivery keeps (Namespaces, PersistentVolumeClaims: both take data
    with them) go only with the flag `delivery.prune_flag` names for them
    (--prune-namespaces, --prune-pvcs), the rule Argo CD's output follows too;
  - objects already being deleted are left to finish;
  - if what remains exceeds --prune-threshold percent of the owned objects, nothing is
    deleted: a wrong context or a half-compiled tree looks exactly like that.
What a Namespace or PVC would take with it (objects tenantc does not own, pods using the
claim) needs the live cluster: compiler.live.prune_guard, run on top of this decision.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from compiler import delivery
from compiler.identity import ObjectRef
from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_LABEL,
    TENANT_LABEL,
    stage_of,
)

DEFAULT_THRESHOLD = 20.0


@dataclass(frozen=True)
class PruneFlags:
    """What may be pruned beyond ordinary objects, and the share of owned objects that may go."""

    namespaces: bool = False
    pvcs: bool = False
    threshold: float = DEFAULT_THRESHOLD  # percent of owned objects
    # compiler.live.prune_guard: a pruned Namespace may take objects tenantc does not own with
    # it (--dangerous-prune-unowned-contents); a pruned PVC may be one a pod that stays mounts
    # (--dangerous-prune-pvcs-in-use)
    unowned_contents: bool = False
    pvcs_in_use: bool = False

    def allows(self, flag: str) -> bool:
        """Was the command-line flag `flag` (a `delivery.prune_flag`) given? Unknown flags: no."""
        return {"--prune-namespaces": self.namespaces, "--prune-pvcs": self.pvcs}.get(flag, False)


DEFAULT_FLAGS = PruneFlags()

@dataclass
class PruneDecision:
    """What prune deletes, keeps and refuses on one cluster."""

    delete: list[dict] = field(default_factory=list)  # in deletion order (reverse apply stages)
    kept: list[tuple[dict, str]] = field(default_factory=list)  # owned, not desired, kept: (object, why)
    owned: int = 0  # live objects tenantc owns on this cluster
    foreign: int = 0  # tenantc-labelled objects of another cluster or another platform: left alone
    refused: str = ""  # why nothing may be deleted, or ""
    platform: str | None = None  # whose objects these are (platform_of the desired objects)

    @property
    def allowed(self) -> list[dict]:
        """What may really be deleted: nothing when refused."""
        return [] if self.refused else self.delete


def tenant_of(obj: dict) -> str:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(TENANT_LABEL) or "-"


def platform_of(desired: Iterable[dict]) -> str | None:
    """The platform whose rendered/ `desired` is: its objects' platform label (every rendered
    object has it, the _platform unit of a cluster at least); None for a tree rendered before."""
    for obj in desired:
        platform = ((obj.get("metadata") or {}).get("labels") or {}).get(PLATFORM_LABEL)
        if platform:
            return str(platform)
    return None


def of_another_platform(labels: dict, platform: str | None) -> bool:
    """Labels naming a platform other than `platform` (None: a rendered/ from before the label,
    which tells none apart; an object without the label is taken as it was before it)."""
    theirs = labels.get(PLATFORM_LABEL)
    return platform is not None and bool(theirs) and theirs != platform


def owned_by_tenantc(obj: dict, cluster: str, platform: str | None = None) -> bool:
    """An object of this repository's on `cluster`: tenantc's labels, this cluster's, and
    `platform`'s (of_another_platform)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return (labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE and bool(labels.get(TENANT_LABEL))
            and labels.get(CLUSTER_LABEL) == cluster and not of_another_platform(labels, platform))


def decide_prune(live: list[dict], desired: set[ObjectRef], cluster: str,
                 flags: PruneFlags = DEFAULT_FLAGS, platform: str | None = None) -> PruneDecision:
    decision = PruneDecision(platform=platform)
    for obj in live:
        if not owned_by_tenantc(obj, cluster, platform):
            labels = obj.get("metadata", {}).get("labels") or {}
            decision.foreign += labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE
            continue
        decision.owned += 1
        if ObjectRef.of(obj) in desired:
            continue
        reason = _keep_reason(obj, flags)
        if reason:
            decision.kept.append((obj, reason))
        else:
            decision.delete.append(obj)
    decision.delete.sort(key=lambda o: (-stage_of(o), ObjectRef.of(o)))
    if decision.delete and len(decision.delete) * 100 > flags.threshold * decision.owned:
        share = 100 * len(decision.delete) / decision.owned
        decision.refused = (f"refusing to prune {len(decision.delete)} of {decision.owned} owned objects "
                            f"({share:.0f}% > --prune-threshold {flags.threshold:g}%): check the context and "
                            "rendered/, or raise --prune-threshold if this is intended")
    return decision


def _keep_reason(obj: dict, flags: PruneFlags) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "already being deleted"
    flag = delivery.prune_flag(obj)
    if flag is not None and not flags.allows(flag):
        return f"a {obj.get('kind', '?')} (pass {flag})"
    return ""
