"""Flags of the commands that talk to clusters (diff, apply, status), mapped onto the library's options.

As kapp's *_flags.go types fill its library options: each group of flags here has one
function that adds it and one that turns the parsed values into compiler.live.options.
"""
from __future__ import annotations

import argparse
from typing import Any

from compiler.commands.common import add_repo_flags, crd_dirs
from compiler.kube.config import DEFAULT_KUBECONFIG
from compiler.live.options import ClusterSelection
from compiler.live.prune import DEFAULT_THRESHOLD, PruneFlags
from compiler.live.prune_guard import PVCS_IN_USE_FLAG, UNOWNED_CONTENTS_FLAG


def add_access_flags(parser: argparse.ArgumentParser) -> None:
    """--kubeconfig, --context, --cluster (see selection())."""
    group = parser.add_argument_group("cluster access")
    group.add_argument("--kubeconfig", metavar="PATH",
                       help=f"kubeconfig file(s) (default: $KUBECONFIG or {DEFAULT_KUBECONFIG})")
    group.add_argument("--context", metavar="NAME",
                       help="kubeconfig context to use instead of the platform's for the chosen cluster")
    group.add_argument("--cluster", metavar="NAME", action="append", default=[],
                       help="platform cluster to act on; repeatable (default: every platform cluster "
                            "whose context is in the kubeconfig)")


def selection(args: argparse.Namespace) -> ClusterSelection:
    return ClusterSelection(args.kubeconfig, args.context, tuple(args.cluster))


def add_change_set_flags(parser: argparse.ArgumentParser) -> None:
    """Flags diff and apply share: repository, cluster access, concurrency, prune rules."""
    add_repo_flags(parser)
    add_access_flags(parser)
    parser.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="requests in flight per cluster (default 8); apply grows its writes from there "
                             "while the server's latency holds (up to 64) and backs off on 429")
    group = parser.add_argument_group("prune rules (what counts as to prune)")
    group.add_argument("--prune-namespaces", action="store_true", help="Namespaces may be pruned too")
    group.add_argument("--prune-pvcs", action="store_true", help="PersistentVolumeClaims may be pruned too")
    group.add_argument("--prune-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="PCT",
                       help=f"refuse to prune more than PCT percent of the objects tenantc owns on a "
                            f"cluster (default {DEFAULT_THRESHOLD:g})")
    group.add_argument(UNOWNED_CONTENTS_FLAG, action="store_true",
                       help="with --prune-namespaces: delete a Namespace even when it holds objects tenantc "
                            "does not own (they are deleted with it); without it such a prune is refused "
                            "and what the namespace holds is listed")
    group.add_argument(PVCS_IN_USE_FLAG, action="store_true",
                       help="with --prune-pvcs: delete a PersistentVolumeClaim even when a pod that stays "
                            "mounts it (Kubernetes removes it once the pod is gone); without it such a prune "
                            "is refused")


def change_set_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The flags of add_change_set_flags as the fields of DiffOptions (which ApplyOptions extends)."""
    return {"root": args.root, "crd_dirs": tuple(crd_dirs(args)), "selection": selection(args),
            "concurrency": args.concurrency,
            "prune_flags": PruneFlags(args.prune_namespaces, args.prune_pvcs, args.prune_threshold,
                                      unowned_contents=args.dangerous_prune_unowned_contents,
                                      pvcs_in_use=args.dangerous_prune_pvcs_in_use)}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
