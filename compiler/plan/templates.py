"""Job templates: a template merged with the chain of templates it `extends`, a tenant's own
templates before the platform's."""
from __future__ import annotations

from typing import Any

from compiler.errors import Problems
from compiler.model import Specs, TenantSpec
from compiler.model.workloads import Template


def _template_dict(template: Template) -> dict[str, Any]:
    return template.model_dump(exclude_none=True, exclude={"name", "extends", "publish"}, exclude_defaults=False)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: dicts merge key by key, role lists merge by role name, the rest overrides."""
    out = dict(base)
    for key, value in override.items():
        if key == "roles":
            by_name = {r["name"]: r for r in out.get("roles", [])}
            for role in value:
                by_name[role["name"]] = merge(by_name.get(role["name"], {}), role)
            out["roles"] = list(by_name.values())
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def find_template(name: str, spec: TenantSpec, specs: Specs) -> Template | None:
    own = next((t for t in spec.tenant.templates if t.name == name), None)
    return own or next((t for t in specs.platform.templates if t.name == name), None)


def resolve_template(name: str, spec: TenantSpec, specs: Specs, problems: Problems, where: str,
                     chain: list[str] | None = None) -> dict | None:
    """The template `name` merged with its `extends` chain; `chain` names templates already
    on the way (a template checking its own parent)."""
    chain = list(chain or [])
    data: dict[str, Any] = {}
    current: str | None = name
    layers = []
    while current is not None:
        if current in chain:
            problems.add(spec.source.path, where,
                         f"templates extend each other in a cycle: {' -> '.join(chain + [current])}", "break the cycle")
            return None
        template = find_template(current, spec, specs)
        if template is None:
            problems.add(spec.source.path, where, f"unknown template '{current}'",
                         "use a template of this tenant or of the platform")
            return None
        chain.append(current)
        layers.append(template)
        current = template.extends
    for template in reversed(layers):
        data = merge(data, _template_dict(template))
    data["publish"] = layers[0].publish
    return data


def check_extends(spec: TenantSpec, specs: Specs, problems: Problems) -> None:
    """A cycle or an unknown parent is an error even in a template no job uses."""
    for i, template in enumerate(spec.tenant.templates):
        if template.extends is not None:
            resolve_template(template.extends, spec, specs, problems, f"templates[{i}].extends", chain=[template.name])
