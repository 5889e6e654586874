"""YAML in and out through libyaml when present (PyYAML's C loader/dumper is ~10x faster
than the pure-Python one); the pure-Python classes are the fallback and give the same data.
`load` builds the data of ordinary spec files from libyaml's events itself (below), 2-3x faster
than CSafeLoader (bench/yaml_bench.py), and leaves everything else to PyYAML.

Output is deterministic: sorted keys, block style, no aliases, no timestamps.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from compiler.load.limits import MAX_INT

try:  # the seam: libyaml when the wheel has it
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
    from yaml._yaml import CParser as _CParser

    ENGINE = "libyaml"
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

    _CParser = None  # type: ignore[assignment,misc]
    ENGINE = "python"


class _NoAliasDumper(_Dumper):
    def ignore_aliases(self, data: Any) -> bool:  # identical sub-dicts are written out, not anchored
        return True


@dataclass(frozen=True)
class Shape:
    """What the fast path saw while it built a document: how deep its containers nest (the
    root container is level 1), and whether it is ordinary: string keys only, and scalars that
    JSON gives back as they are and that fit an object (str, bool, None, ints within 64 bits,
    finite floats). No alias either (the fast path takes none), so nothing counts twice."""

    levels: int
    ordinary: bool


def load(text: str | bytes) -> Any:
    """The data of one YAML document, exactly as `load_pyyaml` gives it (or raises)."""
    return load_shaped(text)[0]


def load_shaped(text: str | bytes) -> tuple[Any, Shape | None]:
    """`load`, with the document's Shape when the fast path built it (None when PyYAML did)."""
    if _CParser is None:  # pragma: no cover - no libyaml: no events to build from
        return load_pyyaml(text), None
    try:
        return _load_fast(text)
    except Exception:  # unusual input or an error: PyYAML gives its own data or error
        return load_pyyaml(text), None


def load_pyyaml(text: str | bytes) -> Any:
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
# they stand (no quotes, '#', ': ', flow characters, non-ASCII, no space first or last), so no
# escaping or indicator analysis is ever needed. A value with a space ('0 2 * * *', a CronJob's
# schedule) is accepted only when its line ends within the width, where libyaml cannot fold it.
# Such a string is written plain unless the resolver would read it back as another type ('200',
# 'true', 'null', '1.5', '') - then in single quotes, as libyaml does. Nested lists, floats and
# long keys are refused.
# Keys are checked once per mapping shape (see _Indent): a key of a str subclass, which PyYAML
# refuses, is refused too unless a mapping with equal str keys was written before - then it is
# written as its text. tenantc's objects are built of plain str; values are always checked.
class _Unsupported(Exception):
    pass


# no '---'/'...' start (document markers), no indicator first, ':' only before another character
# ',' may follow the first character: it is a flow indicator only, and tenantc writes block
# style, where PyYAML and libyaml keep such scalars plain ("Prune=false,Delete=false").
# '*' and spaces may follow too: an alias indicator only first, and ' ' only before '#' or after
# ':', both excluded; a trailing space would be quoted.
_SIMPLE = re.compile(r"(?!---|\.\.\.)(?:[A-Za-z0-9_/.]|-(?=[A-Za-z0-9_./@=-]))[A-Za-z0-9_./@=,* -]*"
                     r"(?::[A-Za-z0-9_./@=,*-][A-Za-z0-9_./@=,* -]*)*(?<! )\Z")
_WIDTH = 120  # dump_pyyaml's: libyaml breaks a line at a space past this column
_MAX_SIMPLE_KEY = 128  # libyaml writes longer keys in the explicit '? key' form
_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()


def _scalar(text: str) -> str:
    """How a string is written, or _Unsupported."""
    if text == "":
        return "''"
    if not _SIMPLE.match(text):
        raise _Unsupported(text)
    if _resolver.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:
        return f"'{text}'"  # would read back as a number, bool, null or date
    return text


_ENDS: dict[str, str] = {}  # string -> how it ends a line (the same names recur a lot)


def _end(value: Any, column: int) -> str:
    """The end of the line of a value written on its key's line or after '- ' (a scalar or an
    empty collection), from `column` on: the value as written, and the newline."""
    kind = type(value)
    if kind is str:
        end = _ENDS.get(value)
        if end is None:
            end = _scalar(value) + "\n"
            if " " not in value:  # it cannot be folded: the same at any column
                if len(_ENDS) < 200_000:
                    _ENDS[value] = end
            elif column + len(end) > _WIDTH:  # ends past the width: libyaml may fold it
                raise _Unsupported(value)
        return end
    if kind is bool:
        return "true\n" if value else "false\n"
    if kind is int:
        return f"{value}\n"
    if value is None:
        return "null\n"
    if kind is dict and not value:
        return "{}\n"
    if kind is list and not value:
        return "[]\n"
    raise _Unsupported(kind.__name__)


