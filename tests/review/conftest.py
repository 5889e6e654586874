"""Fixtures of the review tests: the CRDs loaded once per session, and a fresh spec repository."""
from __future__ import annotations

import pytest
from review_helpers import SHARED_CRDS, SpecRepo, make_mixed_change

from compiler.review import review


@pytest.fixture(scope="session")
def crds(tmp_path_factory):
    """The upstream CRDs beside the checkout, parsed once; None (custom kinds unvalidated) without them."""
    if not SHARED_CRDS.is_dir():
        return None
    from compiler.validate.crds import load_crds

    return load_crds([SHARED_CRDS], tmp_path_factory.mktemp("crd-cache"))


@pytest.fixture
def spec_repo(tmp_path) -> SpecRepo:
    return SpecRepo.create(tmp_path / "repo")


@pytest.fixture
def run_review(spec_repo, crds):
    """`run_review(base='main', head=None, **options)`: the library call the CLI makes."""
    def run(base: str = "main", head: str | None = None, **options):
        return review(spec_repo.root, base, head, crds=crds, **options)

    return run


@pytest.fixture
def mixed(spec_repo, run_review):
    """The review of one pull request that touches every part of a review (make_mixed_change)."""
    make_mixed_change(spec_repo)
    result = run_review()
    result.warnings = []  # depend on whether the CRDs are beside the checkout; tested in the CLI tests
    return result
