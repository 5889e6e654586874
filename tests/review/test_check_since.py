"""`tenantc check --base REF` gives the verdict and the file lists of a full `tenantc check`
when REF passed check, on seeded random edits of the specs (the edits of the fast-review
test), with rendered/ left stale, recompiled, or recompiled and then edited by hand."""
from __future__ import annotations

import json
import random

import pytest
from review_helpers import SHARED_CRDS, SpecRepo
from test_review_fast_path import EDITS

from compiler.cli import main
from compiler.pipeline import compile_repo, write_rendered
from compiler.review import since

CRD_FLAGS = ["--crd-dir", str(SHARED_CRDS)] if SHARED_CRDS.is_dir() else []


def check(repo: SpecRepo, capsys, *extra: str) -> tuple[int, dict | str]:
    code = main(["check", "--root", str(repo.root), "-o", "json", *CRD_FLAGS, *extra])
    out = capsys.readouterr().out
    report = json.loads(out)
    report.pop("warnings", None)  # kinds without a CRD, of the units compiled: a full check names more
    return code, report


@pytest.fixture
def checked_repo(tmp_path, capsys) -> SpecRepo:
    """YAML tenants (no Jsonnet) with rendered/ compiled and committed on main: a base that passes check."""
    repo = SpecRepo.create(tmp_path / "repo")
    for path in repo.root.joinpath("tenants").glob("*.jsonnet"):
        path.unlink()
    write_rendered(repo.root, compile_repo(repo.root, [SHARED_CRDS] if CRD_FLAGS else []))
    assert main(["schema", "--root", str(repo.root)]) == 0
    capsys.readouterr()
    repo.commit("YAML tenants, rendered")
    return repo


@pytest.fixture
def decided(monkeypatch):
    """Whether each check_since call decided (not None)."""
    seen: list[bool] = []
    real = since.check_since

    def spy(*args):
        result = real(*args)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(since, "check_since", spy)
    return seen


def recompile(repo: SpecRepo) -> None:
    write_rendered(repo.root, compile_repo(repo.root, [SHARED_CRDS] if CRD_FLAGS else []))


def hand_edit(repo: SpecRepo, rng: random.Random) -> None:
    """Edit, add or remove a rendered file of some unit, as a person (or a bad merge) would."""
    files = sorted(p for p in repo.root.joinpath("rendered").rglob("*.yaml") if "_argocd" not in p.parts)
    target = rng.choice(files)
    what = rng.choice(["edit", "remove", "add"])
    if what == "edit":
        target.write_text(target.read_text().replace("tenantc", "tenantz", 1))
    elif what == "remove":
        target.unlink()
    else:
        target.with_name("configmap-by-hand.yaml").write_text("kind: ConfigMap\n")


@pytest.mark.parametrize("seed", range(4))
def test_check_since_equals_full_check_on_random_edits(checked_repo, capsys, decided, seed):
    rng = random.Random(seed)
    repo = checked_repo
    passed = check(repo, capsys)
    assert passed[0] == 0 and check(repo, capsys, "--base", "main") == passed
    edits = rng.sample(EDITS, 2)
    for edit in edits:
        edit(repo, rng)
    stale = check(repo, capsys)
    assert check(repo, capsys, "--base", "main") == stale, [e.__name__ for e in edits]
    if stale[0] == 2:
        return  # the specs do not compile: both report the same problems
    assert stale[0] == 1 or not any(stale[1][k] for k in ("missing", "extra", "differing"))
    recompile(repo)
    fresh = check(repo, capsys)
    assert fresh[0] == 0 and check(repo, capsys, "--base", "main") == fresh
    hand_edit(repo, rng)
    edited = check(repo, capsys)
    assert edited[0] == 1 and check(repo, capsys, "--base", "main") == edited
    assert decided and all(decided), "--base decided every time (YAML-only changes, a base that compiles)"


