"""A repository's models and plan kept in this process for the compiles of it that follow.

A `tenantc server` forks a child per command; what the server holds, the child has for free.
After serving a repository, the server plans it once more while idle (pipeline.keep_warm) and
keeps the result here. A compile of the same repository in a child then takes the model of
every YAML spec file whose bytes are unchanged instead of validating it again, and the plan's
decisions for those tenants alone (make_plan's `previous`, which lends by the models'
identity): at 1,000 tenants, about half of the model and plan stages of a one-tenant edit.

What is lent is exact: a YAML file's model is a function of its bytes (the same code parsed
and validated it: the server exits when its code changes on disk), and the plan lends only
for the very model objects kept here. Jsonnet files are never lent (their imports may change
what the same bytes evaluate to). Only one repository is kept, replaced by the next.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.load.sources import Sources
from compiler.model import Specs
from compiler.plan import Plan


@dataclass(frozen=True)
class Kept:
    """A repository planned without problems: its resolved root, the digest of each YAML spec
    file's bytes (path -> digest) and its models and plan."""

    root: Path
    digests: dict[str, str]
    specs: Specs
    plan: Plan


_kept: Kept | None = None


def keep(root: Path, specs: Specs, plan: Plan) -> None:
    global _kept
    sources = [specs.platform_source, *(t.source for t in specs.tenants)]
    _kept = Kept(root.resolve(), {s.path: s.digest for s in sources if not s.path.endswith(".jsonnet")}, specs, plan)


def forget() -> None:
    global _kept
    _kept = None


def kept_root() -> Path | None:
    return _kept.root if _kept is not None else None


def lend_models(root: Path, sources: Sources) -> Sources:
    """`sources` (just read from `root`) with the kept model of every file whose bytes are the
    kept file's, for the model stage to take (Sources.validated)."""
    kept = _kept
    if kept is None or not sources.tenants or root.resolve() != kept.root:
        return sources
    models: dict[str, object] = {t.source.path: t.tenant for t in kept.specs.tenants}
    models[kept.specs.platform_source.path] = kept.specs.platform
    every = [sources.platform, *sources.tenants] if sources.platform is not None else sources.tenants
    lent = {s.path: models[s.path] for s in every if kept.digests.get(s.path) == s.digest and s.path in models}
    return Sources(sources.platform, sources.tenants, {**sources.validated, **lent})


def lent_plan(specs: Specs) -> Plan | None:
    """The kept plan, when `specs` took the kept platform model (see make_plan's `previous`)."""
    kept = _kept
    return kept.plan if kept is not None and kept.specs.platform is specs.platform else None
