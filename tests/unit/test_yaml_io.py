"""YAML output: the fast path of yaml_io.dump writes exactly what PyYAML writes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
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
