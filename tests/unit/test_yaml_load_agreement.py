"""YAML input: yaml_io.load (libyaml's events built into data by tenantc) gives exactly what
PyYAML's CSafeLoader gives - the same values of the same types, or the same error with the
same mark - and hands every input it does not handle itself to PyYAML."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.load import yaml_io

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(yaml_io.ENGINE != "libyaml", reason="the fast path reads libyaml's events")


def same(left: Any, right: Any, seen: set[tuple[int, int]] | None = None) -> bool:
    """Equal data of the same types, mapping keys in the same order, NaN equal to NaN (an
    alias can make data contain itself: a pair already being compared counts as equal)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, (dict, list)):
        seen = set() if seen is None else seen
        if (id(left), id(right)) in seen:
            return True
        seen.add((id(left), id(right)))
        if len(left) != len(right):
            return False
        if isinstance(left, dict):
            return all(same(lk, rk, seen) and same(lv, rv, seen)
                       for (lk, lv), (rk, rv) in zip(left.items(), right.items(), strict=True))
        return all(same(a, b, seen) for a, b in zip(left, right, strict=True))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


def outcome(load, text: str | bytes) -> tuple:
    """("data", data) or ("error", type, message, line, column): what a caller can see."""
    try:
        return ("data", load(text))
    except Exception as exc:  # the error itself is what is compared
        mark = getattr(exc, "problem_mark", None)
        return ("error", type(exc), str(exc), mark and mark.line, mark and mark.column)


def assert_agrees(text: str | bytes) -> None:
    ours, pyyaml = outcome(yaml_io.load, text), outcome(yaml_io.load_pyyaml, text)
    if pyyaml[0] == "data":
        assert ours[0] == "data" and same(ours[1], pyyaml[1]), (text, ours, pyyaml)
    else:
        assert ours == pyyaml, text
    try:
        fast = yaml_io._load_fast(text)[0]
    except Exception:  # refusing is always allowed: load() then asks PyYAML
        return
    assert pyyaml[0] == "data" and same(fast, pyyaml[1]), (text, fast, pyyaml)  # answered, so it agrees


# -- examples: YAML 1.1's scalars, and what PyYAML makes of odd documents ------------------
SCALARS_1_1 = [
    "yes", "Yes", "YES", "no", "No", "on", "On", "ON", "off", "OFF", "y", "n", "true", "False", "TRUE", "tRue",
    "~", "null", "Null", "NULL", "", "0755", "0o755", "0x1F", "-0x1f", "0b1010", "1_000", "-1_000", "+12", "0",
    "-0", "190:20:30", "-1:30", "1.5", "1e3", "1.0e+3", "6.8523015e+5", "685_230.15", "190:20:30.15", ".5",
    ".inf", "-.Inf", "+.INF", ".NaN", ".nan", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "2002-12-14 21:59:43Z", "2001-12-14 21:59:43.1234567", "2001-13-45",
    "1" * 5000, "12:", "=", "<<", "-", "a b c", "héllo", "日本語", "🙂", "10.40.0.0/16", "800Gi", "0 2 * * *",
]


@pytest.mark.parametrize("text", SCALARS_1_1)
def test_plain_and_quoted_scalars(text):
    for document in (text, f"k: {text}", f"{text}: v", f"- {text}\n- '{text}'", f'k: "{text}"',
                     f"[{text}, x]", f"{{{text}: 1}}"):
        assert_agrees(document)


def test_the_tricky_scalars_keep_their_1_1_types():
    """Not only equal to PyYAML: the YAML 1.1 meanings a YAML 1.2 parser would lose."""
    data = yaml_io.load("a: yes\nb: on\nc: 0755\nd: 1_000\ne: .inf\nf: 2001-12-14\ng: '0755'\nh: ~\ni: 1:30\n")
    assert data["a"] is True and data["b"] is True and data["h"] is None
    assert data["c"] == 0o755 and data["d"] == 1000 and data["i"] == 90
    assert data["e"] == math.inf and str(data["f"]) == "2001-12-14" and data["g"] == "0755"


