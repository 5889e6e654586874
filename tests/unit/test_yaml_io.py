"""YAML output: the fast path of yaml_io.dump writes exactly what PyYAML writes."""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compiler.load import yaml_io

# Characters that matter to YAML scalars: indicators, quotes, spaces, digits, signs, dots.
TRICKY = st.text(alphabet="aZ09_./@=-:~#'\" !,[]{}*&?|>%`+\t\n\u00e9", max_size=8)
WORDS = st.sampled_from(["", "true", "no", "null", "~", "1.5", "0x1f", "1:20", "2001-12-14", "-", "---a",
                         "...", "=", "<<", "-m", "a:b", "a:", "10.40.0.0/16", "lena@example.com", "800Gi"])
SCALARS = st.one_of(TRICKY, WORDS, st.integers(), st.booleans(), st.none())
KEYS = st.one_of(TRICKY, WORDS)
DOCUMENTS = st.dictionaries(KEYS, st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12),
    max_size=4)


def test_rendered_examples_match_pyyaml(example):
    """Every rendered example file is byte-identical through either path."""
    for path, obj in example.objects.items():
        assert yaml_io.dump(obj) == yaml_io.dump_pyyaml(obj), path


@pytest.mark.parametrize("text", ["Prune=false,Delete=false", "a,b", "a,", "a,,b", "1,2", "0x1,f", "a:b,c",
                                  "-a,b", "yes,no", "1.5,2", "a,b:c", "on,", "null,"])
def test_commas_are_written_as_pyyaml_writes_them(text):
    for document in ({"k": text}, {text: 1}, [text]):
        assert yaml_io.dump(document) == yaml_io.dump_pyyaml(document), text


def test_most_rendered_objects_take_the_fast_path(example):
    """The fast path only helps if the common objects use it (fallbacks are correct but slow)."""
    fast = 0
    for obj in example.objects.values():
        try:
            yaml_io._fast_document(obj)
            fast += 1
        except yaml_io._Unsupported:
            pass
    assert fast >= 0.8 * len(example.objects)


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_any_document_matches_pyyaml(document):
    """Odd strings, nesting and types either match PyYAML exactly or fall back to it."""
    assert yaml_io.dump(document) == yaml_io.dump_pyyaml(document)


@given(DOCUMENTS)
def test_output_reads_back_as_the_input(document):
    """Whatever path wrote it, the YAML means the same data."""
    assert yaml_io.load(yaml_io.dump(document)) == document


# Few keys, so that mappings of one shape (the same keys, in any order) recur at several depths
# and in sequences, as in rendered objects; ints and a refused string among them.
SHAPE_KEYS = st.sampled_from(["a", "b", "kind", "true", "a b", 1])
SHAPED = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SHAPE_KEYS, inner, max_size=3),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(SHAPE_KEYS, SHAPED, max_size=3), min_size=1, max_size=5))
def test_documents_sharing_shapes_match_pyyaml(documents):
    """What the fast path plans for one mapping's keys and reuses for the next (per indent)
    writes every later document exactly as PyYAML does, from empty caches on."""
    yaml_io._forget_dump_caches()
    for document in documents:
        assert yaml_io.dump(document) == yaml_io.dump_pyyaml(document)


def test_one_shape_in_other_orders_depths_and_sequences():
    """A plan is per indent: the same keys at another depth, first in a sequence item or in
    another insertion order are written with their own pad and in sorted order."""
    document = {"meta": {"kind": "y", "name": "x"}, "list": [{"kind": "y", "name": "x"}, "z"],
                "spec": {"meta": {"kind": "y", "name": "x"}, "items": [{"name": "x", "kind": "y"}, {"kind": "y"}]}}
    expected = ("list:\n- kind: y\n  name: x\n- z\nmeta:\n  kind: y\n  name: x\nspec:\n  items:\n"
                "  - kind: y\n    name: x\n  - kind: y\n  meta:\n    kind: y\n    name: x\n")
    yaml_io._forget_dump_caches()
    assert yaml_io.dump_pyyaml(document) == expected
    assert yaml_io.dump(document) == expected
    assert yaml_io.dump(document) == expected  # again, from the plans made the first time


def test_a_cron_schedule_takes_the_fast_path():
    """CronJobs' schedules have spaces and '*'; PyYAML writes them plain, and so does the fast path."""
    document = {"spec": {"schedule": "0 2 * * *", "jobTemplate": {"items": ["5 4 * * sun", "a  b *"]}}}
    assert yaml_io._fast_document(document) == yaml_io.dump_pyyaml(document)


@settings(max_examples=300, deadline=None)
@given(key=st.text("k-", min_size=1, max_size=110), depth=st.integers(0, 5),
       value=st.lists(st.sampled_from(["ab", "a*", "1", "", "xyz-xyz-xyz"]), min_size=1, max_size=40).map(" ".join))
@example(key="k", value="ab " * 40 + "x", depth=0)
def test_values_with_spaces_near_the_width_match_pyyaml(key, value, depth):
    """A plain or quoted value is folded by libyaml at a space past column 120: the fast path writes
    only values that end before it, wherever their key and depth put them."""
    document: dict = {key: value, "l": [value]}
    for level in range(depth):
        document = {"n": [document]} if level % 2 else {"m": document}
    assert yaml_io.dump(document) == yaml_io.dump_pyyaml(document)
