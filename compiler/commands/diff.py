"""`tenantc diff`: what `apply` would change on live clusters, per cluster and tenant."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from compiler.commands.common import add_repo_flags, crd_dirs, use_color
from compiler.errors import UserError
from compiler.live.access import (
    Target,
    add_access_flags,
    cluster_contexts,
    connect,
    read_kubeconfig,
    select_targets,
)
from compiler.live.client import KubeClient, KubeError
from compiler.live.desired import cluster_objects, load_desired
from compiler.live.diff import DIFF, ClusterPlan, plan_cluster
from compiler.live.output import print_diff
from compiler.live.prune import DEFAULT_THRESHOLD, PruneFlags

HELP = """\
Compare rendered/ with the live clusters and show what `tenantc apply` would change.

rendered/ must be what tenants/ compiles to (else exit 2: run `tenantc compile`). Live state
is read with one LIST per kind (label app.kubernetes.io/managed-by=tenantc); objects whose
fields and field ownership already match cost nothing more, the others are confirmed with
a server-side dry-run apply, which is what the diff shows. Fields another field manager
changed are named with that manager (drift). Secret values are never shown.

exit codes: 0 no differences, 1 differences, 2 error (invalid or stale input, cluster unreachable).

examples:
  tenantc diff --crd-dir ../shared/crds
  tenantc diff --cluster gpu-east --context my-admin-context
  tenantc diff -o json | jq '.summary'
  tenantc diff --format github      # workflow annotations on rendered/ files
"""


@dataclass
class ClusterRun:
    """One target cluster: its client, its share of rendered/, and its plan."""

    target: Target
    client: KubeClient
    desired: dict[str, dict]
    plan: ClusterPlan


def add_plan_flags(parser: argparse.ArgumentParser) -> None:
    """Flags diff and apply share: repository, cluster access, concurrency, prune rules."""
    add_repo_flags(parser)
    add_access_flags(parser)
    parser.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="requests in flight per cluster (default 8)")
    group = parser.add_argument_group("prune rules (what counts as to prune)")
    group.add_argument("--prune-namespaces", action="store_true", help="Namespaces may be pruned too")
    group.add_argument("--prune-pvcs", action="store_true", help="PersistentVolumeClaims may be pruned too")
    group.add_argument("--prune-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="PCT",
                       help=f"refuse to prune more than PCT percent of the objects tenantc owns on a "
                            f"cluster (default {DEFAULT_THRESHOLD:g})")


def plan_targets(args: argparse.Namespace, mode: str, force_conflicts: bool = False) -> list[ClusterRun]:
    result = load_desired(args.root, crd_dirs(args))
    kubeconfig = read_kubeconfig(args.kubeconfig)
    targets = select_targets(cluster_contexts(result.specs.platform), kubeconfig, args.context, args.cluster)
    flags = PruneFlags(args.prune_namespaces, args.prune_pvcs, args.prune_threshold)
    runs = []
    for target in targets:
        client = connect(target, kubeconfig, concurrency=args.concurrency)
        desired = cluster_objects(result.objects, target.cluster)
        try:
            plan = plan_cluster(client, target, desired, mode=mode, concurrency=args.concurrency,
                                prune_flags=flags, force_conflicts=force_conflicts)
        except KubeError as exc:  # unreachable, or refused (e.g. no right to list a kind)
            raise UserError(f"cluster {target.cluster} (context {target.context}): {exc}") from None
        runs.append(ClusterRun(target, client, desired, plan))
    return runs


def register(subparsers) -> None:
    parser = subparsers.add_parser("diff", help="show what apply would change on live clusters",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_plan_flags(parser)
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text",
                        help="json: a stable schema for scripts (apiVersion tenantc.io/v1, kind DiffReport)")
    parser.add_argument("--format", choices=["text", "markdown", "github"], default="text",
                        help="text output style: markdown for a pull request comment, github for annotations")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plans = [r.plan for r in plan_targets(args, DIFF)]
    print_diff(plans, "json" if args.output == "json" else args.format, sys.stdout, color=use_color())
    if any(p.errors for p in plans):
        return 2
    return 1 if any(p.differences for p in plans) else 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