DOCUMENTS = [
    "",
    "# only a comment\n",
    "---\n",
    "--- a\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "a: 1\na: 2\nb: 3\n",  # a duplicate key: the last value wins, at the first key's place
    "1: a\n'1': b\ntrue: c\n1.0: d\n~: e\n2001-12-14: f\n",
    "x: |\n  line 1\n   line 2\n\ny: >-\n  folded\n  text\n\n  para\nz: |+\n  kept\n\n",
    "a: {b: [1, 2, {c: d}], e: []}\nf: {}\n",
    "- - - deep\n    - x\n  - y\n- z\n",
    "k: 'it''s'\nl: \"tab\\there \\u00e9 \\x41\"\n",
    "a: &x 1\nb: *x\n",
    "base: &b {cpu: 1, mem: 2}\nuse:\n  <<: *b\n  cpu: 3\n",
    "a: !!str 1\nb: !!int '3'\nc: !!float 2\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\nb: !!omap [{k: 1}]\n",
    "a: !custom 1\n",
    "a: ! 12\n",
    "? [a, b]\n: 1\n",
    "{a: 1}: 2\n",
    "? - x\n: y\n",
    "a: 1\n---\nb: 2\n",
    "a: b: c\n",
    "[1, 2\n",
    "a:\n\t- 1\n",
    "a: 'unterminated\n",
    "a: *missing\n",
    "a: &x 1\nb: &x 2\n",
    "=: 1\n",
    "a: =\n",
    "<<: 1\n",
    "a: <<\n",
    "a: \x07bell\n",
    "\ufeffa: bom\n",
    "[" * 1001 + "]" * 1001,
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_documents(text):
    assert_agrees(text)


@pytest.mark.parametrize("data", [b"a: 1\nb: [x]\n", "a: 1\n".encode("utf-16"), b"\xef\xbb\xbfa: 1\n",
                                  b"a: \xff\n", "ünï: cödé\n".encode()])
def test_bytes_input(data):
    assert_agrees(data)


UNUSUAL = ["a: &x 1\n", "a: *x\n", "a: !!str 1\n", "a: !custom {}\n", "base: {a: 1}\nuse: {<<: {b: 1}}\n",
           "=: 1\n", "? [a, b]\n: 1\n", "{a: 1}: 2\n", "a: 1\n---\nb: 2\n", "a: 2001-13-45\n", "a: b: c\n"]


@pytest.mark.parametrize("text", UNUSUAL)
def test_unusual_documents_are_left_to_pyyaml(text, monkeypatch):
    """Anchors, aliases, tags, merge and value keys, non-scalar keys, more documents, errors:
    the fast path refuses them and load() gives the document to PyYAML."""
    with pytest.raises((yaml_io._Unusual, yaml.YAMLError, ValueError)):
        yaml_io._load_fast(text)
    calls: list[object] = []
    monkeypatch.setattr(yaml_io, "load_pyyaml", lambda t: calls.append(t) or "from pyyaml")
    assert yaml_io.load(text) == "from pyyaml" and calls == [text]


def test_ordinary_documents_take_the_fast_path(monkeypatch):
    """A spec file of mappings, lists and scalars never reaches PyYAML's constructor."""
    def refuse(text):
        raise AssertionError("PyYAML was asked")

    monkeypatch.setattr(yaml_io, "load_pyyaml", refuse)
    for path in sorted((REPO / "tenants").glob("*.yaml")):
        assert isinstance(yaml_io.load(path.read_bytes()), dict), path


def repository_yaml_files() -> list[Path]:
    return sorted(p for folder in ("tenants", "tests", "examples", "rendered") for pattern in ("*.yaml", "*.yml")
                  for p in (REPO / folder).rglob(pattern) if p.is_file())


def test_every_yaml_file_of_the_repository_loads_as_pyyaml_loads_it():
    files = repository_yaml_files()
    assert len(files) > 100
    for path in files:
        raw = path.read_bytes()
        assert_agrees(raw)
        assert_agrees(raw.decode("utf-8", errors="replace"))


# -- generated documents --------------------------------------------------------------------
# A small YAML writer with every way of writing a value: block and flow collections, plain,
# quoted and block scalars, anchors and aliases (to an anchor written before), tags, comments.
# It writes invalid YAML at times (a plain scalar holding ': ', a tab, '!!int' on a word): then
# both loaders must raise the same error.
WORDS = st.sampled_from([word for word in SCALARS_1_1 if len(word) < 100]
                        + ["a:b", "a: b", "#x", "x #y", "'q'", '"d"', "- x", "[x]", "{x}", "k,v", "@at", "%p",
                           "!bang", "&amp", "*star", "|", ">", "?", " lead", "trail "])
TEXTS = st.text(alphabet="aZ09_.-+:~#'\" é\u65e5\t\n,[]{}", max_size=8)
ANCHOR = "&"  # a prefix that the writer turns into a fresh anchor name
PREFIXES = st.sampled_from([""] * 8 + [ANCHOR] * 2)
SCALAR_PREFIXES = st.sampled_from([""] * 50 + [ANCHOR] * 3 + ["!!str ", "!!int ", "!!float ", "!!bool ", "!custom ",
                                                              "! "])
COMMENTS = st.sampled_from([""] * 4 + ["  # a comment", " #tight"])

Node = tuple  # ("scalar", text, style, prefix) | ("map"/"seq", children, flow, prefix) | ("alias", pick)

# Words in any style; any text quoted or as a block scalar (plain, most would not parse).
SCALAR_NODES = st.one_of(
    st.tuples(st.just("scalar"), WORDS, st.sampled_from(["plain"] * 5 + ["single", "double", "literal", "folded"]),
              SCALAR_PREFIXES),
    st.tuples(st.just("scalar"), TEXTS, st.sampled_from(["single", "double", "literal", "folded"]), SCALAR_PREFIXES))
ALIASES = st.tuples(st.just("alias"), st.integers(0, 3))
KEY_NODES = st.one_of(st.tuples(st.just("scalar"), WORDS, st.sampled_from(["plain"] * 3 + ["single", "double"]),
                                SCALAR_PREFIXES), ALIASES)


def collections(children):
    maps = st.tuples(st.just("map"), st.lists(st.tuples(KEY_NODES, children), max_size=4), st.booleans(), PREFIXES)
    seqs = st.tuples(st.just("seq"), st.lists(children, max_size=4), st.booleans(), PREFIXES)
    return maps | seqs


NODES = st.recursive(st.one_of(SCALAR_NODES, SCALAR_NODES, SCALAR_NODES, ALIASES), collections, max_leaves=16)


def scalar_text(text: str, style: str, indent: int) -> str:
    if style == "plain":
        return text
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return json.dumps(text, ensure_ascii=False)
    pad = " " * (indent + 2)
    body = "".join(f"\n{pad}{line}" if line else "\n" for line in text.split("\n"))
    return ("|" if style == "literal" else ">") + body


class Writer:
    """Writes one generated document; anchors are numbered as written, so an alias can name
    one written before it (or a plain word when there is none yet)."""

    def __init__(self, comment: str):
        self.comment = comment
        self.anchors: list[str] = []

    def prefix(self, node: Node) -> str:
        if node[3] != ANCHOR:
            return node[3]
        self.anchors.append(f"a{len(self.anchors)}")
        return f"&{self.anchors[-1]} "

    def alias(self, node: Node) -> str:
        return f"*{self.anchors[node[1] % len(self.anchors)]}" if self.anchors else "word"

    def flow(self, node: Node) -> str:
        kind = node[0]
        if kind == "alias":
            return self.alias(node)
        prefix = self.prefix(node)
        if kind == "scalar":
            return prefix + scalar_text(node[1], node[2] if node[2] in ("plain", "single", "double") else "double", 0)
        if kind == "map":
            return prefix + "{" + ", ".join(f"{self.flow(k)}: {self.flow(v)}" for k, v in node[1]) + "}"
        return prefix + "[" + ", ".join(self.flow(item) for item in node[1]) + "]"

    def block(self, node: Node, indent: int) -> str:
        """The node written after 'key:' or '-' (its leading space included) and its lines;
        `indent` is the column of that key or dash."""
        kind = node[0]
        if kind == "alias" or (kind in ("map", "seq") and (node[2] or not node[1])):
            return f" {self.flow(node)}{self.comment}\n"
        prefix = self.prefix(node)
        if kind == "scalar":
            text = scalar_text(node[1], node[2], indent)
            return f" {prefix}{text}\n" if node[2] in ("literal", "folded") else f" {prefix}{text}{self.comment}\n"
        pad = " " * (indent + 2)
        lines = [f" {prefix.rstrip()}{self.comment}\n" if prefix or self.comment else "\n"]
        if kind == "map":
            lines += [f"{pad}{self.flow(key)}:{self.block(value, indent + 2)}" for key, value in node[1]]
        else:
            lines += [f"{pad}-{self.block(item, indent + 2)}" for item in node[1]]
        return "".join(lines)

    def document(self, node: Node) -> str:
        """A block collection at the root starts at column 0."""
        if node[0] in ("map", "seq") and not node[2] and node[1] and not node[3]:
            body = self.block(node, -2)
            return body[1:] if body.startswith("\n") else body
        return self.flow(node) + "\n"


@settings(max_examples=600, deadline=None)
@given(NODES, COMMENTS, st.booleans())
def test_generated_documents_agree(node, comment, explicit_start):
    text = Writer(comment).document(node)
    assert_agrees(("--- # start\n" if explicit_start else "") + text)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                              st.dates(), st.datetimes()),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=20),
       st.sampled_from([None, True, False]), st.sampled_from([None, "'", '"']))
def test_data_written_by_pyyaml_reads_back_the_same(data, flow_style, scalar_style):
    """Whatever PyYAML writes (its quoting, its styles), both loaders read it alike."""
    text = yaml.safe_dump(data, default_flow_style=flow_style, default_style=scalar_style, allow_unicode=True)
    assert_agrees(text)
