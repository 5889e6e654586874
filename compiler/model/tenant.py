"""A tenant spec (tenants/<name>.yaml or .jsonnet): people, quota, queue, network wishes."""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from compiler.model.checks import Email
from compiler.model.common import (
    MAX_TENANT_NAME,
    DnsName,
    Member,
    QuantityField,
    Quota,
    Spec,
    WeightOrQuota,
    check_dns_label,
    duplicate_names,
    user_handle,
)
from compiler.model.data import Dataset, DatasetImport, Storage
from compiler.model.projects import NamespaceShare, Project, check_projects
from compiler.model.scopes import QuotaScopes
from compiler.model.serving import Serving
from compiler.model.workloads import Job, Notebook, NotebookDefaults, Pipeline, Schedule, Template

RESERVED_TENANT_NAMES = {"platform", "default", "kube-system", "kube-public", "kube-node-lease"}


class ClusterShare(WeightOrQuota):
    """How much of the logical quota one cluster gets: a weight, or explicit amounts."""

    weight: int | None = Field(default=None, ge=1)


class QueueSpec(Spec):
    weight: int = Field(default=1, ge=1)
    reclaimable: bool = True
    guarantee: Quota | None = Field(default=None,
                                    description="resources always kept for this queue (split like the quota)")
    parent: str | None = Field(default=None, description="a platform queue or another tenant; default the root queue")
    priority: int | None = Field(default=None, ge=0)


class ContainerDefaults(Spec):
    default: dict[str, QuantityField] = Field(default_factory=dict, description="default limits")
    default_request: dict[str, QuantityField] = Field(default_factory=dict)


class PortSpec(Spec):
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


@lru_cache(maxsize=4096)
def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR as a network (no host bits allowed); ValueError when not one. Tenants list the
    same few CIDRs again and again: each is parsed once, for validation and policy alike."""
    return ipaddress.ip_network(value, strict=True)


class EgressRule(Spec):
    cidr: str
    ports: list[PortSpec] = Field(default_factory=list)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            return str(parse_cidr(value))
        except ValueError as exc:
            raise ValueError(f"not a CIDR ({exc}); write e.g. 10.20.0.0/16") from None


class NetworkSpec(Spec):
    """Who may reach the tenant and where it may go; everything else is denied."""

    allow_from_tenants: list[str] = Field(
        default_factory=list, description="tenants whose pods may connect to this tenant's pods (their egress to "
        "this tenant is opened too)")
    allow_from_ingress: bool = Field(
        default=True, description="let the platform's ingress gateway reach this tenant's notebooks that ask for "
        "an Ingress (their HTTP port only); nothing else of the tenant is reachable from the gateway")
    egress: list[EgressRule] = Field(default_factory=list)


class Tenant(Spec):
    name: str
    display_name: str
    owner: Email
    members: list[Member] = Field(default_factory=list)
    quota: Quota
    placement: dict[str, ClusterShare] = Field(min_length=1, description="cluster name -> share")
    quota_scopes: QuotaScopes = Field(
        default_factory=QuotaScopes, description="caps within the quota per priority class and per storage class "
        "(split over the clusters like the quota; in the tenant's own namespace)")
    queue: QueueSpec = Field(default_factory=QueueSpec)
    container_defaults: ContainerDefaults = Field(default_factory=ContainerDefaults)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    storage: Storage = Field(default_factory=Storage)
    datasets: list[Dataset] = Field(default_factory=list)
    imports: list[DatasetImport] = Field(default_factory=list)
    notebooks: list[Notebook] = Field(default_factory=list)
    notebook_defaults: NotebookDefaults = Field(default_factory=NotebookDefaults,
                                                description="image, size, cluster and ingress of notebooks that "
                                                "leave them out")
    templates: list[Template] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    servings: list[Serving] = Field(default_factory=list,
                                    description="models served online (compiler/model/serving.py)")
    own_share: NamespaceShare | None = Field(
        default=None, description="with projects: the tenant's own namespace's part of the quota (default "
        "{weight: 1} when projects use weights; with explicit project quotas, what is left must be given here)")
    projects: list[Project] = Field(
        default_factory=list, description="namespaces '<tenant>-<project>' with members, quota and queue of "
        "their own (compiler/model/projects.py)")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        check_dns_label(value, MAX_TENANT_NAME)
        if value in RESERVED_TENANT_NAMES:
            raise ValueError(f"'{value}' is reserved; choose another tenant name")
        return value

    @field_validator("projects")
    @classmethod
    def _valid_projects(cls, value: list[Project], info: ValidationInfo) -> list[Project]:
        check_projects(value, info.data.get("own_share"), info.data.get("name", ""))
        return value

    @model_validator(mode="after")
    def _placement_is_all_weights_or_all_amounts(self) -> Tenant:
        kinds = {share.weight is not None for share in self.placement.values()}
        if len(kinds) > 1:
            raise ValueError("placement: use weights for every cluster or explicit quota for every cluster, not both")
        return self

    @model_validator(mode="after")
    def _unique_workload_names(self) -> Tenant:
        groups = {
            "datasets": [d.name for d in self.datasets] + [i.local_name for i in self.imports],
            "templates": [t.name for t in self.templates],
            # servings too: a Volcano job's svc plugin makes a Service of the job's name
            "jobs": [j.name for j in self.jobs] + [s.name for s in self.schedules] + [p.name for p in self.pipelines]
            + [s.name for s in self.servings],
            "notebooks": [f"{n.user} {n.name}" if n.name else n.user for n in self.notebooks],
        }
        for label, names in groups.items():
            dupes = duplicate_names(names)
            if dupes:
                raise ValueError(f"duplicate names in {label}: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _user_handles_distinct(self) -> Tenant:
        seen: dict[str, str] = {}
        for user in self.notebook_users():
            handle = user_handle(user)
            if handle in seen:
                raise ValueError(f"members '{seen[handle]}' and '{user}' both map to the name '{handle}' used for "
                                 "their home volume and notebook; rename one")
            seen[handle] = user
        return self

    @model_validator(mode="after")
    def _one_role_per_member(self) -> Tenant:
        seen: dict[tuple[str, str], str] = {}
        for member in self.members:
            first = seen.setdefault(member.subject, member.role)
            if first != member.role:
                kind, name = member.subject
                raise ValueError(f"members: {kind.lower()} '{name}' is listed as {first} and as {member.role}; "
                                 "list each user or group once, with one role")
        return self

    @model_validator(mode="after")
    def _owner_is_a_member(self) -> Tenant:
        if self.owner not in self.user_members():
            raise ValueError(f"owner '{self.owner}' is not a member user; add {{user: {self.owner}, role: admin}} "
                             "to members")
        return self

    def user_members(self) -> list[str]:
        return sorted({m.user for m in self.members if m.user})

    def notebook_ingress(self, nb: Notebook) -> bool:
        """Whether a notebook asks for an Ingress: its own say, else the tenant's default."""
        return nb.ingress if nb.ingress is not None else bool(self.notebook_defaults.ingress)

    def notebook_users(self) -> list[str]:
        """Who may have notebooks and home volumes: member users and the users member groups list."""
        return sorted({*self.user_members(), *(u for m in self.members for u in m.users)})


__all__ = ["Tenant", "Member", "Quota", "ClusterShare", "QueueSpec", "NetworkSpec", "DnsName"]
