"""YAML in and out through libyaml when present (PyYAML's C loader/dumper is ~10x faster
than the pure-Python one); the pure-Python classes are the fallback and give the same data.

Output is deterministic: sorted keys, block style, no aliases, no timestamps.
"""
from __future__ import annotations

from typing import Any

import yaml

try:  # the seam: libyaml when the wheel has it
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader

    ENGINE = "libyaml"
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

    ENGINE = "python"


class _NoAliasDumper(_Dumper):  # type: ignore[misc,valid-type]
    def ignore_aliases(self, data: Any) -> bool:  # identical sub-dicts are written out, not anchored
        return True


def load(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_Loader)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=120)


def dump_all(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_NoAliasDumper, sort_keys=True,
                         default_flow_style=False, allow_unicode=True, width=120)


YAMLError = yaml.YAMLError
