"""ResourceQuota scopes a tenant asks for beside its quota: a cap per PriorityClass (a
ResourceQuota with a PriorityClass scopeSelector) and per storage class (the
`<class>.storageclass.storage.k8s.io/...` keys); compiler/plan/quota_scopes.py splits them
over the tenant's clusters like the quota."""
from __future__ import annotations

from pydantic import Field

from compiler.model.common import CountField, QuantityField, Quota, Spec


class StorageClassQuota(Spec):
    """What claims of one storage class may request in total, and how many there may be."""

    storage: QuantityField | None = None
    pvcs: CountField | None = None


class QuotaScopes(Spec):
    priority_classes: dict[str, Quota] = Field(
        default_factory=dict, description="priority class -> cap on what pods of that class request (cpu, memory, "
        "gpu, pods), a part of the quota, e.g. {production-high: {gpu: {A10: 8}}}")
    storage_classes: dict[str, StorageClassQuota] = Field(
        default_factory=dict, description="storage class -> cap on its claims' storage and count, e.g. "
        "{nas-rwx: {storage: 20Ti, pvcs: 10}}")


__all__ = ["QuotaScopes", "StorageClassQuota"]
