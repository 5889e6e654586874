"""Jsonnet seam: every installed engine evaluates the examples identically, imports stay in
the repository."""
from __future__ import annotations

import pytest
from helpers import REPO

from compiler.errors import Problems
from compiler.load import jsonnet_engine
from compiler.load.jsonnet_engine import JsonnetError, available_engines, evaluate_file
from compiler.load.sources import read_sources

ENGINES = available_engines()
EXAMPLES = sorted((REPO / "tenants").glob("*.jsonnet"))


def test_examples_and_engines_exist():
    """The comparisons below are vacuous without Jsonnet examples and two engines."""
    assert EXAMPLES
    assert set(ENGINES) == set(jsonnet_engine.ENGINES), "both engines are dependencies"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_engine_gives_identical_output(path):
    """Switching engines (speed) must never change what a tenant file means."""
    results = {engine: evaluate_file(path, REPO, engine) for engine in ENGINES}
    first = results[ENGINES[0]]
    assert isinstance(first, dict) and first["name"] == path.stem
    for engine, result in results.items():
        assert result == first, engine


def _write(root, rel: str, text: str):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("target", ["../../secret.libsonnet", "/etc/hostname"])
def test_import_leaving_the_repository_is_an_error(tmp_path, engine, target):
    """A spec must not read files outside the repository (relative or absolute paths)."""
    root = tmp_path / "repo"
    _write(tmp_path, "secret.libsonnet", "{ leaked: true }")
    path = _write(root, "tenants/t.jsonnet", f"local x = import '{target}';\nx\n")
    with pytest.raises(JsonnetError, match="leaves the repository") as caught:
        evaluate_file(path, root, engine)
    assert "tenants/t.jsonnet" in str(caught.value)
    assert str(root.resolve()) not in str(caught.value), "messages are repository-relative"


@pytest.mark.parametrize("engine", ENGINES)
def test_symlink_out_of_the_repository_is_refused(tmp_path, engine):
    """A symlink inside the repository pointing outside does not open a way out."""
    root = tmp_path / "repo"
    outside = _write(tmp_path, "outside/lib.libsonnet", "{ leaked: true }")
    (root / "tenants").mkdir(parents=True)
    (root / "tenants" / "lib.libsonnet").symlink_to(outside)
    path = _write(root, "tenants/t.jsonnet", "(import 'lib.libsonnet')\n")
    with pytest.raises(JsonnetError, match="leaves the repository"):
        evaluate_file(path, root, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_import_inside_the_repository_works(tmp_path, engine):
    """Libraries under tenants/lib/ are the normal way to share Jsonnet."""
    root = tmp_path / "repo"
    _write(root, "tenants/lib/base.libsonnet", "{ base: 1 }")
    path = _write(root, "tenants/t.jsonnet", "(import 'lib/base.libsonnet') + { own: 2 }\n")
    assert evaluate_file(path, root, engine) == {"base": 1, "own": 2}


@pytest.mark.parametrize("engine", ENGINES)
def test_runtime_error_is_reported_against_the_file(tmp_path, monkeypatch, engine):
    """The load stage turns an engine's error into a problem of that file, not a traceback."""
    monkeypatch.setenv("TENANTC_JSONNET_ENGINE", engine)
    root = tmp_path / "repo"
    _write(root, "tenants/platform.yaml", "name: p\n")
    _write(root, "tenants/t.jsonnet", "{ a: error 'quota is required' }\n")
    problems = Problems()
    read_sources(root, problems)
    assert [p.file for p in problems.items] == ["tenants/t.jsonnet"]
    assert "quota is required" in problems.items[0].message


def test_unknown_engine_is_refused(monkeypatch):
    """A typo in TENANTC_JSONNET_ENGINE must not fall back silently, nor crash the CLI."""
    monkeypatch.setenv("TENANTC_JSONNET_ENGINE", "gojsonnet")
    with pytest.raises(JsonnetError, match="TENANTC_JSONNET_ENGINE=gojsonnet"):
        jsonnet_engine.default_engine()
