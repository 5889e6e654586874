"""Where pods and cache workers run: node affinity to a pool's labels and tolerations for its
taints only, in the two shapes Kubernetes pods and Fluid datasets take them. CPU work never
tolerates the GPU pools' taints, so it stays off GPU nodes; a tenant's pods go to its resource
group (pools the platform dedicates to it) where it has one, and never to another tenant's."""
from __future__ import annotations

from dataclasses import dataclass

from compiler.model.platform import Cluster, NodePool


def pools_for(cluster: Cluster, pool: str, gpu_model: str | None = None, tenant: str | None = None) -> list[NodePool]:
    """The pools of a role a tenant's pods go to (its resource group's, else the shared ones)."""
    return cluster.pools_for(pool, tenant, gpu_model)


@dataclass(frozen=True)
class Placement:
    """The node pools something may run on, drawn as affinity terms and tolerations."""

    pools: list[NodePool]

    @classmethod
    def of(cls, cluster: Cluster, pool: str, gpu_model: str | None = None, tenant: str | None = None) -> Placement:
        """The cluster's pools of a role ('cpu', 'gpu'), GPU pools of one model only, a tenant's
        resource group when it has one for them (Cluster.pools_for)."""
        return cls(pools_for(cluster, pool, gpu_model, tenant))

    @property
    def terms(self) -> list[dict]:
        """nodeSelectorTerms: one per labelled pool, matching all of its labels."""
        return [{"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(p.labels.items())]}
                for p in self.pools if p.labels]

    @property
    def tolerations(self) -> list[dict]:
        seen, out = set(), []
        for p in self.pools:
            for t in p.taints:
                key = (t.key, t.value, t.effect)
                if key not in seen:
                    seen.add(key)
                    out.append({"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect})
        return out

    def pod_fields(self) -> dict:
        """A pod spec's affinity and tolerations (only those there are)."""
        terms = self.terms
        out: dict = {}
        if terms:
            out["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": terms}}}
        return self._with_tolerations(out)

    def dataset_fields(self) -> dict:
        """A Fluid Dataset spec's nodeAffinity and tolerations (only those there are)."""
        terms = self.terms
        out: dict = {}
        if terms:
            out["nodeAffinity"] = {"required": {"nodeSelectorTerms": terms}}
        return self._with_tolerations(out)

    def node_selector(self) -> dict[str, str] | None:
        """The labels of the first labelled pool, for fields that take one nodeSelector."""
        labelled = [p.labels for p in self.pools if p.labels]
        return dict(sorted(labelled[0].items())) if labelled else None

    def _with_tolerations(self, out: dict) -> dict:
        tolerations = self.tolerations
        if tolerations:
            out["tolerations"] = tolerations
        return out


def pod_placement(cluster: Cluster, pool: str, gpu_model: str | None = None, tenant: str | None = None) -> dict:
    """Pod spec fields placing a tenant's pod on the cluster's pools of a role."""
    return Placement.of(cluster, pool, gpu_model, tenant).pod_fields()
