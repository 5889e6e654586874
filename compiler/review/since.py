"""`tenantc check --base REF`: check only what a change since REF can have made stale.

A unit's key determines its rendered files (the unit cache's contract). A unit whose key is
the same at REF and now, and whose folder under rendered/ holds the same files as at REF, is
exactly as fresh and valid as it was at REF. So when REF passed `tenantc check` (in CI: the
branch a pull request targets, which is checked on every merge), only the units whose key or
files differ are rendered, validated and compared, with Argo CD's unit (made from every unit)
and the folders that should no longer exist; load, model and plan (every check across
tenants) still run on everything. What this cannot decide cheaply gives None and the caller
checks everything: REF has Jsonnet or differs by more than YAML spec files, REF does not
compile, CRD folders inside the repository changed, or something under rendered/ lies outside
unit folders. REF must have passed check with the same tenantc (its version is not in git):
after upgrading tenantc, or changing CRDs kept outside the repository, check without --base.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.errors import CompileError
from compiler.forked import Forked
from compiler.kinds import ARGOCD_DIR
from compiler.load.sources import Sources
from compiler.pipeline import (
    RENDERED_DIR,
    CompileResult,
    check_rendered,
    compile_repo,
    has_unit_cache,
    model_repo,
    plan_repo,
    platform_crd_dirs,
)
from compiler.render.argocd import ArgoCdSettings
from compiler.review.revision import Revision, derived_sources, differs_under, git, open_revision
from compiler.write.tree import Staleness, existing_units


@dataclass
class SinceCheck:
    """A check of the units that may differ from REF."""

    result: CompileResult  # the compile of those units (and Argo CD's)
    staleness: Staleness
    compared: int  # unit folders compiled and compared
    trusted: int  # units as fresh as at REF, left unread


def check_since(root: Path, base_ref: str, crd_dirs: list[Path]) -> SinceCheck | None:
    """Check rendered/ against the specs, trusting what is unchanged since `base_ref`; None
    when that cannot be decided this way. Raises CompileError (the specs' problems) and
    GitError (`base_ref` is no commit) like a full check."""
    root = Path(root)
    base, head = open_revision(root, "base", base_ref), open_revision(root, "head", None)
    specs = model_repo(root)
    sources = derived_sources(base, head, specs)
    touched = touched_units(base)
    crd_folders = crd_dirs or list(platform_crd_dirs(root, specs.platform).values())
    if sources is None or touched is None or differs_under(base, head, crd_folders):
        return None
    then_keys = Forked(lambda: _keys(root, crd_dirs, sources))  # REF planned beside the working tree
    try:
        now = plan_repo(root, crd_dirs, specs=specs)
        then = then_keys.join()
    finally:
        then_keys.kill()
    if then is None:
        return None  # REF itself does not compile: nothing of it can be trusted
    selected = {folder for folder, key in now.keys.items() if then.get(folder) != key or folder in touched}
    result = compile_repo(root, crd_dirs, use_cache=has_unit_cache(root), planned=now, only=selected.__contains__)
    argocd = {ARGOCD_DIR} if ArgoCdSettings.from_platform(now.specs.platform) is not None else set()
    gone = existing_units(root / RENDERED_DIR) - set(now.keys) - argocd
    compared = selected | argocd | gone
    staleness = check_rendered(root, result, units=compared)
    return SinceCheck(result, staleness, len(compared), len(now.keys) - len(selected))


def _keys(root: Path, crd_dirs: list[Path], sources: Sources) -> dict[str, str] | None:
    """Every unit's key of the revision `sources` were read from; None when it does not compile."""
    try:
        return plan_repo(root, crd_dirs, sources=sources).keys
    except CompileError:
        return None


def touched_units(base: Revision) -> set[str] | None:
    """Unit folders whose files under rendered/ differ from `base`'s commit: changed, added,
    removed, untracked or ignored. None when a path lies outside unit folders."""
    assert base.commit is not None
    diff = git(base.root, "diff", "--name-only", "--relative", "--no-renames", "-z", base.commit, "--", RENDERED_DIR)
    others = git(base.root, "ls-files", "--others", "-z", "--", RENDERED_DIR)  # untracked, ignored ones too
    units = set()
    for path in (diff + others).decode().split("\0"):
        if not path:
            continue
        parts = path.split("/")[1:]  # below rendered/
        if len(parts) == 2 and parts[0].startswith("_"):
            units.add(parts[0])
        elif len(parts) == 3 and not parts[0].startswith((".", "_")) and not parts[1].startswith("."):
            units.add(f"{parts[0]}/{parts[1]}")
        else:
            return None
    return units
