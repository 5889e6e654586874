"""The one seam for JSON Schema validation.

`jsonschema-rs` (Rust) checks a rendered object in microseconds once a schema is compiled;
`jsonschema` (pure Python, the design's dependency) is the fallback and the reference. Both
report unknown fields with their path. TENANTC_SCHEMA_ENGINE=jsonschema forces the fallback;
tests check that both give the same verdicts and paths.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

from compiler.errors import UserError

ENGINES = ("jsonschema-rs", "jsonschema")


@dataclass(frozen=True, order=True)
class SchemaViolation:
    """One way an object breaks its schema."""

    path: str  # dotted path into the object, e.g. spec.hard
    message: str


class CompiledSchema(Protocol):
    """A schema compiled by one engine, ready to check many objects."""

    def violations(self, instance: Any) -> list[SchemaViolation]: ...


def _dotted(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(root)"


class _RustSchema:
    def __init__(self, schema: dict) -> None:
        import jsonschema_rs

        self._validator = jsonschema_rs.validator_for(schema)

    def violations(self, instance: Any) -> list[SchemaViolation]:
        if self._validator.is_valid(instance):  # the fast path: no error objects built
            return []
        errors = self._validator.iter_errors(instance)
        return sorted({SchemaViolation(_dotted(e.instance_path), e.message) for e in errors})


class _PythonSchema:
    def __init__(self, schema: dict) -> None:
        import jsonschema

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self._validator = cls(schema)

    def violations(self, instance: Any) -> list[SchemaViolation]:
        errors = self._validator.iter_errors(instance)
        return sorted({SchemaViolation(_dotted(e.absolute_path), e.message) for e in errors})


def default_engine() -> str:
    wanted = os.environ.get("TENANTC_SCHEMA_ENGINE")
    if wanted:
        if wanted not in ENGINES:
            raise UserError(f"TENANTC_SCHEMA_ENGINE={wanted}: not an engine; unset it or choose one of "
                            f"{', '.join(ENGINES)}")
        return wanted
    try:
        import jsonschema_rs  # noqa: F401

        return "jsonschema-rs"
    except ImportError:  # pragma: no cover - the wheel is a dependency
        return "jsonschema"


def compile_schema(schema: dict, engine: str | None = None) -> CompiledSchema:
    engine = engine or default_engine()
    return _RustSchema(schema) if engine == "jsonschema-rs" else _PythonSchema(schema)
