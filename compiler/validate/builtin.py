"""Strict schemas of built-in kinds for a cluster's Kubernetes version.

The schemas come from the `kubernetes-validate` package (generated from the upstream OpenAPI
documents, `-strict` variants reject unknown fields). We read its files directly and compile
each kind once per version instead of calling its `validate()`, which rebuilds a validator
per object (about 9.5 ms each; compiled once, an object takes microseconds).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from compiler.validate.engine import CompiledSchema, compile_schema

_DEFS_REF = "/api/_definitions.json#/"


def _schema_root() -> Path:
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


@lru_cache(maxsize=None)
def supported_versions() -> tuple[str, ...]:
    found = []
    for entry in _schema_root().iterdir():
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", entry.name)
        if match:
            found.append((int(match[1]), int(match[2])))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def schema_version_for(kubernetes_version: str) -> str | None:
    """The newest schema set not newer than the cluster (as kubernetes-validate chooses)."""
    match = re.match(r"^v?(\d+)\.(\d+)", kubernetes_version)
    if not match:
        return None
    want = (int(match[1]), int(match[2]))
    candidates = [v for v in supported_versions() if tuple(map(int, v.split("."))) <= want]
    return candidates[-1] if candidates else None


@lru_cache(maxsize=None)
def _definitions(version: str) -> dict:
    path = _schema_root() / f"v{version}.0-local-strict" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


@lru_cache(maxsize=None)
def schema_for(version: str, api_version: str, kind: str, engine: str | None = None) -> CompiledSchema | None:
    """Compiled strict schema of a built-in kind, or None when the version has no such kind."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_root() / f"v{version}.0-local-strict" / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    # Inline the shared definitions so the schema is self-contained for either engine.
    schema = json.loads(path.read_text().replace(_DEFS_REF, "#/"))
    schema["$defs"] = _definitions(version)
    return compile_schema(schema, engine)
