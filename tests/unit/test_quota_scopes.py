"""ResourceQuota scopes (issue 16): a cap per PriorityClass is a ResourceQuota whose
scopeSelector matches that class (it counts only pods of the class:
https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-per-priorityclass),
a cap per storage class the `<class>.storageclass.storage.k8s.io/...` keys of the tenant's
ResourceQuota (https://kubernetes.io/docs/concepts/policy/resource-quotas/#storage-resource-quota).
The API server accepts extended resources (GPUs) under a PriorityClass scope: its validation
refuses only standard resources a scope does not cover (kubernetes/kubernetes
pkg/apis/core/validation/validation.go, validateScopeSelector); tests/cluster applies them."""
from __future__ import annotations

from decimal import Decimal

from compiler.quantity import Quantity


def _scoped(example):
    specs = [s.tenant for s in example.specs.tenants
             if s.tenant.quota_scopes.priority_classes or s.tenant.quota_scopes.storage_classes]
    assert specs, "the examples must use quota scopes"
    return specs


def _quotas(example, tenant: str) -> dict[str, dict[str, dict]]:
    """Cluster -> ResourceQuota name -> object, in the tenant's own namespace."""
    out: dict[str, dict[str, dict]] = {}
    for path, obj in example.objects.items():
        cluster, unit, _ = path.split("/", 2) if path.count("/") == 2 else ("", "", "")
        if unit == tenant and obj["kind"] == "ResourceQuota" and obj["metadata"]["namespace"] == tenant:
            out.setdefault(cluster, {})[obj["metadata"]["name"]] = obj
    return out


def test_a_priority_class_cap_is_a_quota_scoped_to_that_class_and_adds_up_to_the_spec(example):
    for tenant in _scoped(example):
        quotas = _quotas(example, tenant.name)
        for name, cap in tenant.quota_scopes.priority_classes.items():
            found = [q[f"priority-{name}"] for q in quotas.values()]
            assert len(found) == len(tenant.placement)
            for quota in found:
                assert quota["spec"]["scopeSelector"] == {"matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": [name]}]}
            cpu = sum((Quantity.parse(q["spec"]["hard"]["requests.cpu"]).value for q in found), start=Decimal(0))
            assert cap.cpu is None or cpu == cap.cpu.value
            for model, count in cap.gpu.items():
                resource = next(c.gpu_models()[model] for c in example.specs.platform.clusters
                                if model in c.gpu_models())
                got = sum(int(q["spec"]["hard"][f"requests.{resource}"]) for q in found)
                assert got == count.value
            keys = {k for q in found for k in q["spec"]["hard"]}
            assert not [k for k in keys if k.endswith("storage") or k == "persistentvolumeclaims"]


def test_a_storage_class_cap_is_keyed_by_the_class_in_the_tenants_quota(example):
    for tenant in _scoped(example):
        quotas = _quotas(example, tenant.name)
        for name, cap in tenant.quota_scopes.storage_classes.items():
            hards = [q["tenant-quota"]["spec"]["hard"] for q in quotas.values()]
            key = f"{name}.storageclass.storage.k8s.io/"
            storage = sum((Quantity.parse(h[key + "requests.storage"]).value for h in hards), start=Decimal(0))
            pvcs = sum(int(h[key + "persistentvolumeclaims"]) for h in hards)
            assert cap.storage is not None and storage == cap.storage.value
            assert cap.pvcs is not None and pvcs == cap.pvcs.value
