"""Rules between a tenant and the platform that the platform may relax only explicitly
(`policy:` in the platform file), and names a tenant may never take.

A tenant's name becomes its namespace and its Volcano queue; named like a namespace or queue
the platform runs (ingress, monitoring, DNS, Argo CD, the root or a parent queue, anything
`kube-*`), its members would be admins of the platform's own namespace, or its queue would
replace the platform's.
"""
from __future__ import annotations

import ipaddress

from compiler.errors import Problems
from compiler.model.platform import Platform
from compiler.model.tenant import RESERVED_TENANT_NAMES, Tenant, parse_cidr

SYSTEM_PREFIX = "system:"  # Kubernetes' own users and groups (system:anonymous, system:authenticated, ...)
EVERYWHERE = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


def platform_names(platform: Platform) -> dict[str, str]:
    """Name -> what the platform uses it for (namespaces and queues a tenant may not take)."""
    names = {platform.ingress_namespace: "the ingress namespace", platform.monitoring_namespace:
             "the monitoring namespace", platform.dns_namespace: "the DNS namespace",
             platform.root_queue: "the root queue"}
    if platform.argocd is not None:
        names[platform.argocd.namespace] = "Argo CD's namespace"
    names.update({q.name: "a platform queue" for q in platform.queues})
    names.update({name: "a Kubernetes namespace" for name in RESERVED_TENANT_NAMES})
    return names


def check_tenant(platform: Platform, tenant: Tenant, file: str, problems: Problems) -> None:
    """Every policy problem of one tenant against the platform file."""
    taken = platform_names(platform).get(tenant.name)
    if taken or tenant.name.startswith("kube-"):
        problems.add(file, "name", f"'{tenant.name}' is {taken or 'a Kubernetes system namespace (kube-*)'}",
                     "choose another tenant name (and rename the file)")
    if not platform.policy.allow_system_subjects:
        for index, member in enumerate(tenant.members):
            kind, name = member.subject
            if name.startswith(SYSTEM_PREFIX):
                problems.add(file, f"members[{index}].{kind.lower()}",
                             f"'{name}' is a Kubernetes system subject (it can stand for every user or none)",
                             "name people and groups of your identity provider; a platform may opt in with "
                             "policy.allowSystemSubjects: true")
    if not platform.policy.allow_egress_everywhere:
        _egress_everywhere(tenant, file, problems)


def _egress_everywhere(tenant: Tenant, file: str, problems: Problems) -> None:
    cidrs = [parse_cidr(rule.cidr) for rule in tenant.network.egress]  # validated: canonical already
    for version, everything in EVERYWHERE.items():
        family = [c for c in cidrs if c.version == version]
        if sum(c.num_addresses for c in family) < everything.num_addresses:
            continue  # fewer addresses than the whole space (overlaps only make it fewer): cannot cover it
        if list(ipaddress.collapse_addresses(family)) == [everything]:  # type: ignore[type-var]
            problems.add(file, "network.egress", f"the egress CIDRs together open every address ({everything})",
                         "list the networks the tenant needs; a platform may opt in with "
                         "policy.allowEgressEverywhere: true")


def check_platform(platform: Platform, file: str, problems: Problems) -> None:
    if platform.policy.allow_any_registry:
        return
    if not platform.allowed_registries:
        problems.add(file, "allowedRegistries", "is empty, so images from every registry would be admitted",
                     "list the registries images may come from, e.g. [registry.example.com/ml/]; a platform may "
                     "opt in with policy.allowAnyRegistry: true")
    else:
        for index, entry in enumerate(platform.allowed_registries):
            if not entry.strip():
                problems.add(file, f"allowedRegistries[{index}]", "an empty prefix admits images from every registry",
                             "list registries ending at a '/', e.g. registry.example.com/ml/; a platform may opt in "
                             "with policy.allowAnyRegistry: true")
