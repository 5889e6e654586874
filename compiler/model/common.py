"""Shared building blocks of the spec models: strict base model, names, quantities.

Models are pydantic v2 with extra="forbid" (a typo is an error, not a silently ignored key)
and camelCase field names in YAML, so error paths read like the user's file.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from compiler.model.checks import check_email
from compiler.quantity import Quantity, QuantityError

_WHITESPACE = re.compile(r"\s")  # what str.isspace() calls whitespace (sre tests it with the same function)
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Longest tenant name: derived names such as '<tenant>-agent-scaler-<dataset>' must stay
# within the 63 characters of a DNS label; 30 leaves room for the longest suffix we add.
MAX_TENANT_NAME = 30


class Spec(BaseModel):
    """Base of every spec model: unknown keys are errors; YAML keys are camelCase."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
    )


def _parse_quantity(value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    try:
        quantity = Quantity.parse(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from None
    if quantity.value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return quantity


def _parse_count(value: Any) -> Quantity:
    quantity = _parse_quantity(value)
    if not quantity.is_whole():
        raise ValueError(f"must be a whole number, got {value}")
    return quantity


_QUANTITY_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "Kubernetes quantity, e.g. 4, 500m, 16Gi",
}
_COUNT_SCHEMA = {
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\d+$"}],
    "description": "a whole number",
}

QuantityField = Annotated[
    Quantity,
    BeforeValidator(_parse_quantity),
    PlainSerializer(lambda q: q.canonical(), return_type=str),
    WithJsonSchema(_QUANTITY_SCHEMA),
]
"""A non-negative Kubernetes quantity (cpu, memory, storage)."""

CountField = Annotated[
    Quantity,
    BeforeValidator(_parse_count),
    PlainSerializer(lambda q: q.canonical(), return_type=str),
    WithJsonSchema(_COUNT_SCHEMA),
]
"""A whole, non-negative number of things (GPUs, pods, claims)."""


def check_dns_label(value: str, max_len: int = 63) -> str:
    if len(value) > max_len:
        raise ValueError(f"'{value}' is {len(value)} characters; at most {max_len} allowed")
    if not DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)"
        )
    return value


DnsName = Annotated[
    str,
    BeforeValidator(lambda v: check_dns_label(v) if isinstance(v, str) else v),
    WithJsonSchema({"type": "string", "pattern": DNS1123_LABEL.pattern, "maxLength": 63}),
]


def duplicate_names(names: list[str]) -> list[str]:
    """Names that appear more than once, sorted (for 'duplicate ...' validation errors)."""
    if len(set(names)) == len(names):
        return []  # the usual case, several times per spec: no counting
    return sorted(name for name, count in Counter(names).items() if count > 1)


def user_handle(user: str) -> str:
    """'Lena.Ko@example.com' -> 'lena-ko': a DNS-safe name for per-user objects (home, notebook)."""
    local = user.split("@", 1)[0].lower()
    return re.sub(r"[^a-z0-9-]+", "-", local).strip("-")[:30] or "user"


class Member(Spec):
    """A user or a group with one of the built-in roles (never cluster-admin)."""

    user: str | None = None
    group: str | None = None
    role: Literal["admin", "edit", "view"]
    users: list[str] = Field(default_factory=list, description="a group's users who may have notebooks (and "
                             "home volumes): group membership lives in the identity provider, so the spec lists them")

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> Member:
        if bool(self.user) == bool(self.group):
            raise ValueError("set exactly one of user or group")
        if self.users and not self.group:
            raise ValueError("only a group lists users")
        for user in self.users:
            check_email(user)
        return self

    @field_validator("user", "group")
    @classmethod
    def _plain_subject(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if len(value) > 253 or _WHITESPACE.search(value):
            raise ValueError(f"'{value}' is not a user or group name (no spaces, at most 253 characters)")
        if "@" in value and not value.startswith("system:"):
            check_email(value)
        return value

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


_NO_QUOTA = Quota()


def quota_of(**amounts: Any) -> Quota:
    """A Quota of amounts already validated (parts of a split quota): pydantic's `model_copy` of an
    empty Quota, as `model_construct` would make it at half the cost (that looks up every field's
    aliases), for a plan makes thousands. `gpu` is a fresh dict unless given."""
    return _NO_QUOTA.model_copy(update={"gpu": {}, **amounts})


class WeightOrQuota(Spec):
    """A share of a total: a weight, or explicit amounts (a cluster's, a project's)."""

    weight: int | None = Field(default=None, ge=0)
    quota: Quota | None = None

    @model_validator(mode="after")
    def _weight_or_quota(self) -> WeightOrQuota:
        if (self.weight is None) == (self.quota is None):
            raise ValueError("set exactly one of weight or quota")
        return self
