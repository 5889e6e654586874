"""What each placement outcome must be, as functions returning what is wrong (an empty list: all
right), so the examples' parametrized tests and the generated repositories' sweeping test hold
the real scheduler's answers to one set of rules."""
from __future__ import annotations

from placement_intent import NEAR_CACHE_KINDS, Intent, Intents, QuotaIntent


def node_facts(placement, node: str | None) -> str:
    info = placement.nodes.get(node)
    if info is None:
        return str(node)
    return f"{node} (pool {info.pool.name}, role {info.pool.role}, gpu model {info.pool.gpu_model})"


def landing_problems(placement, intent: Intent) -> list[str]:
    """Each pod of the intent placed, Running, on one of its pools of its cluster, of its GPU
    model; CPU work never on a GPU node, nothing but caches on a cache pool."""
    if intent.id in placement.missing:
        return [f"{intent.id}: {placement.missing[intent.id]}"]
    outcomes = placement.pods.get(intent.id) or []
    if not outcomes:
        return [f"{intent.id}: no pod was made"]
    out = []
    for outcome in outcomes:
        where = f"pod {outcome.namespace}/{outcome.pod}"
        if outcome.rejected or not outcome.node:
            out.append(f"{where} was refused by the API server: {outcome.rejected}" if outcome.rejected else
                       f"{where} was not placed: {outcome.unschedulable or 'still pending'}")
            continue
        node, facts = placement.nodes[outcome.node], node_facts(placement, outcome.node)
        wrong = [
            (node.cluster != intent.cluster, f"{where} left its cluster: {facts}"),
            (node.pool.name not in intent.pools, f"{where} landed on {facts}, meant for pools {sorted(intent.pools)}"),
            (intent.role == "cpu" and node.pool.role == "gpu", f"{where} is CPU work on a GPU node: {facts}"),
            (intent.role != "cache" and node.pool.role == "cache", f"{where} landed on the cache pool: {facts}"),
            (bool(intent.gpu_model) and node.pool.gpu_model != intent.gpu_model,
             f"{where} wants {intent.gpu_model}, got {facts}"),
            (outcome.phase != "Running", f"{where} on {facts} is {outcome.phase}, kwok should run it"),
        ]
        out += [message for bad, message in wrong if bad]
    return out


def near_cache_intents(intents: Intents) -> list[Intent]:
    return [i for i in intents.pods if i.datasets and i.kind in NEAR_CACHE_KINDS]


def near_cache_problems(placement, intent: Intent) -> list[str]:
    """The intent's pod, with Fluid's required affinity to its caches' nodes, is placed on one of
    its pools, and mounts the claims of the caches on its own kind of pool."""
    cache = {c: sorted(placement.cache_nodes.get((intent.cluster, owner, c), set())) for owner, c in intent.caches}
    if not all(cache.values()) or intent.id not in placement.near_cache:
        return [f"{intent.id}: no cache worker of {intent.caches} placed on {intent.cluster} ({cache}), or no "
                f"probe: {placement.missing.get(intent.id)}"]
    missing = set(intent.caches) - placement.mounted[intent.id]
    if missing:
        return [f"{intent.id} mounts {sorted(placement.mounted[intent.id])}, not the caches {sorted(missing)}"]
    (probe,) = placement.near_cache[intent.id]
    where = f"pod {probe.namespace}/{probe.pod} (task {intent.task})"
    if probe.rejected or not probe.decided:
        return [f"{where}: refused or undecided: {probe.rejected}"]
    if not probe.node:
        return [f"{where} with Fluid's cache affinity to {cache} was not placed: {probe.unschedulable or 'pending'}"]
    if placement.nodes[probe.node].pool.name not in intent.pools:
        return [f"{where} went to {node_facts(placement, probe.node)}, meant for {sorted(intent.pools)}"]
    return []


def quota_cases(intents: Intents) -> list[tuple[QuotaIntent, str]]:
    return [(q, resource) for q in intents.quotas
            for resource in ["cpu", "memory", *(f"gpu-{m}" for m in sorted(q.gpus))]
            if (resource != "cpu" or q.cpu is not None) and (resource != "memory" or q.memory is not None)]


def quota_problems(placement, quota: QuotaIntent, resource: str) -> list[str]:
    """A pod asking for more of `resource` than the spec allows there is refused by ResourceQuota."""
    outcome = placement.quota[f"{quota.cluster}/{quota.tenant}/{resource}"]
    allowed = quota.gpus[resource[4:]] if resource.startswith("gpu-") else getattr(quota, resource)
    if not outcome.rejected:
        return [f"pod {outcome.namespace}/{outcome.pod} asking for more {resource} than the spec allows on "
                f"{quota.cluster} ({allowed}) was admitted: {outcome.note}"]
    return [] if "exceeded quota" in outcome.rejected else [f"{quota.cluster}/{quota.tenant}: {outcome.rejected}"]


def across_model_cases(intents: Intents) -> list[tuple[QuotaIntent, str, str]]:
    return [(q, model, other) for q in intents.quotas for model, count in sorted(q.gpus.items()) if count
            for other in sorted(set(q.gpus) - {model})]


def across_model_problems(placement, quota: QuotaIntent, model: str, other: str) -> list[str]:
    """A GPU of `model` asked under its resource name but required onto `other`'s pool is
    refused or placed nowhere."""
    outcome = placement.across_models[f"{quota.cluster}/{quota.tenant}/{model}-on-{other}"]
    if not outcome.decided:
        return [f"pod {outcome.namespace}/{outcome.pod} is still pending without a verdict"]
    if outcome.node:
        return [f"pod {outcome.namespace}/{outcome.pod} asking for {quota.gpu_resources[model]} ({model}) was "
                f"placed on {node_facts(placement, outcome.node)}, a {other} node"]
    return []


def all_problems(placement) -> tuple[int, list[str]]:
    """(checks made, what is wrong) over everything one placement run holds."""
    intents = placement.intents
    checks = [landing_problems(placement, i) for i in intents.pods]
    checks += [near_cache_problems(placement, i) for i in near_cache_intents(intents)]
    checks += [quota_problems(placement, q, r) for q, r in quota_cases(intents)]
    checks += [across_model_problems(placement, q, m, o) for q, m, o in across_model_cases(intents)]
    if placement.uncovered:
        checks.append([f"rendered pod templates no spec intent accounts for: {placement.uncovered}"])
    return len(checks), [line for found in checks for line in found]
