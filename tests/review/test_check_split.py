"""A check of everything on two cores (compiler.check_split) gives the warnings and the file
lists of the serial check, on seeded random edits of the specs (the edits of the fast-review
test), with rendered/ stale, recompiled, or recompiled and then edited by hand; and without
CRDs, where the kinds left unvalidated are counted over both parts."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from review_helpers import SHARED_CRDS, SpecRepo
from test_check_since import hand_edit
from test_review_fast_path import EDITS

from compiler import check_split as split_module
from compiler.check_split import check_split
from compiler.errors import CompileError
from compiler.pipeline import check_rendered, compile_repo, has_unit_cache, write_rendered


def serial(root: Path, crd_dirs: list[Path]) -> tuple[list[str], tuple] | None:
    """The serial check's warnings and file lists; None when the specs do not compile."""
    try:
        result = compile_repo(root, crd_dirs, use_cache=False)
    except CompileError:
        return None
    staleness = check_rendered(root, result)
    return result.warnings, (staleness.missing, staleness.extra, staleness.differing)


def split(root: Path, crd_dirs: list[Path]) -> tuple[list[str], tuple] | None:
    found = check_split(root, crd_dirs)
    if found is None:
        return None
    return found.warnings, (found.staleness.missing, found.staleness.extra, found.staleness.differing)


def recompile(root: Path, crd_dirs: list[Path]) -> None:
    write_rendered(root, compile_repo(root, crd_dirs, use_cache=False))  # a fresh clone has no unit cache


@pytest.mark.parametrize("with_crds", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_split_check_equals_the_serial_check_on_random_edits(tmp_path, seed, with_crds):
    if with_crds and not SHARED_CRDS.is_dir():
        pytest.skip("no upstream CRDs beside the checkout")
    crd_dirs = [SHARED_CRDS] if with_crds else []
    rng = random.Random(seed)
    repo = SpecRepo.create(tmp_path / "repo")
    recompile(repo.root, crd_dirs)
    assert not has_unit_cache(repo.root)
    fresh = serial(repo.root, crd_dirs)
    assert fresh is not None and not any(fresh[1]) and split(repo.root, crd_dirs) == fresh
    assert with_crds or fresh[0], "without CRDs, custom kinds are warned about"
    for edit in rng.sample(EDITS, 2):
        edit(repo, rng)
    stale = serial(repo.root, crd_dirs)
    assert split(repo.root, crd_dirs) == stale  # None both when the specs do not compile
    if stale is None:
        return
    recompile(repo.root, crd_dirs)
    assert split(repo.root, crd_dirs) == serial(repo.root, crd_dirs)
    hand_edit(repo, rng)
    (repo.root / "rendered/gpu-east/gone-tenant").mkdir()  # a folder that should no longer exist
    (repo.root / "rendered/gpu-east/gone-tenant/namespace-gone.yaml").write_text("kind: Namespace\n")
    edited = serial(repo.root, crd_dirs)
    assert edited is not None and any(edited[1])
    assert split(repo.root, crd_dirs) == edited


def test_each_part_compiles_about_half_of_the_units(tmp_path, monkeypatch):
    """The work is split: this process compiles every second unit and Argo CD's, the child the
    rest (seen here through the function the child runs, called in this process)."""
    repo = SpecRepo.create(tmp_path / "repo")
    recompile(repo.root, [])
    parts: list[tuple[int, bool]] = []
    real = split_module.compile_repo

    def counted(*args, **kwargs):
        result = real(*args, **kwargs)
        parts.append((len([u for u in result.objects.unit_sizes() if u != "_argocd"]), kwargs["argocd"]))
        return result

    monkeypatch.setattr(split_module, "compile_repo", counted)
    monkeypatch.setattr(split_module, "Forked", _InProcess)
    assert check_split(repo.root, []) is not None
    units = len(compile_repo(repo.root, [], use_cache=False).objects.unit_sizes()) - 1  # without _argocd
    assert sorted(parts) == sorted([(units // 2, False), (units - units // 2, True)])


class _InProcess:
    """compiler.forked.Forked without the fork, so that a spy sees the child's call."""

    def __init__(self, fn):
        self.fn = fn

    def join(self):
        return self.fn()

    def kill(self) -> None:
        pass
