"""Fixtures of the foundation unit tests; plain helpers are in tests/helpers.py."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py

from helpers import compile_cli, compile_example, copy_repo, crd_dirs  # noqa: E402


@pytest.fixture(scope="session")
def crds(tmp_path_factory):
    """The upstream CRDs, parsed once per session (cache in a temp folder, not the checkout)."""
    from compiler.validate.crds import load_crds

    return load_crds(crd_dirs(), tmp_path_factory.mktemp("crd-cache")) if crd_dirs() else None


@pytest.fixture(scope="session")
def example(tmp_path_factory, crds):
    """The example repository compiled in memory (nothing written to rendered/)."""
    return compile_example(tmp_path_factory.mktemp("example"), crds)


@pytest.fixture(scope="session")
def compiled_template(tmp_path_factory):
    """A copy of the examples compiled once by the real CLI, with its warm CRD cache; tests
    copy it instead of compiling the good repository again."""
    root = copy_repo(tmp_path_factory.mktemp("template") / "repo")
    result = compile_cli(root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def compiled_repo(compiled_template, tmp_path) -> Path:
    """A private copy of the compiled example repository (tenants/, schemas/, rendered/)."""
    root = tmp_path / "repo"
    shutil.copytree(compiled_template, root, symlinks=True)
    return root


@pytest.fixture
def repo(tmp_path) -> Path:
    """A private copy of the example specs, not compiled."""
    return copy_repo(tmp_path / "repo")
