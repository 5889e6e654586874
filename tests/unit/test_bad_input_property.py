"""Property tests of issue 14's contract: valid specs mutated at random (a value replaced by a
hostile one, a field deleted, a file's journal or cache replaced by random data) are either
compiled or refused with exit 2 and a problem line naming the file, never a traceback, never
a control character on the terminal, never a change to rendered/ on refusal, and never a
change outside the repository. Hypothesis runs derandomized, so CI sees the same examples."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from bad_input_harness import RAW_CONTROL, TIME_CAP, Run, check_output, copy_repo_fast, run_case, tree_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.load.sources import PARSED_YAML_FILE

SPEC_FILES = ["vision.yaml", "quant-research.yaml", "recsys.yaml", "ml-platform.yaml", "ads-ranking.yaml",
              "platform.yaml"]
HOSTILE_TEXT = st.text(st.sampled_from(list("ab-./:@{}_ 09") + ["\x1b", "\u202e", "\x00", "\n", "\x9b", "é"]),
                       max_size=40)
HOSTILE_VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    HOSTILE_TEXT, st.none(), st.booleans(), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(HOSTILE_TEXT, st.integers(0, 3), max_size=2),
    st.sampled_from(["x" * 20000, "{user.__class__}", "0.0.0.0/0", "system:anonymous", "../../etc/passwd",
                     "kube-system", "root", "0 0 31 2 *", "Mars/Base", "registry.example.com/ml/../x:1", ""]),
)
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _slots(data: Any, path: tuple = ()) -> list[tuple]:
    """Every (container path, key) in parsed YAML, the top level included."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        out.append(path + (key,))
        out.extend(_slots(value, path + (key,)))
    return out


def _mutate(data: Any, slot: tuple, value: Any, delete: bool) -> None:
    parent = data
    for step in slot[:-1]:
        parent = parent[step]
    if delete:
        del parent[slot[-1]]
    else:
        parent[slot[-1]] = value


def _judge(root: Path, run: Run, before: dict, outside_before: dict) -> None:
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert not RAW_CONTROL.search(run.stderr + run.stdout)
    assert run.seconds < TIME_CAP
    assert run.returncode in (0, 2), run.stderr[-3000:]
    if run.returncode == 2:
        check_output(run)
        assert tree_bytes(root / "rendered") == before
    assert tree_bytes(root.parent / "outside") == outside_before


def _copy(template: Path) -> Path:
    base = Path(tempfile.mkdtemp(prefix="hostile-"))
    copy_repo_fast(template, base / "repo")
    (base / "outside" / "victim").mkdir(parents=True)
    (base / "outside" / "victim" / "keep.yaml").write_text("name: outside\n")
    return base / "repo"


@pytest.fixture(scope="module")
def template(compiled_template):
    return compiled_template


@SETTINGS
@given(file=st.sampled_from(SPEC_FILES), pick=st.integers(0, 10**6), value=HOSTILE_VALUES, delete=st.booleans())
def test_mutated_specs_compile_or_are_refused(template, file, pick, value, delete):
    root = _copy(template)
    try:
        path = root / "tenants" / file
        data = yaml.safe_load(path.read_text())
        slots = _slots(data)
        _mutate(data, slots[pick % len(slots)], value, delete)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        before, outside = tree_bytes(root / "rendered"), tree_bytes(root.parent / "outside")
        _judge(root, run_case(root, "compile", {}, child=False), before, outside)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


PATHS = st.sampled_from(["rendered/gpu-east/vision", "rendered/gpu-east/zz", "rendered/_argocd", "../outside/victim",
                         "../outside", ".tenantc-cache/txn-x/old/gpu-east/vision", "/", "rendered/../..",
                         ".tenantc-cache/txn-x/new/gpu-east/vision", "tenants", "rendered/gpu-east"])


@SETTINGS
@given(steps=st.lists(st.tuples(PATHS, PATHS), max_size=4), junk=st.binary(max_size=64), which=st.integers(0, 2))
def test_random_journals_and_caches_never_act_outside(template, steps, junk, which):
    """The journal and the caches are untrusted: random renames or bytes there are refused or
    discarded (exit 2 or 0), and nothing outside the repository changes."""
    root = _copy(template)
    try:
        if which == 0:
            txn = root / ".tenantc-cache" / "txn-x"
            txn.mkdir(parents=True)
            (txn / "journal.json").write_text(json.dumps([[str(root / a), str(root / b)] for a, b in steps]))
        else:
            name = "units.sqlite" if which == 1 else PARSED_YAML_FILE
            (root / ".tenantc-cache" / name).write_bytes(junk)
        before, outside = tree_bytes(root / "rendered"), tree_bytes(root.parent / "outside")
        run = run_case(root, "compile", {}, child=False)
        assert run.returncode in (0, 2), run.stderr[-3000:]
        if run.returncode == 2:
            check_output(run)
            assert tree_bytes(root / "rendered") == before
        assert tree_bytes(root.parent / "outside") == outside
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
