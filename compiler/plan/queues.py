"""The queue tree: every queue's parent decided (the root queue unless named) and checked to
exist (a platform queue, the root, or another tenant placed wherever its children are), and
parents forming no cycle."""
from __future__ import annotations

from compiler.errors import Problems
from compiler.model import Specs
from compiler.plan.quota import Shares


def queue_parents(specs: Specs) -> tuple[dict[str, str], dict[str, str]]:
    """The parent of each tenant's queue and of each platform queue: as named, else the root."""
    root = specs.platform.root_queue
    return ({t.tenant.name: t.tenant.queue.parent or root for t in specs.tenants},
            {q.name: q.parent or root for q in specs.platform.queues})


def check_queue_parents(specs: Specs, quotas: dict[str, Shares], problems: Problems) -> None:
    platform_queues = {q.name: q.parent for q in specs.platform.queues}
    tenant_parents = {t.tenant.name: t.tenant.queue.parent for t in specs.tenants}
    _check_platform_parents(specs, platform_queues, problems)
    _check_tenant_parents(specs, quotas, platform_queues, tenant_parents, problems)
    _check_cycles(specs, {**platform_queues, **tenant_parents}, problems)


def _check_platform_parents(specs: Specs, platform_queues: dict[str, str | None], problems: Problems) -> None:
    for name, parent in platform_queues.items():
        if parent and parent not in platform_queues and parent != specs.platform.root_queue:
            problems.add(specs.platform_source.path, f"queues.{name}.parent", f"unknown queue '{parent}'",
                         "name the root queue or another platform queue")


def _check_tenant_parents(specs: Specs, quotas: dict[str, Shares], platform_queues: dict[str, str | None],
                          tenant_parents: dict[str, str | None], problems: Problems) -> None:
    for spec in specs.tenants:
        parent = spec.tenant.queue.parent
        if parent is None or parent == specs.platform.root_queue or parent in platform_queues:
            continue
        if parent not in tenant_parents:
            problems.add(spec.source.path, "queue.parent", f"unknown queue '{parent}'",
                         "name a platform queue, another tenant, or leave it out for the root queue")
            continue
        missing = [c for c in quotas.get(spec.tenant.name, {}) if c not in quotas.get(parent, {})]
        if missing:
            problems.add(spec.source.path, "queue.parent",
                         f"parent tenant '{parent}' is not placed on {', '.join(missing)}",
                         "place the parent on every cluster of its children")


def _check_cycles(specs: Specs, graph: dict[str, str | None], problems: Problems) -> None:
    for start in sorted(graph):
        seen, node = [start], graph.get(start)
        while node in graph and node not in seen:
            seen.append(node)
            node = graph.get(node)
        if node == start:
            cycle = " -> ".join(seen + [start])
            owner = specs.tenant(start)
            problems.add(owner.source.path if owner else specs.platform_source.path,
                         "queue.parent" if owner else f"queues.{start}.parent",
                         f"queue parents form a cycle: {cycle}", "break the cycle; queues form a tree under the root")
