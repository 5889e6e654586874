"""A tenant's projects: each is a namespace of its own on every cluster the tenant uses, with
members of its own (the tenant's admins are admins there too), its own part of the tenant's
quota and a Volcano queue under the tenant's queue (compiler/plan/projects.py decides them)."""
from __future__ import annotations

from pydantic import Field, field_validator

from compiler.model.common import Member, Spec, WeightOrQuota, check_dns_label

# The tenant's own namespace keeps its workloads in a leaf queue of this suffix once the tenant
# has projects (Volcano admits jobs into leaf queues only), so no project may take the name.
OWN_QUEUE_SUFFIX = "default"


class NamespaceShare(WeightOrQuota):
    """A namespace's part of the tenant's quota: a weight (0 allowed), or explicit amounts (a
    resource left out is 0); like a cluster's share of the logical quota."""


class Project(Spec):
    """A team inside the tenant: namespace '<tenant>-<name>' and queue '<tenant>-<name>'."""

    name: str
    members: list[Member] = Field(default_factory=list,
                                  description="the project's own members; the tenant's admins are admins here too")
    share: NamespaceShare = Field(description="this project's part of the tenant's quota: {weight: N} or "
                                  "{quota: {...}}; the parts of all projects and of the tenant's own namespace "
                                  "(ownShare) add up to the tenant's quota")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        check_dns_label(value)
        if value == OWN_QUEUE_SUFFIX:
            raise ValueError(f"'{value}' is reserved (the queue of the tenant's own namespace); choose another name")
        return value


def check_projects(projects: list[Project], own_share: NamespaceShare | None, tenant: str,
                   max_name: int = 63) -> None:
    """What one tenant file can tell about its projects (raises ValueError)."""
    if not projects:
        if own_share is not None:
            raise ValueError("ownShare: only meaningful with projects; remove it or add projects")
        return
    names = [p.name for p in projects]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate names in projects: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    for project in projects:
        namespace = f"{tenant}-{project.name}"
        if len(namespace) > max_name:
            raise ValueError(f"project '{project.name}': its namespace '{namespace}' is {len(namespace)} characters, "
                             f"at most {max_name}; choose a shorter project name")
    kinds = {p.share.weight is not None for p in projects}
    if own_share is not None:
        kinds.add(own_share.weight is not None)
    if len(kinds) > 1:
        raise ValueError("projects: use weights for every project (and ownShare) or explicit quota for all, not both")


__all__ = ["Project", "NamespaceShare", "OWN_QUEUE_SUFFIX", "check_projects"]
