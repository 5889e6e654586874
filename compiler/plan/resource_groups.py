"""Resource groups: node pools the platform dedicates to one tenant (`tenant:` of a node pool).

The tenant's pods of that pool's role (and GPU model) run there only (`Cluster.pools_for`: node
affinity to its labels, tolerations of its taints); no other tenant's pod does: the pool needs a
NoSchedule or NoExecute taint that no pool open to other tenants has (a pod lands on a tainted
node only when it tolerates the taint; other tenants' pods are rendered tolerating only their
own pools' taints, and the admission guardrails refuse a pod of another tenant that tolerates
it: the `resource-groups` rule, compiler/guardrails). Kubernetes: taints and tolerations,
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/.

Dataset caches run on shared pools (a cache serves every tenant that reads the data), so a
tenant's pods on its resource group cannot be placed next to a cache: reading cached data
there is refused. Volcano's queue nodegroup affinity (Queue spec.affinity) is not used: it
binds every pod of the queue to the group, and a tenant may use shared pools besides its own.
"""
from __future__ import annotations

from compiler.errors import Problems
from compiler.model import Specs
from compiler.model.platform import Cluster, NodePool
from compiler.plan.datasets import Reader
from compiler.plan.workloads import WorkloadPlan


def check_resource_groups(specs: Specs, quotas: dict, problems: Problems) -> None:
    file = specs.platform_source.path
    for i, cluster in enumerate(specs.platform.clusters):
        for j, pool in enumerate(cluster.node_pools):
            if pool.tenant is None:
                continue
            where = f"clusters[{i}].nodePools[{j}]"
            if specs.tenant(pool.tenant) is None:
                problems.add(file, f"{where}.tenant", f"unknown tenant '{pool.tenant}'",
                             f"name one of: {', '.join(t.tenant.name for t in specs.tenants)}")
            elif cluster.name not in quotas.get(pool.tenant, {}):
                problems.add(file, f"{where}.tenant", f"tenant '{pool.tenant}' is not placed on {cluster.name}",
                             "place the tenant on this cluster or dedicate a pool of a cluster it uses")
            _check_apart(cluster, pool, where, file, problems)


def _check_apart(cluster: Cluster, pool: NodePool, where: str, file: str, problems: Problems) -> None:
    """A taint and a label of its own: no other tenant's pod tolerates it or is pinned to it."""
    others = [p for p in cluster.node_pools if p is not pool and p.tenant != pool.tenant]
    taken = {(o.key, o.value, o.effect) for p in others for o in p.taints}
    own_taints = [t for t in pool.taints if t.effect in ("NoSchedule", "NoExecute")
                  and (t.key, t.value, t.effect) not in taken]
    if not own_taints:
        problems.add(file, f"{where}.taints", f"pool {pool.name} is dedicated to '{pool.tenant}' but has no "
                     "NoSchedule or NoExecute taint of its own: other tenants' pods could land on it",
                     f"taint its nodes, e.g. tenantc.io/dedicated={pool.tenant}:NoSchedule, and list the taint here")
    if not pool.labels or any(set(pool.labels.items()) <= set(p.labels.items()) for p in others):
        problems.add(file, f"{where}.labels", f"pool {pool.name} is dedicated to '{pool.tenant}' but has no label "
                     "of its own: its tenant's pods cannot be pinned to it", "give its nodes a label the other pools "
                     "lack, e.g. node.example.com/pool")


def check_cached_reads(specs: Specs, workloads: WorkloadPlan, readers: list[Reader], problems: Problems) -> None:
    """Pods on a resource group cannot be placed next to a cache (caches run on shared pools)."""
    file = specs.platform_source.path
    seen: set[tuple[str, str, str, str | None]] = set()
    for reader in readers:
        cluster = specs.platform.cluster(reader.cluster)
        if cluster is None:
            continue
        role = "gpu" if reader.gpu_model else "cpu"
        pools = cluster.pools_for(role, reader.tenant, reader.gpu_model)
        cached = any(p.local_name == reader.dataset and p.cached
                     for p in workloads.unit(reader.tenant, reader.cluster).datasets)
        key = (reader.tenant, reader.cluster, reader.dataset, reader.gpu_model)
        if not cached or not any(p.tenant == reader.tenant for p in pools) or key in seen:
            continue
        seen.add(key)
        i = specs.platform.clusters.index(cluster)
        j = cluster.node_pools.index(next(p for p in pools if p.tenant == reader.tenant))
        problems.add(file, f"clusters[{i}].nodePools[{j}].tenant",
                     f"pods of '{reader.tenant}' on this resource group read the cached dataset '{reader.dataset}' "
                     f"on {cluster.name}, but caches run on shared pools: they could not be placed next to it",
                     "read it from pods on shared pools, use a dataset without cache (thin), or share the pool")
