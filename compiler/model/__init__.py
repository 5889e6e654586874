"""Model stage: plain data -> validated pydantic specs, every error with file and field path."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from compiler.errors import Problems
from compiler.load.sources import Source, Sources
from compiler.model.platform import Platform
from compiler.model.policy import check_platform, check_tenant
from compiler.model.tenant import Tenant

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class TenantSpec:
    """A validated tenant and the file it came from."""

    tenant: Tenant
    source: Source


@dataclass(frozen=True)
class Specs:
    """Every validated spec of a repository, with the source each came from (for messages)."""

    platform: Platform
    platform_source: Source
    tenants: list[TenantSpec]

    def tenant(self, name: str) -> TenantSpec | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, TenantSpec]:
        """Renderers and checks look tenants up by name thousands of times: index once."""
        return {t.tenant.name: t for t in self.tenants}


def field_path(loc: tuple[Any, ...]) -> str:
    """('members', 1, 'role') -> 'members[1].role'; pydantic's internal tags are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue  # union/validator tags such as 'function-before[...]'
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(error: ErrorDetails) -> tuple[str, str]:
    kind, msg = error["type"], error["msg"]
    msg = msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field", "remove it or check the spelling against schemas/*.schema.json"
    if kind == "missing":
        return "required field is missing", "add it"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{msg}, got {error.get('input')!r}", ""
    return msg, ""


def validate_model(model: type[M], source: Source, problems: Problems) -> M | None:
    try:
        # Spec files are read by alias only: `display_name:` is an unknown field, as the JSON
        # Schemas say, not a second spelling of displayName (code may still build by name).
        return model.model_validate(source.data, by_alias=True, by_name=False)
    except ValidationError as exc:
        for error in exc.errors():
            message, hint = _message(error)
            problems.add(source.path, field_path(error["loc"]), message, hint)
        return None


def build_specs(sources: Sources, problems: Problems) -> Specs | None:
    """Validate every file; a tenant's name must equal its file stem and be unique. The models
    in `sources.validated` are taken as they are; a tenant's checks against the platform are
    skipped when both models are taken (the compile that validated them checked them)."""
    validated = sources.validated
    platform = None if sources.platform is None else \
        validated.get(sources.platform.path) or validate_model(Platform, sources.platform, problems)
    platform_taken = sources.platform is not None and sources.platform.path in validated
    tenants: list[TenantSpec] = []
    seen: dict[str, str] = {}
    for source in sources.tenants:
        tenant = validated.get(source.path) or validate_model(Tenant, source, problems)
        if tenant is None:
            continue
        if tenant.name != source.stem:
            problems.add(source.path, "name", f"'{tenant.name}' differs from the file name '{source.stem}'",
                         f"rename the file to {tenant.name}{source.path[source.path.rfind('.'):]} or change name")
            continue
        if tenant.name in seen:
            problems.add(source.path, "name", f"duplicate tenant name '{tenant.name}' (also in {seen[tenant.name]})",
                         "tenant names must be unique")
            continue
        seen[tenant.name] = source.path
        tenants.append(TenantSpec(tenant, source))
    if platform is None or sources.platform is None:
        return None
    check_platform(platform, sources.platform.path, problems)
    for spec in tenants:
        if not (platform_taken and spec.source.path in validated):
            check_tenant(platform, spec.tenant, spec.source.path, problems)
    return Specs(platform, sources.platform, tenants)
