"""`workload-moved`: a job, notebook or other pod template moves to another cluster or node
pool (nodeSelector and required node affinity; pools named from the platform file)."""
from __future__ import annotations

from collections.abc import Iterable

from compiler.identity import ObjectRef
from compiler.review.compare import ObjectChange
from compiler.review.risks.common import WARNING, Family, Risk, RiskContext, risk

RULES = {
    "workload-moved": "a job or notebook moves to another cluster or node pool",
}

Placement = frozenset[frozenset[str]]


def workload_moved(changes: list[ObjectChange], ctx: RiskContext) -> Iterable[Risk]:
    removed: dict[ObjectRef, list[ObjectChange]] = {}
    for c in changes:
        if c.change == "removed" and pod_specs(c.old or {}):
            removed.setdefault(c.key.ref, []).append(c)
    for c in changes:
        if c.change == "added" and pod_specs(c.new or {}):
            for gone in removed.get(c.key.ref, []):
                yield risk("workload-moved", WARNING, c, f"moves from cluster {gone.key.cluster} to "
                           f"{c.key.cluster} (the one on {gone.key.cluster} is deleted)")
        elif c.change == "changed":
            yield from _moved_in_cluster(c, ctx.pools.get(c.key.cluster, {}))


def _moved_in_cluster(c: ObjectChange, pools: dict[str, dict[str, str]]) -> Iterable[Risk]:
    """Pod templates of a changed workload whose placement changed."""
    old, new = pod_specs(c.old or {}), pod_specs(c.new or {})
    for name in sorted(set(old) & set(new)):
        a, b = placement(old[name]), placement(new[name])
        if a != b:
            what = f"{name}: " if name else ""
            yield risk("workload-moved", WARNING, c,
                       f"{what}moves from {_describe_placement(a, pools)} to {_describe_placement(b, pools)}")


def pod_specs(obj: dict) -> dict[str, dict]:
    """Pod specs of a workload by template name ('' for the only one, 'task <name>' for Volcano
    tasks): StatefulSet/Deployment/Job templates, CronJob job templates, Volcano Job tasks."""
    out: dict[str, dict] = {}
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    job_template = spec.get("jobTemplate")
    job = job_template.get("spec") if isinstance(job_template, dict) else None
    for owner in (spec, job if isinstance(job, dict) else {}):
        template = owner.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            out[""] = template["spec"]
        for task in owner.get("tasks") or []:
            if isinstance(task, dict) and isinstance((task.get("template") or {}).get("spec"), dict):
                out[f"task {task.get('name', '?')}"] = task["template"]["spec"]
    return out


def placement(pod_spec: dict) -> Placement:
    """Where a pod may run, as alternatives (node-affinity terms, ORed), each a set of 'key=value'
    requirements (ANDed; 'key=a|b' for In with several values); nodeSelector joins every term."""
    fixed = {f"{k}={v}" for k, v in (pod_spec.get("nodeSelector") or {}).items()}
    if pod_spec.get("nodeName"):
        fixed.add(f"nodeName={pod_spec['nodeName']}")
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = [{f"{e.get('key')}={'|'.join(sorted(e.get('values') or []))}"
              for e in term.get("matchExpressions") or [] if e.get("operator") == "In"}
             for term in required.get("nodeSelectorTerms") or []]
    return frozenset(frozenset(fixed | term) for term in terms or [set()] if fixed | term)


def _describe_placement(terms: Placement, pools: dict[str, dict[str, str]]) -> str:
    """'pool gpu-a100' when every alternative picks platform pools, else the labels themselves."""
    if not terms:
        return "any node"
    names: set[str] = set()
    for term in terms:
        matching = {name for name, labels in pools.items() if _selects(term, labels)}
        if not matching:
            return " or ".join(", ".join(sorted(t)) for t in sorted(terms, key=sorted))
        names |= matching
    return ("pool " if len(names) == 1 else "pools ") + ", ".join(sorted(names))


def _selects(term: frozenset[str], labels: dict[str, str]) -> bool:
    for requirement in term:
        key, _, values = requirement.partition("=")
        if labels.get(key) not in values.split("|"):
            return False
    return True


FAMILY = Family(RULES, workload_moved)
