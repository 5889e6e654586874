"""The fast reviews give the same review, or the same failures, as compiling both revisions in
full, on random edits: tenants added, removed and changed, the platform changed, an imported
dataset changed, members and network openings changed. Two fast paths: the keyed one
(compiler.review.keyed: a YAML-only repository; both revisions planned, only the units whose keys
differ rendered) and the shared one (revisions share every unit whose key both have, and the
base reuses the head's spec files but for those that differ). Seeded, so a failure replays."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from review_helpers import SpecRepo
from spec_edits import edit_yaml, small_tenant

from compiler.review import ReviewFailed, review, snapshot
from compiler.review.report import to_json

YAML_TENANTS = ["ads-ranking", "ml-platform", "quant-research", "recsys", "vision"]
REMOVABLE = ["vision"]  # no other tenant names it: removing it leaves the rest compiling


def change_quota(repo: SpecRepo, rng: random.Random) -> None:
    tenant = rng.choice(["ml-platform", "quant-research", "vision"])  # quotas split by weight
    edit_yaml(repo.root, f"{tenant}.yaml", lambda d: d["quota"].update(cpu=str(rng.choice([64, 96, 256]))))


def change_members(repo: SpecRepo, rng: random.Random) -> None:
    tenant = rng.choice(YAML_TENANTS)
    member = {"group": f"group-{rng.randrange(100)}", "role": rng.choice(["view", "edit"])}
    edit_yaml(repo.root, f"{tenant}.yaml", lambda d: d["members"].append(member))


def add_tenant(repo: SpecRepo, rng: random.Random) -> None:
    name = f"new-team-{rng.randrange(100)}"
    repo.write(f"tenants/{name}.yaml", small_tenant(name, rng.choice([8, 16])))


def remove_tenant(repo: SpecRepo, rng: random.Random) -> None:
    repo.path(f"tenants/{rng.choice(REMOVABLE)}.yaml").unlink()


def change_platform(repo: SpecRepo, rng: random.Random) -> None:
    edit_yaml(repo.root, "platform.yaml",
              lambda d: d["defaults"]["limitRange"]["default"].update(cpu=str(rng.choice([3, 4]))))


def change_imported_dataset(repo: SpecRepo, rng: random.Random) -> None:
    def edit(data: dict) -> None:
        click_logs = next(d for d in data["datasets"] if d["name"] == "click-logs")
        click_logs["runtime"]["replicas"] = rng.choice([1, 3])
    edit_yaml(repo.root, "ml-platform.yaml", edit)


def open_egress(repo: SpecRepo, rng: random.Random) -> None:
    """A NetworkPolicy change: the network rule reads every policy of both revisions."""
    cidr = {"cidr": f"10.{rng.randrange(200)}.0.0/16", "ports": [{"port": 443}]}
    edit_yaml(repo.root, "quant-research.yaml", lambda d: d["network"]["egress"].append(cidr))


def break_tenant(repo: SpecRepo, rng: random.Random) -> None:
    edit_yaml(repo.root, f"{rng.choice(YAML_TENANTS)}.yaml", lambda d: d["quota"].update(cpu="lots"))


EDITS = [change_quota, change_members, add_tenant, remove_tenant, change_platform, change_imported_dataset,
         open_egress, break_tenant]


def outcome(repo: SpecRepo, crds, shared: bool) -> tuple[str, object]:
    """("reviewed", the review as JSON) or ("failed", per revision the problems' file, field
    and message): the verdict and everything a report shows of it."""
    try:
        return "reviewed", to_json(review(repo.root, "main", crds=crds, use_cache=False, parallel=False,
                                          shared=shared))
    except ReviewFailed as failed:
        return "failed", [(f.revision.role, [(p.file, p.path, p.message) for p in f.problems])
                          for f in failed.failures]


@pytest.fixture
def spied(monkeypatch):
    """What the fast paths did: whether the keyed one applied, units taken from the other
    revision (the shared one), and whether the base's spec files were derived from the head's."""
    seen: dict = {"shared": [], "derived": [], "keyed": []}

    class Counting(snapshot.SharedUnits):
        def __init__(self) -> None:
            super().__init__()
            seen["shared"].append(self)

    real_derived, real_keyed = snapshot.derived_sources, snapshot.compile_keyed

    def derived(*args):
        result = real_derived(*args)
        seen["derived"].append(result is not None)
        return result

    def compile_keyed(*args):
        result = real_keyed(*args)
        seen["keyed"].append(result is not None)
        return result

    monkeypatch.setattr(snapshot, "SharedUnits", Counting)
    monkeypatch.setattr(snapshot, "derived_sources", derived)
    monkeypatch.setattr(snapshot, "compile_keyed", compile_keyed)
    return seen


@pytest.mark.parametrize("jsonnet", [True, False], ids=["with-jsonnet", "yaml-only"])
@pytest.mark.parametrize("seed", range(6))
def test_fast_review_equals_full_review_on_random_edits(tmp_path, crds, spied, seed, jsonnet):
    fast = fast_and_full_agree(tmp_path / "repo", crds, random.Random(seed * 2 + jsonnet), jsonnet)
    verdict, _ = fast
    assert spied["keyed"] == [verdict == "reviewed"], "keyed whenever both compile (no CRD folder changed)"


@pytest.mark.parametrize("argocd", [True, False], ids=["argocd", "no-argocd"])
@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.__name__)
def test_keyed_review_equals_full_review_for_each_edit(tmp_path, crds, spied, edit, argocd):
    """Every kind of edit alone in a YAML-only repository (the random pairs above may miss one),
    with and without Argo CD (whose unit needs the left-out units' summaries); the base's spec
    files are the head's but for those that differ."""
    repo = SpecRepo.create(tmp_path / "repo")
    if not argocd:
        edit_yaml(repo.root, "platform.yaml", lambda d: d.pop("argocd"))
    remove_jsonnet(repo)
    edit(repo, random.Random(1))
    fast, full = outcome(repo, crds, shared=True), outcome(repo, crds, shared=False)
    assert fast == full
    assert spied["keyed"] == [fast[0] == "reviewed"]
    assert (fast[0] == "failed") == (edit is break_tenant)


def fast_and_full_agree(root, crds, rng: random.Random, jsonnet: bool) -> tuple[str, object]:
    """A copy of the example tenants (without Jsonnet unless `jsonnet`) edited by two random
    edits: the fast review's outcome, which must be the full review's."""
    repo = SpecRepo.create(root)
    if not jsonnet:
        remove_jsonnet(repo)
    edits = rng.sample(EDITS, 2)
    for edit in edits:
        edit(repo, rng)
    fast, full = outcome(repo, crds, shared=True), outcome(repo, crds, shared=False)
    assert fast == full, [e.__name__ for e in edits]
    return fast


def remove_jsonnet(repo: SpecRepo) -> None:
    for path in repo.root.joinpath("tenants").glob("*.jsonnet"):
        path.unlink()
    repo.commit("YAML only")


@pytest.mark.parametrize("jsonnet", [True, False], ids=["with-jsonnet", "yaml-only"])
@pytest.mark.parametrize("argocd", [True, False], ids=["argocd", "no-argocd"])
def test_keyed_review_renders_only_the_units_whose_key_differs(tmp_path, crds, spied, monkeypatch, argocd,
                                                               jsonnet):
    """A quota change renders the changed tenant's units (and those of tenants whose plan reads
    its spec) once per revision, and no other tenant unit unless Argo CD needs its summary:
    the rest have the same key, so the same objects, in both."""
    from compiler import pipeline

    repo = SpecRepo.create(tmp_path / "repo")
    if not argocd:
        edit_yaml(repo.root, "platform.yaml", lambda d: d.pop("argocd"))
    if not jsonnet:  # with Jsonnet the base's spec files are all read from git and evaluated
        remove_jsonnet(repo)
    repo.commit("the platform and tenants of this case")
    edit_yaml(repo.root, "vision.yaml", lambda d: d["quota"].update(cpu="256"))
    rendered: list[str] = []
    real_render = pipeline.render_tenant

    def counting(ctx):
        rendered.append(f"{ctx.cluster.name}/{ctx.tenant.name}")
        return real_render(ctx)

    monkeypatch.setattr(pipeline, "render_tenant", counting)
    result = review(repo.root, "main", crds=crds, use_cache=False)
    counts = Counter(rendered)
    assert spied["keyed"] == [True]
    assert {c.tenant for c in result.changes} == {"vision"}
    compiled = pipeline.compile_repo(repo.root, serialize=False)
    units = {path.rpartition("/")[0] for path in compiled.objects} - {"_argocd"}
    reads_vision = {u for u in units if "vision" in {u.rpartition("/")[2], *compiled.plan.tenants_read_by(
        u.rpartition("/")[2])}}
    changed_units = {u for u in reads_vision if not u.endswith("/_platform")}
    other_units = {u for u in units if not u.endswith("/_platform")} - changed_units
    assert changed_units and other_units
    assert {u: counts[u] for u in changed_units} == dict.fromkeys(changed_units, 2)  # once per revision
    # Argo CD's unit reads every unit's summary: a unit left out is rendered for it once, for
    # both revisions (and never validated).
    assert {u: counts[u] for u in other_units} == dict.fromkeys(other_units, 1 if argocd else 0)
    assert set(counts) == changed_units | (other_units if argocd else set())


@pytest.mark.parametrize("jsonnet", [True, False], ids=["with-jsonnet", "yaml-only"])
def test_shared_review_equals_full_review_on_random_edits(tmp_path, crds, spied, monkeypatch, jsonnet):
    """Where the keyed path does not apply (a CRD folder in the repository changed), the
    shared one does: the same review or failures as two full compiles."""
    monkeypatch.setattr(snapshot, "compile_keyed", lambda *args: None)
    for seed in range(3):
        fast = fast_and_full_agree(tmp_path / f"repo-{seed}", crds, random.Random(100 + seed * 2 + jsonnet), jsonnet)
        head_failed = fast[0] == "failed" and "head" in [role for role, _ in fast[1]]
        if not jsonnet and not head_failed:
            assert spied["derived"][-1], "the base's spec files are the head's but for those that differ"


def test_fast_review_shares_all_but_the_changed_units(tmp_path, crds, spied, monkeypatch):
    from compiler.pipeline import compile_repo

    monkeypatch.setattr(snapshot, "compile_keyed", lambda *args: None)  # as when a CRD folder changed
    repo = SpecRepo.create(tmp_path / "repo")
    edit_yaml(repo.root, "vision.yaml", lambda d: d["quota"].update(cpu="256"))
    result = review(repo.root, "main", crds=crds, use_cache=False)
    assert {c.tenant for c in result.changes} == {"vision"}
    compiled = compile_repo(repo.root, serialize=False)
    units = {path.rpartition("/")[0] for path in compiled.objects} - {"_argocd"}  # Argo CD's is derived
    # A unit depends on its tenant's spec and those its plan read (the unit cache's key).
    reads_vision = {u for u in units if "vision" in {u.rpartition("/")[2], *compiled.plan.tenants_read_by(
        u.rpartition("/")[2])}}
    assert reads_vision and units - reads_vision
    assert reused(spied) == len(units - reads_vision)


def reused(spied: dict) -> int:
    return sum(shared.reused for shared in spied["shared"])


def test_review_parses_a_kinds_crds_when_validation_asks(spec_repo, crds):
    """review() given --crd-dir parses the CRDs of a kind only when validation first asks for
    it (as compile does); the review is the one with every CRD parsed up front."""
    from review_helpers import SHARED_CRDS

    from compiler.review import CrdsByKind

    if not SHARED_CRDS.is_dir():
        pytest.skip("no CRDs beside the checkout")
    edit_yaml(spec_repo.root, "vision.yaml", lambda d: d["quota"].update(cpu="256"))
    by_dirs = review(spec_repo.root, "main", crd_dirs=[SHARED_CRDS], use_cache=False)
    assert to_json(by_dirs) == to_json(review(spec_repo.root, "main", crds=crds, use_cache=False))
    lazy = CrdsByKind([SHARED_CRDS], spec_repo.root / "crd-cache")
    assert lazy.digest == crds.digest and not lazy.schemas
    assert lazy.has_kind("scheduling.volcano.sh/v1beta1", "Queue")
    assert {kind for _, kind in lazy.schemas} < {kind for _, kind in crds.schemas}


def test_keyed_review_of_two_commits(tmp_path, crds, spied):
    """`--head REF` (a commit, read from git) takes the keyed path too, with the same review."""
    repo = SpecRepo.create(tmp_path / "repo")
    remove_jsonnet(repo)
    repo.git("checkout", "-q", "-b", "pr")
    edit_yaml(repo.root, "vision.yaml", lambda d: d["quota"].update(cpu="256"))
    repo.commit("vision: more CPU")
    repo.git("checkout", "-q", "main")
    fast = to_json(review(repo.root, "main", "pr", crds=crds, use_cache=False))
    assert spied["keyed"] == [True]
    assert fast == to_json(review(repo.root, "main", "pr", crds=crds, use_cache=False, shared=False))
    assert {c["tenant"] for c in fast["changes"]} == {"vision"}


def test_keyed_review_is_not_taken_when_crds_in_the_repository_change(tmp_path, crds, spied):
    """The base's units were validated against the CRDs of its commit: when a CRD folder inside
    the repository changed, no unit is trusted and both revisions are compiled in full."""
    from review_helpers import SHARED_CRDS

    if not SHARED_CRDS.is_dir():
        pytest.skip("no CRDs beside the checkout")
    repo = SpecRepo.create(tmp_path / "repo")
    crd = next(SHARED_CRDS.rglob("*.yaml"))
    folder = repo.path("crds/cpu-west")  # the platform's default CRD folder of cluster cpu-west
    folder.mkdir(parents=True)
    (folder / crd.name).write_bytes(crd.read_bytes())
    remove_jsonnet(repo)  # commits the CRD copy too
    edit_yaml(repo.root, "vision.yaml", lambda d: d["quota"].update(cpu="256"))
    untouched = to_json(review(repo.root, "main", crds=crds, use_cache=False))
    assert spied["keyed"] == [True]
    (folder / crd.name).write_bytes(crd.read_bytes() + b"# edited\n")
    edited = to_json(review(repo.root, "main", crds=crds, use_cache=False))
    assert spied["keyed"] == [True, False]
    assert edited == untouched
