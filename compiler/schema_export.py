"""JSON Schemas of the spec files, generated from the models, for editors and CI.

Example files carry a `# yaml-language-server: $schema=../schemas/<x>.schema.json` modeline,
so editors complete and flag fields; `tenantc check` fails when these files are stale.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from compiler.model.platform import Platform
from compiler.model.tenant import Tenant

SCHEMA_DIR = "schemas"
MODELS: dict[str, type[BaseModel]] = {"tenant.schema.json": Tenant, "platform.schema.json": Platform}


def schema_files() -> dict[str, bytes]:
    out = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = name
        out[f"{SCHEMA_DIR}/{name}"] = (json.dumps(schema, indent=2, sort_keys=True) + "\n").encode()
    return out


def stale_schema_files(root: Path) -> list[str]:
    return [rel for rel, content in schema_files().items()
            if not (root / rel).is_file() or (root / rel).read_bytes() != content]


def write_schema_files(root: Path) -> list[str]:
    written = []
    for rel, content in schema_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != content:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(content)
            tmp.replace(path)
            written.append(rel)
    return written
