"""The user and project storage levels: the claims the plan decided (a home PVC per member
user, one project PVC). The global level is the platform's global datasets, imported
read-only by every tenant."""
from __future__ import annotations

from compiler.kinds import STORAGE_LEVEL_LABEL
from compiler.render.context import TenantContext


def render(ctx: TenantContext) -> list[dict]:
    return [ctx.obj("v1", "PersistentVolumeClaim", claim.name, labels={STORAGE_LEVEL_LABEL: claim.level}, spec={
        "accessModes": [claim.access_mode], "storageClassName": claim.storage_class,
        "resources": {"requests": {"storage": claim.size.canonical()}}})
        for claim in ctx.workloads.claims]
