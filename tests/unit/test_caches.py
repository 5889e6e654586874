"""Caches under .tenantc-cache/: they may make a compile faster, never different."""
from __future__ import annotations

import datetime
import marshal
import re

import pytest
from helpers import CRD_DIR, crd_dirs, replace_once
from hypothesis import given
from hypothesis import strategies as st

from compiler.errors import Problems
from compiler.load.sources import PARSED_YAML_FILE, ParsedYamlCache, read_sources
from compiler.pipeline import CACHE_DIR, compile_repo
from compiler.validate.crds import crd_files, load_crds, mentions


def _read(repo):
    problems = Problems()
    sources = read_sources(repo, problems, cache_dir=repo / CACHE_DIR)
    assert not problems
    return {s.path: s.data for s in [sources.platform, *sources.tenants]}


def test_parsed_yaml_cache_gives_the_same_data(repo):
    """A second read served from the cache equals a fresh parse, file by file."""
    fresh = _read(repo)
    assert (repo / CACHE_DIR / PARSED_YAML_FILE).is_file()
    assert _read(repo) == fresh


def test_edited_file_is_parsed_again(repo):
    """The cache is keyed by content: an edit is never served stale."""
    _read(repo)
    replace_once(repo / "tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    assert _read(repo)["tenants/vision.yaml"]["quota"]["cpu"] == "256"


def test_data_json_cannot_round_trip_is_not_cached(tmp_path):
    """A YAML date or an integer key would come back from JSON as another type."""
    cache = ParsedYamlCache(tmp_path)
    assert cache.load(b"when: 2026-01-01\n", "a")[0] == {"when": datetime.date(2026, 1, 1)}
    assert cache.load(b"gpu: {100: 1}\n", "b")[0] == {"gpu": {100: 1}}
    assert cache.load(b"cpu: '4'\n", "c")[0] == {"cpu": "4"}
    cache.save()
    stored = marshal.loads((tmp_path / PARSED_YAML_FILE).read_bytes())["entries"]
    assert set(stored) == {"c"}


def test_cache_of_another_parser_version_is_ignored(tmp_path):
    """Data parsed by another PyYAML build is not trusted."""
    (tmp_path / PARSED_YAML_FILE).write_bytes(marshal.dumps({"version": "0/old", "entries": {"d": {"x": 1}}}))
    assert ParsedYamlCache(tmp_path).load(b"x: 2\n", "d")[0] == {"x": 2}


def test_corrupt_cache_is_only_slower(tmp_path):
    """A damaged cache file is ignored, not an error."""
    for damaged in (b"{not marshal", b"", marshal.dumps([1, 2]), marshal.dumps({"version": 1}),
                    marshal.dumps({"version": ParsedYamlCache(None).version, "entries": [1]})):
        (tmp_path / PARSED_YAML_FILE).write_bytes(damaged)
        assert ParsedYamlCache(tmp_path).load(b"x: 2\n", "d")[0] == {"x": 2}


@pytest.mark.skipif(not CRD_DIR.is_dir(), reason="the upstream CRDs are not beside the checkout")
def test_crds_loaded_for_some_kinds_have_the_same_schemas(tmp_path, crds):
    """Skipping CRD files that cannot define the wanted kinds loses none of their schemas."""
    wanted = {"Queue", "Dataset", "JindoRuntime"}
    some = load_crds(crd_dirs(), tmp_path, kinds=wanted)
    assert {kind for _, kind in some.schemas} >= wanted
    for key, schema in some.schemas.items():
        assert crds.schemas[key] == schema
    assert len(some.schemas) < len(crds.schemas)
    assert some.digest == crds.digest, "the digest covers every CRD file, read or not"
    again = load_crds(crd_dirs(), tmp_path, kinds=wanted)  # now from the per-file cache
    assert again.schemas == some.schemas


def _whole_word(word: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\b" + re.escape(word) + rb"\b")


KIND = st.from_regex(rb"\A[A-Za-z][A-Za-z0-9]{0,7}\Z")


@given(text=st.binary(max_size=200) | st.lists(st.sampled_from([b"Job", b"Jobs", b"PodGroup", b" ", b"_", b"-", b":",
                                                                  b"\n", b"kind: ", b"\xff", b"9"]),
                                                 max_size=30).map(b"".join),
       word=KIND | st.sampled_from([b"Job", b"PodGroup"]))
def test_mentions_finds_a_whole_word_as_the_regex_it_replaced(text, word):
    assert mentions(text, word) == bool(_whole_word(word).search(text))


@pytest.mark.skipif(not CRD_DIR.is_dir(), reason="the upstream CRDs are not beside the checkout")
def test_mentions_agrees_with_the_regex_on_the_upstream_crds():
    kinds = [b"Queue", b"Job", b"Dataset", b"JindoRuntime", b"Application", b"DataLoad", b"PodGroup", b"Command",
             b"Namespace", b"Thin", b"ThinRuntime", b"AppProject", b"Nothing"]
    files = [path.read_bytes() for path in crd_files(crd_dirs())]
    found = {(i, k) for i, raw in enumerate(files) for k in kinds if mentions(raw, k)}
    assert found == {(i, k) for i, raw in enumerate(files) for k in kinds if _whole_word(k).search(raw)}
    assert 0 < len(found) < len(files) * len(kinds)


def test_compile_with_warm_caches_equals_cold_compile(repo):
    """Whatever the caches hold, the rendered bytes are the same."""
    cold = compile_repo(repo, crd_dirs())
    warm = compile_repo(repo, crd_dirs())
    assert warm.files == cold.files
    assert warm.validated == cold.validated