def test_check_since_leaves_unchanged_units_unread(checked_repo, capsys):
    from compiler.review.since import check_since

    repo = checked_repo
    repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    recompile(repo)
    result = check_since(repo.root, "main", [SHARED_CRDS] if CRD_FLAGS else [])
    assert result is not None and not result.staleness.stale
    assert result.trusted > result.compared
    units = {p.rpartition("/")[0] for p in result.result.objects}
    assert {"gpu-east/vision", "cpu-west/vision"} & units and "cpu-west/quant-research" not in units


def test_check_since_validates_each_unchanged_spec_once(checked_repo, monkeypatch):
    """REF's unchanged tenant files are the working tree's Source objects, so REF's model stage
    takes the working tree's validated models: one validation per file, plus REF's versions of
    the files that differ (the unchanged platform file's model is shared too)."""
    import compiler.model as model
    from compiler.review.since import check_since

    repo = checked_repo
    repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    recompile(repo)
    validated: list[str] = []
    real = model.validate_model

    def counted(cls, source, problems):
        validated.append(source.path)
        return real(cls, source, problems)

    monkeypatch.setattr(model, "validate_model", counted)
    monkeypatch.setattr("compiler.review.since.Forked", _InProcess)  # count the base's validations too
    assert check_since(repo.root, "main", [SHARED_CRDS] if CRD_FLAGS else []) is not None
    specs = sorted(p.relative_to(repo.root).as_posix() for p in repo.root.joinpath("tenants").glob("*.yaml"))
    assert sorted(validated) == sorted(specs + ["tenants/vision.yaml"])


class _InProcess:
    """compiler.forked.Forked without the fork, so a spy in this process sees the call."""

    def __init__(self, fn):
        self.fn = fn

    def join(self):
        return self.fn()

    def kill(self):
        pass


def test_check_since_reads_ref_whole_beside_the_yaml_specs(checked_repo, capsys, decided):
    """A change beside the top-level YAML specs (a Jsonnet library): REF's spec files are read
    from git whole, and the check still decides, with a full check's verdict."""
    repo = checked_repo
    repo.write("tenants/lib/extra.libsonnet", "{}\n")
    passed = check(repo, capsys)
    assert passed[0] == 0 and check(repo, capsys, "--base", "main") == passed
    assert decided == [True]


@pytest.mark.parametrize("seed", range(3))
def test_check_since_with_jsonnet_tenants_equals_full_check(tmp_path, capsys, decided, seed):
    """The example tenants as they are, Jsonnet included: REF is read from git and evaluated."""
    rng = random.Random(50 + seed)
    repo = SpecRepo.create(tmp_path / "repo")
    recompile(repo)
    assert main(["schema", "--root", str(repo.root)]) == 0
    capsys.readouterr()
    repo.commit("rendered")
    for edit in rng.sample(EDITS, 2):
        edit(repo, rng)
    stale = check(repo, capsys)
    assert check(repo, capsys, "--base", "main") == stale
    if stale[0] != 2:
        recompile(repo)
        fresh = check(repo, capsys)
        assert fresh[0] == 0 and check(repo, capsys, "--base", "main") == fresh
        assert decided and all(decided)


def test_check_since_falls_back_when_crds_in_the_repository_changed(tmp_path, capsys, decided):
    """CRDs kept in the repository changed since REF: REF's check judged other schemas."""
    import shutil

    if not CRD_FLAGS:
        pytest.skip("no CRDs beside the checkout")
    repo = SpecRepo.create(tmp_path / "repo")
    for path in repo.root.joinpath("tenants").glob("*.jsonnet"):
        path.unlink()
    shutil.copytree(SHARED_CRDS, repo.root / "crds")
    write_rendered(repo.root, compile_repo(repo.root, [repo.root / "crds"]))
    assert main(["schema", "--root", str(repo.root)]) == 0
    capsys.readouterr()
    repo.commit("YAML tenants, CRDs, rendered")
    crd_file = sorted((repo.root / "crds").rglob("*.yaml"))[0]
    crd_file.write_text(crd_file.read_text() + "\n# edited\n")
    flags = ["--crd-dir", str(repo.root / "crds")]
    code = main(["check", "--root", str(repo.root), "-o", "json", "--base", "main", *flags])
    assert code == 0 and decided == [False]
