"""One tenant's settings against the platform and the other tenants: the tenants it lets in
over the network exist (and which tenants let it in); its container defaults stay within the platform's maxima and are
merged over the platform's into the limits its LimitRange gets."""
from __future__ import annotations

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.quantity import Quantity

LimitRangeLimits = dict[str, dict[str, Quantity]]  # LimitRange field (default, max, ...) -> resource -> amount


def check_allowed_from(specs: Specs, problems: Problems) -> None:
    names = {t.tenant.name for t in specs.tenants}
    for spec in specs.tenants:
        for i, other in enumerate(spec.tenant.network.allow_from_tenants):
            if other not in names:
                problems.add(spec.source.path, f"network.allowFromTenants[{i}]", f"unknown tenant '{other}'",
                             "name an existing tenant (its file stem)")


def tenants_letting_in(specs: Specs) -> dict[str, list[str]]:
    """Tenant -> the other tenants that list it in `network.allowFromTenants`, sorted. A
    connection needs both ends open: their specs decide the tenant's egress to them, so they
    are also among the specs its units read."""
    out: dict[str, set[str]] = {}
    for spec in specs.tenants:
        for sender in spec.tenant.network.allow_from_tenants:
            if sender != spec.tenant.name:
                out.setdefault(sender, set()).add(spec.tenant.name)
    return {sender: sorted(receivers) for sender, receivers in out.items()}


def container_limits(spec: TenantSpec, specs: Specs) -> LimitRangeLimits:
    """The tenant's container defaults over the platform's, with the platform's maxima and
    minima; fields without any amount are left out."""
    platform, tenant = specs.platform.defaults.limit_range, spec.tenant.container_defaults
    fields = {
        "default": {**platform.default, **tenant.default},
        "defaultRequest": {**platform.default_request, **tenant.default_request},
        "max": dict(platform.max),
        "min": dict(platform.min),
    }
    return {key: values for key, values in fields.items() if values}


def check_container_defaults(spec: TenantSpec, specs: Specs, problems: Problems) -> None:
    maxima = specs.platform.defaults.limit_range.max
    defaults = spec.tenant.container_defaults
    for field_name, values in (("default", defaults.default), ("defaultRequest", defaults.default_request)):
        for resource, value in values.items():
            ceiling = maxima.get(resource)
            if ceiling is not None and value.value > ceiling.value:
                problems.add(spec.source.path, f"containerDefaults.{field_name}.{resource}",
                             f"{value} is above the platform maximum {ceiling}",
                             "lower it to the platform maximum or below")
    for resource, request in defaults.default_request.items():
        limit = defaults.default.get(resource)
        if limit is not None and request.value > limit.value:
            problems.add(spec.source.path, f"containerDefaults.defaultRequest.{resource}",
                         f"request {request} is above the default limit {limit}", "a request cannot exceed its limit")
