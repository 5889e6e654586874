"""Facts about the kinds tenantc renders, shared by render, write, apply and Argo CD output.

One table, so the apply order, the Argo CD sync waves and the file names never disagree; and
every label, annotation, folder name and report apiVersion tenantc writes, defined here once
(the few the agent shares are defined in its import-free contract and re-exported here).
"""
from __future__ import annotations

from compiler.agent.contract import (
    AGENT_MANAGED_BY_VALUE,
    JOB_LABEL,
    MANAGED_BY_LABEL,
    PIPELINE_LABEL,
    TASK_LABEL,
    TENANT_LABEL,
)

__all__ = ["AGENT_MANAGED_BY_VALUE", "JOB_LABEL", "MANAGED_BY_LABEL", "PIPELINE_LABEL", "TASK_LABEL", "TENANT_LABEL"]

# Ownership: apply and prune rely on these alone.
MANAGED_BY_VALUE = "tenantc"
CLUSTER_LABEL = "tenantc.io/cluster"
# The platform (its file's `name`) whose repository rendered the object: two repositories that
# share a cluster never prune each other's objects (compiler.live.prune).
PLATFORM_LABEL = "tenantc.io/platform"
SOURCE_ANNOTATION = "tenantc.io/source"
FIELD_MANAGER = "tenantc"
PLATFORM_TENANT = "platform"  # tenant label value of cluster-wide platform objects

# What an object is for, inside a tenant.
NOTEBOOK_LABEL = "tenantc.io/notebook"
USER_LABEL = "tenantc.io/user"
SERVING_LABEL = "tenantc.io/serving"
STORAGE_LEVEL_LABEL = "tenantc.io/storage-level"
IMPORTED_FROM_LABEL = "tenantc.io/imported-from"
PROJECT_LABEL = "tenantc.io/project"  # objects of a tenant's project (its namespace '<tenant>-<project>')

# The ClusterRoles tenant members are bound to: '<prefix>admin|edit|view' (compiler/render/member_roles.py).
MEMBER_ROLE_PREFIX = "tenantc-member-"
# The ClusterRole and ClusterRoleBinding that let a tenant's members read their own Queue:
# '<prefix><tenant>' (compiler/render/queue.py).
QUEUE_READER_PREFIX = "tenantc-queue-reader-"
# On the pod templates that run tenantc-agent (job tasks, data gates, cache scalers, pipeline
# runners): the only pods the `allow-apiserver-egress` NetworkPolicy lets reach the API server.
API_CLIENT_LABEL = "tenantc.io/api-client"

# Other systems' keys tenantc sets.
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"  # e.g. Prune=false,Delete=false (compiler.delivery)
COMPARE_OPTIONS_ANNOTATION = "argocd.argoproj.io/compare-options"  # e.g. IgnoreExtraneous (compiler.delivery)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every Namespace
DATASET_CLAIM_ANNOTATION = "pvc.fluid.io/resources.requests.storage"  # Fluid's PVC size hint

# Folders of rendered/ that are not tenants, and the apiVersion of machine-readable reports.
PLATFORM_DIR = "_platform"  # rendered/<cluster>/_platform/: the platform's own objects
ARGOCD_DIR = "_argocd"  # rendered/_argocd/: AppProjects and the ApplicationSet
CACHE_DIR = ".tenantc-cache"  # <repository>/.tenantc-cache/: the unit cache and parsed YAML, never committed
REPORT_API_VERSION = "tenantc.io/v1"

# Apply stages (also Argo CD sync waves). Objects of a later stage may depend on earlier ones.
STAGE_NAMES = [
    "namespaces and cluster-scoped objects",
    "accounts, RBAC, quotas, limits, network policies",
    "volumes and datasets with their runtimes",
    "data loads, services, notebooks, cron jobs, templates",
    "jobs and pipelines",
]

_STAGE_BY_KIND = {
    # stage 0
    ("", "Namespace"): 0,
    ("scheduling.volcano.sh", "Queue"): 0,
    ("rbac.authorization.k8s.io", "ClusterRole"): 0,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): 0,
    ("argoproj.io", "AppProject"): 0,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): 0,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): 0,
    # stage 1
    ("", "ServiceAccount"): 1,
    ("rbac.authorization.k8s.io", "Role"): 1,
    ("rbac.authorization.k8s.io", "RoleBinding"): 1,
    ("", "ResourceQuota"): 1,
    ("", "LimitRange"): 1,
    ("networking.k8s.io", "NetworkPolicy"): 1,
    ("", "ConfigMap"): 1,
    # stage 2
    ("", "PersistentVolumeClaim"): 2,
    ("data.fluid.io", "Dataset"): 2,
    ("data.fluid.io", "JindoRuntime"): 2,
    ("data.fluid.io", "AlluxioRuntime"): 2,
    ("data.fluid.io", "JuiceFSRuntime"): 2,
    ("data.fluid.io", "ThinRuntime"): 2,
    # stage 3
    ("data.fluid.io", "DataLoad"): 3,
    ("", "Service"): 3,
    ("apps", "StatefulSet"): 3,
    ("apps", "Deployment"): 3,
    ("autoscaling", "HorizontalPodAutoscaler"): 3,
    ("policy", "PodDisruptionBudget"): 3,
    ("networking.k8s.io", "Ingress"): 3,
    ("batch", "CronJob"): 3,
    ("batch.volcano.sh", "CronJob"): 3,
    ("flow.volcano.sh", "JobTemplate"): 3,
    ("argoproj.io", "ApplicationSet"): 3,
    # stage 4
    ("batch.volcano.sh", "Job"): 4,
    ("flow.volcano.sh", "JobFlow"): 4,
}

KNOWN_KINDS = frozenset(_STAGE_BY_KIND)
"""(group, kind) of everything tenantc may render: prune lists these kinds on live clusters."""

BUILTIN_GROUPS = {"", "apps", "autoscaling", "batch", "rbac.authorization.k8s.io", "networking.k8s.io",
                  "policy", "coordination.k8s.io", "scheduling.k8s.io", "storage.k8s.io",
                  "admissionregistration.k8s.io"}


def group_of(api_version: str) -> str:
    """'apps/v1' -> 'apps', 'v1' -> '' (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def stage_of(obj: dict) -> int:
    """Apply stage of an object; unknown kinds go last but one, before jobs."""
    return _STAGE_BY_KIND.get((group_of(obj["apiVersion"]), obj["kind"]), 3)


def is_cluster_scoped(obj: dict) -> bool:
    return (group_of(obj["apiVersion"]), obj["kind"]) in {
        ("", "Namespace"),
        ("scheduling.volcano.sh", "Queue"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    }


def file_name(obj: dict) -> str:
    """File name of an object in rendered/: '<kind>-<name>.yaml' for built-in kinds and
    '<kind>.<group>-<name>.yaml' for custom kinds, so Volcano's Job never meets batch's Job.
    A project's namespaced objects share their tenant's folder as 'project-<project>.<kind>-<name>.yaml'."""
    group = group_of(obj["apiVersion"])
    kind = obj["kind"].lower()
    if group not in BUILTIN_GROUPS:
        kind = f"{kind}.{group}"
    project = (obj["metadata"].get("labels") or {}).get(PROJECT_LABEL)
    prefix = f"project-{project}." if project and obj["metadata"].get("namespace") else ""
    return f"{prefix}{kind}-{obj['metadata']['name']}.yaml"

# What one tenantc-agent container asks for (sidecar, wait-for-data, cache scaler). Counted
# in every job pod by the compile-time feasibility checks, so a job sized to its quota is not
# rejected at admission because of the sidecar.
AGENT_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
