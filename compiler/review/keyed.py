"""Review's keyed path: both revisions planned, only the units whose keys differ rendered.

A unit's key determines its objects (the unit cache's contract, README *Unit cache*), so a unit
whose key is the same in both revisions holds the same objects in both and no change can be in
it. The keyed review plans both revisions (every check across tenants runs on both, as in a
full compile), then renders and validates only the units whose keys differ, with Argo CD's unit,
and compares those. The other units are rendered only when a risk rule reads a whole revision
(the bindings of a namespace, a cluster's NetworkPolicies, every Dataset): once for both
revisions, from the head's plan, and not validated. The base's half runs in a forked child
while the head is planned (compiler.forked), unless Argo CD's unit makes both halves render
every unit for its summary: then they share those in this process.

What it trusts, as `check --base` does (compiler.review.since): a unit the change cannot reach
is as valid as it is at the base, which passed `tenantc check` with this tenantc and these CRDs
(the branch a pull request targets). It is taken only when that can hold as far as git tells:
the base differs from the head by top-level YAML spec files only and has no Jsonnet, and the
CRD folders inside the repository are the same in both. Otherwise, and whenever a revision does
not compile (its problems are then reported as a full compile finds them), the review renders
and validates every unit (compile_shared).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from compiler.errors import CompileError
from compiler.forked import Forked
from compiler.load.sources import Sources
from compiler.pipeline import (
    CompileResult,
    Planned,
    SharedUnits,
    compile_repo,
    model_repo,
    plan_repo,
    platform_crd_dirs,
    render_unchecked,
    units_reading,
)
from compiler.render.argocd import ArgoCdSettings
from compiler.review.revision import Revision, changed_files, derived_sources, differs_under
from compiler.validate.crds import Crds

T = TypeVar("T")


class CommonUnits:
    """The units both revisions have with the same key: rendered on first read, once for both."""

    def __init__(self, planned: Planned, folders: set[str]):
        self.planned = planned
        self.folders = folders
        self._objects: dict[str, dict] | None = None

    def objects(self) -> dict[str, dict]:
        if self._objects is None:
            self._objects = render_unchecked(self.planned, self.folders)
        return self._objects


class KeyedObjects(Mapping[str, dict]):
    """A revision's objects in a keyed review: `differing` (the units whose key the other
    revision does not have, rendered and validated) and the common units', in path order.
    Reading anything but `differing` renders the common units."""

    def __init__(self, differing: dict[str, dict], common: CommonUnits):
        self.differing = differing
        self._common = common
        self._all: dict[str, dict] | None = None

    def _every(self) -> dict[str, dict]:
        if self._all is None:
            self._all = dict(sorted({**self._common.objects(), **self.differing}.items()))
        return self._all

    def __getitem__(self, path: str) -> dict:
        return self._every()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


def differing_objects(objects: Mapping[str, dict]) -> Mapping[str, dict]:
    """What a review compares of a revision's objects: those of the units whose key differs in
    a keyed review (the others are equal in both revisions), else every one."""
    return objects.differing if isinstance(objects, KeyedObjects) else objects


@dataclass
class _BaseSide(Generic[T]):
    """What the base's half of a keyed review hands back: every unit's key, the units it
    rendered (those whose key covers a changed spec file) and what the caller keeps of that
    compile."""

    keys: dict[str, str]
    rendered: set[str]
    kept: T


def compile_keyed(base: Revision, head: Revision, crds: Crds | None, crd_dirs: list[Path],
                  keep: Callable[[CompileResult], T]) -> tuple[dict[str, T], CommonUnits] | None:
    """Role -> what `keep` takes of the compile of the units whose key differs, for both
    revisions, and the units they have in common; None when the keyed way does not apply (see
    the module's docstring) and the caller compiles both in full.

    The base is planned in a forked child while the head is planned here; not knowing the
    head's keys, the child renders the units whose key covers a changed spec file, which are
    the units whose key differs unless the head's plan reads a tenant the base's did not (a
    new tenant letting others in). Then, or when the child fails, the base is done here."""
    with head.materialise() as root:
        try:
            specs = model_repo(root)
            sources = derived_sources(base, head, specs)
            crd_folders = crd_dirs or list(platform_crd_dirs(head.root, specs.platform).values())
            if sources is None or differs_under(base, head, crd_folders):
                return None
        except CompileError:
            return None
        assert sources is not None
        changed = changed_files(base, head)
        shared = SharedUnits()  # in this process: Argo CD's summaries of the units left out, read once for both

        def base_side() -> _BaseSide[T] | None:
            return _base_side(root, crds, sources, keep, shared, lambda planned: units_reading(planned, changed))

        # With Argo CD, each side renders every unit it leaves out for its summary: in one
        # process the two sides share them, which costs less than two processes rendering all.
        argocd = ArgoCdSettings.from_platform(specs.platform) is not None
        child = None if argocd else Forked(base_side)
        try:
            now = plan_repo(root, crds=crds, specs=specs)
            side = child.join() if child else base_side()
        except CompileError:
            return None
        finally:
            if child:
                child.kill()
        if side is None:
            return None  # the base does not compile
        differing = {folder for folder in now.keys.keys() | side.keys.keys()
                     if now.keys.get(folder) != side.keys.get(folder)}
        if {folder for folder in differing if folder in side.keys} != side.rendered:
            side = _base_side(root, crds, sources, keep, shared, lambda _: differing)
            if side is None:
                return None
        try:
            head_kept = keep(compile_repo(root, crds=crds, serialize=False, shared=shared, planned=now,
                                          only=differing.__contains__))
        except CompileError:
            return None
    return {head.role: head_kept, base.role: side.kept}, CommonUnits(now, set(now.keys) - differing)


def _base_side(root: Path, crds: Crds | None, sources: Sources, keep: Callable[[CompileResult], T],
               shared: SharedUnits, select: Callable[[Planned], set[str]]) -> _BaseSide[T] | None:
    """Plan the base from `sources` and compile the units `select` picks; None when it does not compile."""
    try:
        planned = plan_repo(root, crds=crds, sources=sources)
        rendered = select(planned)
        result = compile_repo(root, crds=crds, serialize=False, shared=shared, planned=planned,
                              only=rendered.__contains__)
        return _BaseSide(planned.keys, rendered, keep(result))
    except CompileError:
        return None
