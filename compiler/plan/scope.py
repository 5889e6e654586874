"""What resolving one tenant's workloads reads, passed as one value instead of six arguments."""
from __future__ import annotations

from dataclasses import dataclass, replace

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.tenant import Quota
from compiler.plan.datasets import DatasetPlacement, Placements


@dataclass(frozen=True)
class TenantScope:
    """One tenant's spec, the platform, its quota shares and the datasets placed for it."""

    spec: TenantSpec
    specs: Specs
    shares: dict[str, Quota]  # cluster -> this tenant's share, in platform order
    placements: Placements  # every tenant's, by (tenant, cluster)
    problems: Problems

    @property
    def tenant(self) -> str:
        return self.spec.tenant.name

    @property
    def file(self) -> str:
        return self.spec.source.path

    def datasets_on(self, cluster: str) -> list[DatasetPlacement]:
        return self.placements.get((self.tenant, cluster), [])

    def trial(self) -> TenantScope:
        """The same scope collecting problems apart (to try something that may not fit)."""
        return replace(self, problems=Problems())
