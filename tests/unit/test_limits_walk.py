"""The caps' walk (compiler.load.limits.inspect) against a plain recursive reading of what it
promises: the same problems, at the same field paths, in the same order, and the same verdict
on whether JSON gives the data back (the parsed-spec cache keeps only such data)."""
from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.load import limits


def reference(data) -> tuple[list[tuple[str, str]], bool]:
    """(path, message) of every problem, and JSON-exactness, by recursion: a mapping's bad
    field names first (in order), then what its other fields hold, each in document order."""
    problems: list[tuple[str, str]] = []
    exact = [True]

    def join(path, step):
        return f"{path}[{step}]" if isinstance(step, int) else (f"{path}.{step}" if path else str(step))

    def visit(value, path, depth, above):
        if isinstance(value, (dict, list)):
            if id(value) in above:
                problems.append((path, "refers to itself (a YAML anchor used inside its own value)"))
                return
            if depth >= limits.MAX_DEPTH:
                problems.append((path, f"nests deeper than {limits.MAX_DEPTH} levels (the cap)"))
                return
            if isinstance(value, list):
                for index, item in enumerate(value):
                    visit(item, join(path, index), depth + 1, above | {id(value)})
                return
            kept = []
            for key, item in value.items():
                problem = limits._scalar_problem(key) if isinstance(key, str) else None
                exact[0] = exact[0] and isinstance(key, str)
                if problem:
                    problems.append((join(path, key), "field name " + problem[0]))
                else:
                    kept.append((key, item))
            for key, item in kept:
                visit(item, join(path, str(key)), depth + 1, above | {id(value)})
            return
        if isinstance(value, float):
            exact[0] = exact[0] and math.isfinite(value)
        elif not (value is None or isinstance(value, (str, int))):
            exact[0] = False
        problem = limits._scalar_problem(value)
        if problem:
            problems.append((path, problem[0]))

    visit(data, "", 0, frozenset())
    return problems[:20], exact[0] and not problems


def json_round_trips(data) -> bool:
    try:
        return json.loads(json.dumps(data, allow_nan=False)) == data
    except (TypeError, ValueError):
        return False


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=True, allow_infinity=True), st.dates(),
    st.text(alphabet=st.sampled_from(["a", "b", "-", " ", "\t", "\x07", "\u202e", "\ufeff", "é"]), max_size=6),
)
keys = st.one_of(st.text(alphabet=st.sampled_from(["a", "b", "\x1b", "\u2066"]), max_size=3), st.integers(0, 3))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=4)), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_walk_agrees_with_a_recursive_reading(data):
    found = limits.inspect(data)
    problems, exact = reference(data)
    assert [(p.path, p.message) for p in found.problems] == problems
    assert found.json_exact == exact
    if found.json_exact:
        assert json_round_trips(data)


def test_an_alias_loop_and_a_deep_chain_are_found_where_they_are():
    loop: dict = {"spec": {"items": []}}
    loop["spec"]["items"].append(loop["spec"])
    deep: dict = {}
    cursor = deep
    for _ in range(limits.MAX_DEPTH + 5):
        cursor["x"] = {}
        cursor = cursor["x"]
    for data in (loop, {"a": [1, {"b": deep}]}):
        found = limits.inspect(data)
        assert [(p.path, p.message) for p in found.problems] == reference(data)[0]
        assert found.problems and not found.json_exact
    assert limits.inspect(loop).problems[0].path == "spec.items[0]"


def test_dates_and_integer_keys_are_not_kept_as_json():
    assert not limits.inspect({"when": datetime.date(2026, 1, 1)}).json_exact
    assert not limits.inspect({1: "a"}).json_exact
    assert limits.inspect({"a": [1, 2.5, None, True, "x"]}).json_exact


# -- the walk left out: limits.settled --------------------------------------------------------
def _dumped(data, style: int) -> bytes | None:
    """`data` as YAML text in one of several styles (block, flow, every string double quoted,
    ASCII only: escapes), or None when PyYAML cannot write it."""
    import yaml

    options = [{}, {"default_flow_style": True}, {"default_style": '"'}, {"allow_unicode": True}][style]
    try:
        return yaml.safe_dump(data, **options).encode()
    except (yaml.YAMLError, ValueError, TypeError):
        return None


EDITS = ["", "\r\n", "\\", "\x1b", "\u202e", "\ufeff", "\u2028", "é", "x: 1\n", "- 1\n", "[[[[", "\t"]


def _walked(raw: bytes):
    from compiler.load import yaml_io

    try:
        data = yaml_io.load(raw)
    except Exception:  # noqa: BLE001 - not YAML: nothing to inspect
        return None
    found = limits.inspect(data)
    return [(p.path, p.message, p.hint) for p in found.problems], found.json_exact


def _with_shortcut(raw: bytes):
    from compiler.load import yaml_io

    try:
        data, shape = yaml_io.load_shaped(raw)
    except Exception:  # noqa: BLE001
        return None
    found = limits.inspect_loaded(raw, data, shape)
    return [(p.path, p.message, p.hint) for p in found.problems], found.json_exact


@settings(max_examples=600, deadline=None)
@given(documents, st.integers(0, 3), st.integers(0, len(EDITS) - 1), st.integers(0, 400))
def test_leaving_the_walk_out_changes_no_verdict(data, style, edit, where):
    """For any document, in any style, with a character text may not hold (or a backslash, CRLF,
    a byte-order mark) put anywhere: the problems and the JSON verdict are the walk's."""
    raw = _dumped(data, style)
    if raw is None:
        return
    at = min(where, len(raw))
    raw = raw[:at] + EDITS[edit].encode() + raw[at:]
    assert _with_shortcut(raw) == _walked(raw), raw


NESTED = {levels: ("[" * levels + "]" * levels).encode() for levels in (limits.MAX_DEPTH, limits.MAX_DEPTH + 1)}


def test_the_cases_at_each_edge_are_walked_or_settled_rightly():
    """Each condition of `settled` at its edge: the verdicts stay the walk's, and a plain tenant
    file is settled (else the shortcut would be dead code)."""
    from helpers import REPO

    from compiler.load import yaml_io

    cases = [NESTED[limits.MAX_DEPTH], NESTED[limits.MAX_DEPTH + 1], b"a: 9223372036854775807\n",
             b"a: 9223372036854775808\n", b"a: .inf\n", b"a: 2026-01-01\n", b"1: a\n", b'a: "\\x1b[2J"\n',
             "a: \u202eb\n".encode(), b"a: b\r\n", "\ufeffa: b\n".encode(), "a: b\n".encode("utf-16"),
             b"a: " + b"x" * limits.MAX_STRING + b"\n", b"a: " + b"x" * (limits.MAX_STRING + 1) + b"\n",
             b"a: &x [1]\nb: *x\n", b""]
    for raw in cases:
        assert _with_shortcut(raw) == _walked(raw), raw
    assert limits.settled(NESTED[limits.MAX_DEPTH], yaml_io.load_shaped(NESTED[limits.MAX_DEPTH])[1])
    assert not limits.settled(NESTED[limits.MAX_DEPTH + 1], yaml_io.load_shaped(NESTED[limits.MAX_DEPTH + 1])[1])
    examples = sorted((REPO / "tenants").glob("*.yaml"))
    assert examples and all(limits.settled(raw, yaml_io.load_shaped(raw)[1]) for raw in map(Path.read_bytes, examples))
