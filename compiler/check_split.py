"""`tenantc check` of everything on two cores: half of the units in a forked child.

A check without a base has nothing it may trust (whatever it skipped would be vouched for by
files the pull request controls), so in a fresh clone it renders, validates, serializes and
compares every unit: about three fifths of its time, and every unit on its own. After load,
model and plan (every check across tenants, once), every second unit goes to a forked child
(compiler.forked) and the rest, Argo CD's unit (made from every unit) and the folders that
should no longer exist stay here; the two file lists are merged as one compare makes them.

The verdict and the lists are those of the serial check: whenever either part finds a
problem (invalid specs, an object too large), or there is no second core, no fork, or a unit
cache to share (a local repository, where most units come from it anyway), `check_split`
gives None and the caller runs the serial check, which reports exactly as always.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compiler.errors import CompileError
from compiler.forked import Forked
from compiler.kinds import ARGOCD_DIR
from compiler.pipeline import (
    RENDERED_DIR,
    Planned,
    check_rendered,
    compile_repo,
    has_unit_cache,
    plan_repo,
)
from compiler.validate import unchecked_warnings
from compiler.write.tree import Staleness, existing_units


@dataclass
class CheckedPart:
    """One part's outcome: what went unvalidated, the other warnings, and its staleness."""

    unchecked: list[tuple[str, str]]
    warnings: list[str]  # beside the unchecked kinds' (the same in both parts)
    staleness: Staleness


@dataclass
class SplitCheck:
    """Both parts merged: the warnings and staleness of one serial check."""

    warnings: list[str]
    staleness: Staleness


def check_split(root: Path, crd_dirs: list[Path]) -> SplitCheck | None:
    """The check of every unit in two processes; None when the serial check should run instead."""
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2 or has_unit_cache(root):
        return None
    try:
        planned = plan_repo(root, crd_dirs)
    except CompileError:
        return None  # the serial check reports it, in its order (folder problems first)
    theirs = frozenset(sorted(planned.keys)[1::2])
    child = Forked(lambda: _part(root, crd_dirs, planned, theirs.__contains__, theirs, argocd=False))
    try:
        gone = existing_units(root / RENDERED_DIR) - set(planned.keys) - {ARGOCD_DIR}
        mine = set(planned.keys) - theirs
        own = _part(root, crd_dirs, planned, mine.__contains__, mine | gone | {ARGOCD_DIR}, argocd=True)
        other = child.join()
    finally:
        child.kill()
    if own is None or other is None:
        return None
    unchecked = unchecked_warnings(own.unchecked + other.unchecked)
    return SplitCheck(own.warnings + unchecked, _merged(own.staleness, other.staleness))


def _part(root: Path, crd_dirs: list[Path], planned: Planned, only: Callable[[str], bool],
          compared: frozenset[str] | set[str], argocd: bool) -> CheckedPart | None:
    """Compile the units `only` takes (and Argo CD's, with `argocd`) and compare the folders
    `compared`; None when the compile finds a problem."""
    try:
        result = compile_repo(root, crd_dirs, use_cache=False, planned=planned, only=only, argocd=argocd)
    except CompileError:
        return None
    unchecked = unchecked_warnings(result.unchecked)
    others = [w for w in result.warnings if w not in unchecked]
    return CheckedPart(result.unchecked, others, check_rendered(root, result, units=set(compared)))


def _merged(a: Staleness, b: Staleness) -> Staleness:
    """As one compare lists them: sorted, strays (reported by both) once."""
    return Staleness(sorted(a.missing + b.missing), sorted(set(a.extra) | set(b.extra)),
                     sorted(a.differing + b.differing))
