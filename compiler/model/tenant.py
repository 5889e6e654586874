"""A tenant spec (tenants/<name>.yaml or .jsonnet): people, quota, queue, network wishes."""
from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from compiler.model.common import (
    MAX_TENANT_NAME,
    CountField,
    DnsName,
    QuantityField,
    Spec,
    check_dns_label,
    duplicate_names,
    user_handle,
)
from compiler.model.data import Dataset, DatasetImport, Storage
from compiler.model.serving import Serving
from compiler.model.workloads import Job, Notebook, Pipeline, Schedule, Template

RESERVED_TENANT_NAMES = {"platform", "default", "kube-system", "kube-public", "kube-node-lease"}


class Member(Spec):
    """A user or a group with one of the built-in roles (never cluster-admin)."""

    user: str | None = None
    group: str | None = None
    role: Literal["admin", "edit", "view"]

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> Member:
        if bool(self.user) == bool(self.group):
            raise ValueError("set exactly one of user or group")
        return self

    @property
    def subject(self) -> tuple[str, str]:
        return ("User", self.user) if self.user else ("Group", self.group or "")


class Quota(Spec):
    """The logical quota: the total across all clusters the tenant is placed on."""

    cpu: QuantityField | None = None
    memory: QuantityField | None = None
    gpu: dict[str, CountField] = Field(default_factory=dict, description="GPUs per model, e.g. {A100: 16}")
    pods: CountField | None = None
    pvcs: CountField | None = None
    storage: QuantityField | None = None


class ClusterShare(Spec):
    """How much of the logical quota one cluster gets: a weight, or explicit amounts."""

    weight: int | None = Field(default=None, ge=1)
    quota: Quota | None = None

    @model_validator(mode="after")
    def _weight_or_quota(self) -> ClusterShare:
        if (self.weight is None) == (self.quota is None):
            raise ValueError("set exactly one of weight or quota")
        return self


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


class EgressRule(Spec):
    cidr: str
    ports: list[PortSpec] = Field(default_factory=list)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value, strict=True))
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
    owner: str
    members: list[Member] = Field(default_factory=list)
    quota: Quota
    placement: dict[str, ClusterShare] = Field(min_length=1, description="cluster name -> share")
    queue: QueueSpec = Field(default_factory=QueueSpec)
    container_defaults: ContainerDefaults = Field(default_factory=ContainerDefaults)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    storage: Storage = Field(default_factory=Storage)
    datasets: list[Dataset] = Field(default_factory=list)
    imports: list[DatasetImport] = Field(default_factory=list)
    notebooks: list[Notebook] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    servings: list[Serving] = Field(default_factory=list,
                                    description="models served online (compiler/model/serving.py)")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        check_dns_label(value, MAX_TENANT_NAME)
        if value in RESERVED_TENANT_NAMES:
            raise ValueError(f"'{value}' is reserved; choose another tenant name")
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
            "notebooks": [n.user for n in self.notebooks],
        }
        for label, names in groups.items():
            dupes = duplicate_names(names)
            if dupes:
                raise ValueError(f"duplicate names in {label}: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _user_handles_distinct(self) -> Tenant:
        seen: dict[str, str] = {}
        for user in self.user_members():
            handle = user_handle(user)
            if handle in seen:
                raise ValueError(f"members '{seen[handle]}' and '{user}' both map to the name '{handle}' used for "
                                 "their home volume and notebook; rename one")
            seen[handle] = user
        return self

    def user_members(self) -> list[str]:
        return sorted({m.user for m in self.members if m.user})


__all__ = ["Tenant", "Member", "Quota", "ClusterShare", "QueueSpec", "NetworkSpec", "DnsName"]
