"""`tenantc apply`: server-side apply of rendered/ to live clusters, then optionally prune."""
from __future__ import annotations

import argparse
import sys

from compiler.commands.live_flags import add_change_set_flags, change_set_fields
from compiler.commands.output import JSON, TEXT, add_output_flag, progress_for
from compiler.kinds import (
    CLUSTER_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PLATFORM_LABEL,
    REPORT_API_VERSION,
    TENANT_LABEL,
)
from compiler.live import workflow
from compiler.live.options import ApplyOptions
from compiler.live.prune_guard import PVCS_IN_USE_FLAG, UNOWNED_CONTENTS_FLAG
from compiler.live.report import print_apply

HELP = f"""\
Apply rendered/ to the live clusters with server-side apply (field manager `tenantc`).

Objects go in stages (namespaces and cluster-scoped objects first, jobs last), in parallel
within a stage. Only what differs is sent: an apply with nothing to change writes nothing.
Fields owned by another field manager are a conflict, reported and left alone unless
--force-conflicts. Requests are retried on 408, 429, 5xx and dropped connections; every
step is safe to repeat, so after any failure run apply again.

--prune deletes objects tenantc owns live (labels {MANAGED_BY_LABEL}={MANAGED_BY_VALUE},
{TENANT_LABEL}, this cluster's {CLUSTER_LABEL} and this platform's {PLATFORM_LABEL}: another
repository's objects on a shared cluster are never touched) that rendered/ no longer has; never
Namespaces or PersistentVolumeClaims without --prune-namespaces / --prune-pvcs, and nothing
at all when that would be more than --prune-threshold percent of what tenantc owns there.
Nothing either when a Namespace to prune holds anything tenantc does not own (it is listed;
{UNOWNED_CONTENTS_FLAG} deletes it with the namespace) or a PersistentVolumeClaim to
prune is mounted by a pod that stays ({PVCS_IN_USE_FLAG} prunes it anyway).

exit codes: 0 applied (or nothing to do), 2 error: invalid or stale input, conflicts,
immutable fields, prune refused, --wait timed out.

examples:
  tenantc apply --crd-dir ../shared/crds --dry-run
  tenantc apply --cluster gpu-east --prune
  tenantc apply --prune --prune-namespaces --dry-run    # what a removed tenant's namespace still holds
  tenantc apply --wait --timeout 600
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("apply", help="server-side apply rendered/ to live clusters (and prune)",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_change_set_flags(parser)
    parser.add_argument("--prune", action="store_true", help="delete owned objects rendered/ no longer has")
    parser.add_argument("--force-conflicts", action="store_true",
                        help="take over fields another field manager owns")
    parser.add_argument("--dry-run", action="store_true",
                        help="server-side dry run: the API server checks every write, nothing is stored")
    parser.add_argument("--wait", action="store_true",
                        help="wait until datasets are bound, runtimes and notebooks ready")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long --wait waits (default 300)")
    add_output_flag(parser, (TEXT, JSON),
                    help="text: progress and a summary per cluster; json: a stable schema for scripts "
                         f"(apiVersion {REPORT_API_VERSION}, kind ApplyReport) (default text)")
    parser.set_defaults(func=run)


def options(args: argparse.Namespace) -> ApplyOptions:
    return ApplyOptions(**change_set_fields(args), force_conflicts=args.force_conflicts, dry_run=args.dry_run,
                        prune=args.prune, wait=args.wait, timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    result = workflow.apply(options(args), progress=lambda: progress_for(sys.stdout, quiet=args.output == JSON))
    print_apply(result.reports, args.output, sys.stdout, result.dry_run)
    return 0 if result.ok else 2