class _Indent:
    """One indentation level of the output. Rendered objects repeat a few mapping shapes (the
    same keys in the same order: metadata, labels, a rule...), so each shape met at a level is
    planned once - keys checked, sorted and written out with their pad - and reused: a tuple of
    the keys per mapping instead of a sort and a key's look-up, check and formatting per key."""

    __slots__ = ("pad", "first_pad", "dash", "width", "plans", "inner", "items")

    def __init__(self, width: int, first_pad: str | None = None) -> None:
        self.width = width
        self.pad = " " * width
        self.first_pad = self.pad if first_pad is None else first_pad  # '  - ' in a sequence item
        self.dash = self.pad + "- "  # starts a sequence item: as wide as the next level's pad
        # keys in insertion order -> (key, 'pad key: ', 'pad key:\n') in sorted key order
        self.plans: dict[tuple, list[tuple[str, str, str]]] = {}
        # made when first needed: the level of a nested mapping, and of a sequence item's mapping
        # (two spaces in, its first key after the '- ' of the sequence at this level)
        self.inner: _Indent | None = None
        self.items: _Indent | None = None

    def nest(self) -> _Indent:
        self.inner = _Indent(self.width + 2)
        return self.inner

    def nest_items(self) -> _Indent:
        self.items = _Indent(self.width + 2, self.dash)
        return self.items

    def plan(self, keys: tuple) -> list[tuple[str, str, str]]:
        """The lines' starts of a mapping with these keys; _Unsupported for a key not written
        plain on its line (not a string, too long, or a string the fast path refuses)."""
        for key in keys:
            if type(key) is not str or len(key) > _MAX_SIMPLE_KEY:
                raise _Unsupported(repr(key))
        starts = [(key, f"{self.pad if index else self.first_pad}{_scalar(key)}:")
                  for index, key in enumerate(sorted(keys))]
        plan = [(key, f"{start} ", f"{start}\n") for key, start in starts]
        if len(self.plans) < 10_000:
            self.plans[keys] = plan
        return plan


_TOP = _Indent(0)


def _forget_dump_caches() -> None:
    """What dump() learnt, forgotten: bench/yaml_bench.py times dumps as a fresh compile runs them."""
    _ENDS.clear()
    _TOP.plans.clear()
    _TOP.inner = _TOP.items = None


def _mapping(data: dict, level: _Indent, out: list[str]) -> None:
    keys = tuple(data)
    for key, head, opens in level.plans.get(keys) or level.plan(keys):
        value = data[key]
        kind = type(value)
        if kind is str:  # most values: the cache read here saves _end's call and type tests
            out.append(head)
            out.append(_ENDS.get(value) or _end(value, len(head)))
        elif kind is dict and value:
            out.append(opens)
            _mapping(value, level.inner or level.nest(), out)
        elif kind is list and value:
            out.append(opens)
            _sequence(value, level, out)  # block sequences in a mapping are not indented
        else:
            out.append(head)
            out.append(_end(value, len(head)))


def _sequence(items: list, level: _Indent, out: list[str]) -> None:
    dash = level.dash
    for item in items:
        kind = type(item)
        if kind is dict and item:
            _mapping(item, level.items or level.nest_items(), out)
        elif kind is list and item:
            raise _Unsupported("nested list")
        else:
            out.append(dash)
            out.append(_end(item, len(dash)))


def _fast_document(data: dict) -> str:
    if not data:
        return "{}\n"
    out: list[str] = []
    _mapping(data, _TOP, out)
    return "".join(out)


# -- the fast path of load() ---------------------------------------------------------------
# PyYAML's C loader parses in C but makes a node object per value, resolves each plain scalar
# through a list of regexes and constructs the objects in Python: 3-4x the cost of libyaml's
# events alone. This path reads the same parser's events and builds dicts, lists and strings
# in one loop; a plain scalar (`yes`, `0755`, `1_000`, `2001-12-14`, `.inf`, `~`, a word) is
# resolved and constructed by PyYAML's own resolver and constructor, once per distinct text.
# Whatever it does not handle raises _Unusual, and load() then gives the document to PyYAML
# whole: a tag, an anchor or alias, a merge key '<<' or value key '=', a mapping or list as a
# key, a second document, and any error (a syntax error, an int of 5,000 digits), so the data,
# the types and the errors with their marks are always PyYAML's.
class _Unusual(Exception):
    pass


