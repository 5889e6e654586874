"""A warm repository (compiler.warm): a compile after keep_warm lends the models of the YAML
files whose bytes are unchanged, and the plan's decisions for them, and gives exactly what a
compile without anything kept gives, on seeded random edits (tenants changed, added and
removed, the platform changed, an imported dataset changed). Jsonnet files are never lent."""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import copy_repo
from spec_edits import edit_yaml, small_tenant

import compiler.model as model_module
import compiler.plan as plan_module
from compiler import warm
from compiler.errors import CompileError
from compiler.pipeline import compile_repo, keep_warm

Edit = Callable[[Path, random.Random], None]
JSONNET_TENANTS = {"sandbox-hackweek", "sandbox-interns"}


def change_quota(root: Path, rng: random.Random) -> None:
    tenant = rng.choice(["ml-platform", "quant-research", "vision"])
    edit_yaml(root, f"{tenant}.yaml", lambda d: d["quota"].update(cpu=str(rng.choice([64, 96, 256]))))


def change_members(root: Path, rng: random.Random) -> None:
    member = {"group": f"group-{rng.randrange(100)}", "role": rng.choice(["view", "edit"])}
    edit_yaml(root, f"{rng.choice(['ads-ranking', 'recsys', 'vision'])}.yaml", lambda d: d["members"].append(member))


def add_tenant(root: Path, rng: random.Random) -> None:
    name = f"new-team-{rng.randrange(100)}"
    (root / "tenants" / f"{name}.yaml").write_text(small_tenant(name, rng.choice([8, 16])))


def remove_vision(root: Path, rng: random.Random) -> None:
    (root / "tenants" / "vision.yaml").unlink(missing_ok=True)  # no other tenant names it


def change_platform(root: Path, rng: random.Random) -> None:
    cpu = str(rng.choice([3, 4]))
    edit_yaml(root, "platform.yaml", lambda d: d["defaults"]["limitRange"]["default"].update(cpu=cpu))


def change_imported_dataset(root: Path, rng: random.Random) -> None:
    def edit(data: dict) -> None:
        next(d for d in data["datasets"] if d["name"] == "click-logs")["runtime"]["replicas"] = rng.choice([1, 3])
    edit_yaml(root, "ml-platform.yaml", edit)


EDITS: list[Edit] = [change_quota, change_members, add_tenant, remove_vision, change_platform, change_imported_dataset]


@pytest.fixture
def nothing_kept() -> Iterator[None]:
    warm.forget()
    yield
    warm.forget()


@pytest.fixture
def counted(monkeypatch) -> Counter:
    """Files validated ('model:<path>') and tenants whose quota was split ('split:<name>')."""
    seen: Counter = Counter()
    validate, split = model_module.validate_model, plan_module.split_quota

    def validate_spied(model, source, problems):
        seen[f"model:{source.path}"] += 1
        return validate(model, source, problems)

    def split_spied(tenant, *args, **kwargs):
        seen[f"split:{tenant.name}"] += 1
        return split(tenant, *args, **kwargs)
    monkeypatch.setattr(model_module, "validate_model", validate_spied)
    monkeypatch.setattr(plan_module, "split_quota", split_spied)
    return seen


def outcome(root: Path, crds) -> object:
    """What a compile gives: every object by path, or its problems."""
    try:
        return dict(compile_repo(root, crds=crds, serialize=False, use_cache=False).objects)
    except CompileError as exc:
        return [str(p) for p in exc.problems]


def cold_outcome(root: Path, crds) -> object:
    kept = warm._kept
    warm.forget()
    try:
        return outcome(root, crds)
    finally:
        warm._kept = kept


def test_a_warm_compile_validates_and_splits_only_what_changed(tmp_path, crds, counted, nothing_kept):
    root = copy_repo(tmp_path / "repo")
    assert keep_warm(root) and warm.kept_root() == root.resolve()
    edit_yaml(root, "quant-research.yaml", lambda d: d["quota"].update(cpu="96"))
    counted.clear()
    lent = outcome(root, crds)
    validated = {k.split(":", 1)[1] for k in counted if k.startswith("model:")}
    split = {k.split(":", 1)[1] for k in counted if k.startswith("split:")}
    assert validated == {"tenants/quant-research.yaml"} | {f"tenants/{t}.jsonnet" for t in JSONNET_TENANTS}
    assert split == {"quant-research"} | JSONNET_TENANTS
    assert lent == cold_outcome(root, crds)

    # another platform file: nothing of the plan is lent, every tenant's model is checked again
    change_platform(root, random.Random(1))
    counted.clear()
    assert outcome(root, crds) == cold_outcome(root, crds)
    assert "model:tenants/platform.yaml" in counted
    assert {k for k in counted if k.startswith("split:")} >= {"split:ml-platform", "split:vision"}


def test_another_repository_borrows_nothing(tmp_path, crds, counted, nothing_kept):
    kept, other = copy_repo(tmp_path / "kept"), copy_repo(tmp_path / "other")
    assert keep_warm(kept)
    counted.clear()
    outcome(other, crds)
    assert "model:tenants/ml-platform.yaml" in counted and "split:ml-platform" in counted


def test_a_repository_that_does_not_compile_keeps_what_was_kept(tmp_path, nothing_kept):
    root = copy_repo(tmp_path / "repo")
    assert keep_warm(root)
    kept = warm._kept
    edit_yaml(root, "vision.yaml", lambda d: d.update(bogusField=1))
    assert not keep_warm(root) and warm._kept is kept


@pytest.mark.parametrize("seed", range(3))
def test_warm_compiles_equal_cold_ones_on_random_edits(tmp_path, crds, seed, nothing_kept):
    rng = random.Random(seed)
    root = copy_repo(tmp_path / "repo")
    assert keep_warm(root)
    for step in range(5):
        rng.choice(EDITS)(root, rng)
        assert outcome(root, crds) == cold_outcome(root, crds), (seed, step)
        if rng.random() < 0.7:
            keep_warm(root)  # as a server does between commands; else the next edit lends from older files
