"""YAML in and out through libyaml when present (PyYAML's C loader/dumper is ~10x faster
than the pure-Python one); the pure-Python classes are the fallback and give the same data.

Output is deterministic: sorted keys, block style, no aliases, no timestamps.
"""
from __future__ import annotations

import re
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


class _NoAliasDumper(_Dumper):
    def ignore_aliases(self, data: Any) -> bool:  # identical sub-dicts are written out, not anchored
        return True


def load(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_Loader)


def more_nodes_than(text: str | bytes, cap: int) -> bool:
    """True when the document has more than `cap` nodes (aliases count once): libyaml's event
    stream, stopped at the cap, costs a fraction of building the objects."""
    for count, _ in enumerate(yaml.parse(text, Loader=_Loader)):
        if count > cap:
            return True
    return False


def dump(data: Any) -> str:
    """Block-style YAML with sorted keys. Objects made only of mappings, lists, ints, bools and
    simple strings take a fast path (PyYAML's representer is pure Python and costs ~150 us per
    rendered object); anything else goes through PyYAML. Both give the same bytes (tested)."""
    if isinstance(data, dict):
        try:
            return _fast_document(data)
        except (_Unsupported, TypeError):  # TypeError: keys sorted() cannot compare
            pass
    return dump_pyyaml(data)


def dump_pyyaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=120)


def dump_all(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_NoAliasDumper, sort_keys=True,
                         default_flow_style=False, allow_unicode=True, width=120)


YAMLError = yaml.YAMLError


# -- the fast path of dump() ---------------------------------------------------------------
# It mirrors what PyYAML + libyaml emit for the subset it accepts, and refuses the rest:
# strings are accepted only when made of characters that are never YAML indicators where
# they stand (no spaces, quotes, '#', ': ', flow characters, non-ASCII), so no line folding,
# escaping or indicator analysis is ever needed. Such a string is written plain unless the
# resolver would read it back as another type ('200', 'true', 'null', '1.5', '') - then in
# single quotes, as libyaml does. Nested lists, floats and long keys are refused.
class _Unsupported(Exception):
    pass


# no '---'/'...' start (document markers), no indicator first, ':' only before another character
# ',' may follow the first character: it is a flow indicator only, and tenantc writes block
# style, where PyYAML and libyaml keep such scalars plain ("Prune=false,Delete=false").
_SIMPLE = re.compile(r"(?!---|\.\.\.)(?:[A-Za-z0-9_/.]|-(?=[A-Za-z0-9_./@=-]))[A-Za-z0-9_./@=,-]*"
                     r"(?::[A-Za-z0-9_./@=,-]+)*\Z")
_MAX_SIMPLE_KEY = 128  # libyaml writes longer keys in the explicit '? key' form
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()


_SCALARS: dict[str, str] = {}  # string -> how it is written (the same names recur a lot)


def _scalar(text: str) -> str:
    written = _SCALARS.get(text)
    if written is not None:
        return written
    if text == "":
        written = "''"
    elif not _SIMPLE.match(text):
        raise _Unsupported(text)
    elif _resolver.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        written = f"'{text}'"  # would read back as a number, bool, null or date
    else:
        written = text
    if len(_SCALARS) < 200_000:
        _SCALARS[text] = written
    return written


def _inline(value: Any) -> str:
    """A value written on its key's line or after '- ': a scalar or an empty collection."""
    kind = type(value)
    if kind is str:
        return _SCALARS.get(value) or _scalar(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    raise _Unsupported(kind.__name__)


def _mapping(data: dict, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key in sorted(data):
        if type(key) is not str or len(key) > _MAX_SIMPLE_KEY:
            raise _Unsupported(repr(key))
        value = data[key]
        kind = type(value)
        if kind is dict and value:
            out.append(f"{pad}{_SCALARS.get(key) or _scalar(key)}:\n")
            _mapping(value, indent + 2, out)
        elif kind is list and value:
            out.append(f"{pad}{_SCALARS.get(key) or _scalar(key)}:\n")
            _sequence(value, indent, out)  # block sequences in a mapping are not indented
        else:
            out.append(f"{pad}{_SCALARS.get(key) or _scalar(key)}: {_inline(value)}\n")


def _sequence(items: list, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        kind = type(item)
        if kind is dict and item:
            start = len(out)
            _mapping(item, indent + 2, out)
            out[start] = f"{pad}- {out[start][indent + 2:]}"
        elif kind is list and item:
            raise _Unsupported("nested list")
        else:
            out.append(f"{pad}- {_inline(item)}\n")


def _fast_document(data: dict) -> str:
    if not data:
        return "{}\n"
    out: list[str] = []
    _mapping(data, 0, out)
    return "".join(out)
