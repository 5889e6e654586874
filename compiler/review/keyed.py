"""Review's keyed path: both revisions planned, only the units whose keys differ rendered.

A unit's key determines its objects (the unit cache's contract, README *Unit cache*), so a unit
whose key is the same in both revisions holds the same objects in both and no change can be in
it. The keyed review plans both revisions (every check across tenants runs on both, as in a
full compile), then renders and validates only the units whose keys differ, with Argo CD's unit,
and compares those. The other units are rendered only when a risk rule reads a whole revision
(the bindings of a namespace, a cluster's NetworkPolicies, every Dataset): once for both
revisions, from the head's plan, and not validated. With Argo CD, whose unit reads every
unit's summary, the units left out are rendered once, for both revisions, for that.

What it trusts, as `check --base` does (compiler.review.since): a unit the change cannot reach
is as valid as it is at the base, which passed `tenantc check` with this tenantc and these CRDs
(the branch a pull request targets). So it is not taken when a CRD folder inside the
repository differs between the revisions; nor when a revision does not compile, whose problems
are then reported as a full compile finds them: both cases go through compile_shared, which
renders and validates every unit. The base's spec files are the head's but for those that
differ when the change touches top-level YAML specs only (derived_sources), else all read
from git and evaluated.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from compiler.errors import CompileError
from compiler.pipeline import (
    CompileResult,
    Planned,
    SharedUnits,
    compile_repo,
    model_repo,
    plan_repo,
    platform_crd_dirs,
    render_unchecked,
)
from compiler.review.revision import Revision, derived_sources, differs_under, read_revision
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

    def __init__(self, differing: Mapping[str, dict], common: CommonUnits):
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


def compile_keyed(base: Revision, head: Revision, crds: Crds | None, crd_dirs: list[Path],
                  keep: Callable[[CompileResult], T]) -> tuple[dict[str, T], CommonUnits] | None:
    """Role -> what `keep` takes of the compile of the units whose key differs, for both
    revisions, and the units they have in common; None when the keyed way does not apply (see
    the module's docstring) and the caller compiles both in full.

    One process: planning the base in a forked child beside the head measured slower (0.59-0.61
    against 0.55-0.57 s for 1,000 tenants at load 1; the child's copy-on-write faults cost more
    than the overlap)."""
    with head.materialise() as root:
        try:
            specs = model_repo(root)
            crd_folders = crd_dirs or list(platform_crd_dirs(head.root, specs.platform).values())
            if differs_under(base, head, crd_folders):
                return None
            # The head's spec files but for those that differ when it can be told (YAML only), else all read from git.
            sources = derived_sources(base, head, specs)
            sources = sources if sources is not None else read_revision(base)
            if sources is None:
                return None  # the base's files cannot all be read: compiled in full, that says why
            now = plan_repo(root, crds=crds, specs=specs)
            then = plan_repo(root, crds=crds, sources=sources, previous=now.plan)
            differing = {folder for folder in now.keys.keys() | then.keys.keys()
                         if now.keys.get(folder) != then.keys.get(folder)}
            shared = SharedUnits()  # Argo CD's summaries of the units left out, read once for both
            kept = {role: keep(compile_repo(root, crds=crds, serialize=False, shared=shared, planned=planned,
                                            only=differing.__contains__))
                    for role, planned in ((head.role, now), (base.role, then))}
        except CompileError:
            return None
    return kept, CommonUnits(now, set(now.keys) - differing)
