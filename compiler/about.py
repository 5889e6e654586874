"""`tenantc --version`: tenantc's version and the engines a compile would use.

A bug report needs more than tenantc's version: the output depends on which Jsonnet engine
evaluates the specs, which JSON Schema engine validates the objects, and which Kubernetes
versions kubernetes-validate has schemas for. Everything here is computed only when
`--version` is given, so importing this module costs nothing at start-up.
"""
from __future__ import annotations

import sys

from compiler.agent.about import AgentVersionAction


class VersionAction(AgentVersionAction):
    """`--version` of tenantc: the agent's lazy action with tenantc's text."""

    HELP = "show tenantc's version and the engines in use, then exit"

    @staticmethod
    def text() -> str:
        return version_text()


def version_text() -> str:
    from compiler import __version__

    rows = [("python", f"{sys.version.split()[0]} ({sys.implementation.name})"),
            ("jsonnet engine", _jsonnet()),
            ("json schema engine", _json_schema()),
            ("kubernetes schemas", _kubernetes_schemas()),
            ("yaml", _yaml())]
    width = max(len(label) for label, _ in rows) + 1
    return f"tenantc {__version__}\n" + "".join(f"  {label + ':':<{width}} {value}\n" for label, value in rows)


def distribution_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _engine_line(chosen: str, installed: list[str], env: str) -> str:
    import os

    others = [name for name in installed if name != chosen]
    why = f"chosen by {env}={os.environ[env]}" if os.environ.get(env) else "default"
    also = "".join(f"; also installed: {name} {distribution_version(name) or '?'}, chosen with {env}={name}"
                   for name in others)
    return f"{chosen} {distribution_version(chosen) or '?'} ({why}{also})"


def _jsonnet() -> str:
    from compiler.load.jsonnet_engine import JsonnetError, available_engines, default_engine

    try:
        chosen = default_engine()
    except JsonnetError as exc:
        return f"none usable: {exc}"
    return _engine_line(chosen, available_engines(), "TENANTC_JSONNET_ENGINE")


def _json_schema() -> str:
    from importlib.util import find_spec

    from compiler.errors import UserError
    from compiler.validate.engine import ENGINES, default_engine

    modules = {"jsonschema-rs": "jsonschema_rs", "jsonschema": "jsonschema"}
    installed = [name for name in ENGINES if find_spec(modules.get(name, name)) is not None]
    try:
        chosen = default_engine()
    except UserError as exc:
        return f"none usable: {exc}"
    return _engine_line(chosen, installed, "TENANTC_SCHEMA_ENGINE")


def _kubernetes_schemas() -> str:
    from compiler.validate.builtin import supported_versions

    package = f"kubernetes-validate {distribution_version('kubernetes-validate') or '?'}"
    try:
        versions = supported_versions()
    except (RuntimeError, OSError) as exc:
        return f"{package}: none found ({exc})"
    return f"{package}: Kubernetes {version_ranges(versions)} ({len(versions)} versions)"


def version_ranges(versions: tuple[str, ...] | list[str]) -> str:
    """'1.25-1.37' for consecutive minor versions, '1.25-1.27, 1.30' when some are missing."""
    parsed = sorted(tuple(int(x) for x in v.split(".")) for v in versions)
    groups: list[list[tuple[int, ...]]] = []
    for v in parsed:
        if groups and v[0] == groups[-1][-1][0] and v[1] == groups[-1][-1][1] + 1:
            groups[-1].append(v)
        else:
            groups.append([v])
    show = ".".join
    return ", ".join(show(map(str, g[0])) if len(g) == 1 else f"{show(map(str, g[0]))}-{show(map(str, g[-1]))}"
                     for g in groups) or "none"


def _yaml() -> str:
    import yaml

    loader = "libyaml C loader" if getattr(yaml, "__with_libyaml__", False) else "pure Python (no libyaml)"
    return f"PyYAML {yaml.__version__}, {loader}"
