"""`tenantc apply`: server-side apply of rendered/ to live clusters, then optionally prune."""
from __future__ import annotations

import argparse
import sys

from compiler.commands.diff import add_plan_flags, plan_targets
from compiler.errors import UserError
from compiler.live.apply import ApplyOptions, apply_cluster
from compiler.live.client import Unreachable
from compiler.live.diff import APPLY
from compiler.live.output import print_apply
from compiler.live.progress import progress_for
from compiler.live.prune import PruneFlags

HELP = """\
Apply rendered/ to the live clusters with server-side apply (field manager `tenantc`).

Objects go in stages (namespaces and cluster-scoped objects first, jobs last), in parallel
within a stage. Only what differs is sent: an apply with nothing to change writes nothing.
Fields owned by another field manager are a conflict, reported and left alone unless
--force-conflicts. Requests are retried on 429, 5xx and dropped connections; every step
is safe to repeat, so after any failure run apply again.

--prune deletes objects tenantc owns live (labels app.kubernetes.io/managed-by=tenantc,
tenantc.io/tenant and this cluster's tenantc.io/cluster) that rendered/ no longer has; never
Namespaces or PersistentVolumeClaims without --prune-namespaces / --prune-pvcs, and nothing
at all when that would be more than --prune-threshold percent of what tenantc owns there.

exit codes: 0 applied (or nothing to do), 2 error: invalid or stale input, conflicts,
immutable fields, prune refused, --wait timed out.

examples:
  tenantc apply --crd-dir ../shared/crds --dry-run
  tenantc apply --cluster gpu-east --prune
  tenantc apply --wait --timeout 600
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("apply", help="server-side apply rendered/ to live clusters (and prune)",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_plan_flags(parser)
    parser.add_argument("--prune", action="store_true", help="delete owned objects rendered/ no longer has")
    parser.add_argument("--force-conflicts", action="store_true",
                        help="take over fields another field manager owns")
    parser.add_argument("--dry-run", action="store_true",
                        help="server-side dry run: the API server checks every write, nothing is stored")
    parser.add_argument("--wait", action="store_true",
                        help="wait until datasets are bound, runtimes and notebooks ready")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long --wait waits (default 300)")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text",
                        help="json: a stable schema for scripts (apiVersion tenantc.io/v1, kind ApplyReport)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ApplyOptions(concurrency=args.concurrency, force_conflicts=args.force_conflicts,
                           dry_run=args.dry_run, prune=args.prune,
                           prune_flags=PruneFlags(args.prune_namespaces, args.prune_pvcs, args.prune_threshold),
                           wait=args.wait, timeout=args.timeout)
    reports = []
    for cluster in plan_targets(args, APPLY, force_conflicts=args.force_conflicts):
        progress = progress_for(sys.stdout, quiet=args.output == "json")
        try:
            reports.append(apply_cluster(cluster.client, cluster.plan, cluster.desired, options, progress))
        except Unreachable as exc:
            raise UserError(f"cluster {cluster.target.cluster}: {exc}; run apply again when it answers") from None
        finally:
            progress.close()
    print_apply(reports, args.output, sys.stdout, args.dry_run)
    return 0 if all(r.ok for r in reports) else 2
