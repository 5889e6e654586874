"""What diff, apply and status are asked to do: typed options, one dataclass per workflow.

As Tanka's workflow functions take Opts structs and kapp's flag types fill its library
options: compiler.commands maps command-line flags onto these, library callers and tests
build them directly. Nothing here knows about argparse.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.live.prune import PruneFlags


@dataclass(frozen=True)
class ClusterSelection:
    """Which platform clusters to act on, through which kubeconfig (compiler.kube.config).

    By default every platform cluster whose context the kubeconfig has; `clusters` narrows
    that, `context` overrides the context of the one cluster chosen."""

    kubeconfig: str | None = None  # else $KUBECONFIG, else ~/.kube/config
    context: str | None = None
    clusters: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffOptions:
    """`diff`: compare rendered/ (proven current) with the selected clusters."""

    root: Path = Path(".")
    crd_dirs: tuple[Path, ...] = ()  # the same folders as for compile
    selection: ClusterSelection = ClusterSelection()
    concurrency: int = 8  # requests in flight per cluster
    prune_flags: PruneFlags = PruneFlags()  # what counts as to prune


@dataclass(frozen=True)
class ApplyOptions(DiffOptions):
    """`apply`: the change sets sent with server-side apply, then prune and wait as asked."""

    max_concurrency: int = 64  # apply's writes: from `concurrency` up to this many while latency holds
    force_conflicts: bool = False
    dry_run: bool = False  # server-side: every request is sent with dryRun=All; deletions are only listed
    prune: bool = False  # delete what tenantc owns and rendered/ no longer has (within prune_flags)
    wait: bool = False
    timeout: float = 300.0  # for wait


@dataclass(frozen=True)
class StatusOptions:
    """`status`: what each tenant has and uses; needs only the platform file."""

    root: Path = Path(".")
    selection: ClusterSelection = ClusterSelection()
    tenants: tuple[str, ...] = ()  # all tenants when empty
    concurrency: int = 6
    retry_for: float = 15.0  # seconds a request is retried: status is read-only and interactive