# What a plain scalar may resolve to here; the rest ('<<', '=') mean something to PyYAML's
# mapping constructor and are left to it.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
# Plain scalar text -> its value, when ordinary (see Shape): names and numbers recur across
# tenant files. Bounded (~100 bytes an entry) and only short texts, which do recur.
_PLAIN_VALUES: dict[str, Any] = {}
_MAX_PLAIN_VALUES = 100_000
_MAX_PLAIN_TEXT = 128
_stock = _Loader("")  # resolve() and the constructors of the loader load_pyyaml uses, tables included


def _plain_value(text: str) -> Any:
    tag = _stock.resolve(yaml.ScalarNode, text, (True, False))
    if tag == _STR_TAG:
        value: Any = text
    elif tag in _PLAIN_TAGS:
        value = _stock.yaml_constructors[tag](_stock, yaml.ScalarNode(tag, text))
    else:
        raise _Unusual(f"a plain scalar resolved to {tag}")
    if _ordinary(value) and len(text) <= _MAX_PLAIN_TEXT and len(_PLAIN_VALUES) < _MAX_PLAIN_VALUES:
        _PLAIN_VALUES[text] = value  # immutable: can be shared
    return value


def _ordinary(value: Any) -> bool:
    kind = value.__class__
    return value is None or kind is str or kind is bool or kind is int and -MAX_INT <= value <= MAX_INT or \
        kind is float and math.isfinite(value)


_ScalarEvent = yaml.ScalarEvent
_MappingStartEvent = yaml.MappingStartEvent
_CollectionEndEvents = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_NO_KEY = object()  # a mapping's next scalar is a key


# complexity: one loop over libyaml's events, the hot path of loading specs (47,000 events for a
# thousand tenant files); a call per event to a helper split out of it would cost more than it reads.
def _load_fast(text: str | bytes) -> tuple[Any, Shape]:
    """The document's data built from libyaml's events, and its Shape; raises _Unusual (or the
    parser's error) for anything PyYAML should handle. Iterative: libyaml caps nesting at 1,000."""
    next_event: Callable[[], Any] = _CParser(text).get_event  # events are typed loosely
    next_event()  # StreamStartEvent
    if next_event().__class__ is yaml.StreamEndEvent:  # only comments or nothing: no document
        return None, Shape(0, True)
    plain_values = _PLAIN_VALUES
    parents: list[tuple[Any, bool]] = []
    container: Any = None  # the open dict or list, None before the root
    in_mapping = False
    key: Any = _NO_KEY
    root: Any = None
    levels, ordinary = 0, True
    while True:
        event = next_event()
        kind = event.__class__
        if kind in _CollectionEndEvents:
            container, in_mapping = parents.pop()
            if container is None:
                break
            continue
        if event.anchor is not None or event.tag is not None:  # an alias event has an anchor
            raise _Unusual("a tag, an anchor or an alias")
        if kind is _ScalarEvent:
            value = event.value
            if event.implicit[0]:  # plain: resolved like PyYAML (quoted and block scalars are str)
                try:
                    value = plain_values[value]  # only ordinary values are kept there
                except KeyError:
                    value = _plain_value(value)
                    ordinary = ordinary and _ordinary(value)
        else:
            value = {} if kind is _MappingStartEvent else []
        if container is None:
            root = value
        elif not in_mapping:
            container.append(value)
        elif key is not _NO_KEY:
            container[key] = value
            key = _NO_KEY
        elif kind is _ScalarEvent:
            key = value
            ordinary = ordinary and value.__class__ is str
        else:
            raise _Unusual("a mapping or list as a key")
        if kind is not _ScalarEvent:
            parents.append((container, in_mapping))
            container, in_mapping = value, kind is _MappingStartEvent
            if len(parents) > levels:
                levels = len(parents)
        elif container is None:  # the document is one scalar
            break
    next_event()  # DocumentEndEvent
    if next_event().__class__ is not yaml.StreamEndEvent:
        raise _Unusual("more than one document")  # PyYAML refuses it with its own error
    return root, Shape(levels, ordinary)
