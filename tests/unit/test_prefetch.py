"""compiler.load.prefetch: a fresh clone's YAML spec files parsed in a forked child while the
command imports tenantc. The load stage then parses none of them itself and reads exactly what
it would have read; what the child cannot parse the load stage reports as ever; with a
parsed-YAML cache there is nothing to gain and no child; a child no one waited for is ended."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import copy_repo

from compiler.errors import Problems
from compiler.kinds import CACHE_DIR
from compiler.load import prefetch, yaml_io
from compiler.load.sources import PARSED_YAML_FILE, Sources, read_sources

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="prefetches on 2 cores or more")


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    prefetch.stop()
    yield
    prefetch.stop()


@pytest.fixture
def parsed_here(monkeypatch) -> list[bytes]:
    """The YAML documents this process parses from now on."""
    seen: list[bytes] = []
    real = yaml_io.load_shaped

    def spied(raw):
        seen.append(raw)
        return real(raw)
    monkeypatch.setattr(yaml_io, "load_shaped", spied)
    return seen


def read(root: Path) -> tuple[Sources, list[str]]:
    problems = Problems()
    sources = read_sources(root, problems, cache_dir=root / CACHE_DIR)
    return sources, [str(p) for p in problems.items]


def as_data(sources: Sources) -> list:
    return [(s.path, s.digest, s.data) for s in [sources.platform, *sources.tenants] if s is not None]


def test_the_load_stage_takes_what_the_child_parsed(tmp_path, parsed_here):
    prefetched_root, plain_root = copy_repo(tmp_path / "a"), copy_repo(tmp_path / "b")
    assert prefetch.start(prefetched_root)
    prefetched, problems = read(prefetched_root)
    assert parsed_here == [] and problems == []  # every YAML file came from the child
    assert read(prefetched_root)[0].tenants and parsed_here == []  # a second read in the process too
    prefetch.stop()  # the command is over: a read now parses as without the child
    plain, plain_problems = read(plain_root)
    assert len(parsed_here) == len([p for p in (plain_root / "tenants").iterdir() if p.suffix == ".yaml"])
    assert as_data(prefetched) == as_data(plain) and plain_problems == []
    # the parsed-YAML cache it wrote holds them: the next command starts no child
    assert (prefetched_root / CACHE_DIR / PARSED_YAML_FILE).is_file() and not prefetch.start(prefetched_root)


def test_a_file_the_child_cannot_parse_is_reported_as_ever(tmp_path):
    prefetched_root, plain_root = copy_repo(tmp_path / "a"), copy_repo(tmp_path / "b")
    for root in (prefetched_root, plain_root):
        (root / "tenants" / "broken.yaml").write_text("name: [unclosed\n")
    assert prefetch.start(prefetched_root)
    prefetched, problems = read(prefetched_root)
    prefetch.stop()
    plain, plain_problems = read(plain_root)
    assert problems == plain_problems and any("broken.yaml" in p and "YAML syntax" in p for p in problems)
    assert as_data(prefetched) == as_data(plain)


def test_a_child_no_one_waited_for_is_ended(tmp_path):
    root = copy_repo(tmp_path / "repo")
    before = set(Path(tempfile.gettempdir()).glob("tenantc-fork-*"))
    assert prefetch.start(root)
    prefetch.stop()
    assert set(Path(tempfile.gettempdir()).glob("tenantc-fork-*")) <= before
    assert prefetch.taken() == {}
