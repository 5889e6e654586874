"""`tenantc status`: quota, queue, datasets, jobs and agent heartbeats per tenant and cluster."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compiler.commands.live_flags import add_access_flags, selection
from compiler.commands.output import JSON, TEXT, add_output_flag, use_color
from compiler.kinds import REPORT_API_VERSION
from compiler.live import workflow
from compiler.live.options import StatusOptions
from compiler.live.report import print_status

HELP = """\
Show, per cluster and tenant: ResourceQuota used/hard, the Volcano queue's state and
allocation, Fluid datasets with phase and cached percentage, Volcano jobs with phase, and
tenantc-agent heartbeats with their age. Kinds a cluster does not serve show as n/a.

Needs only tenants/platform.yaml (for the clusters' contexts), not a compiled tree.

An API server that is restarting is waited for (until it answers /readyz ok) for up to
--retry-for seconds; one that stays away is reported with its server and the last reason.

exit codes: 0 ok, 2 a cluster could not be read (unreachable, not ready, credentials refused,
a kind not readable).

examples:
  tenantc status
  tenantc status --cluster gpu-east --tenant vision -o json
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="quota, queues, datasets, jobs and heartbeats per tenant",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("."), metavar="DIR",
                        help="repository root holding tenants/ (default: current directory)")
    add_access_flags(parser)
    parser.add_argument("--tenant", action="append", default=[], metavar="NAME",
                        help="show only this tenant; repeatable")
    parser.add_argument("--retry-for", type=_seconds, default=StatusOptions.retry_for, metavar="SECONDS",
                        help="how long a cluster that does not answer or is not ready yet (restarting) is "
                             f"waited for (default {StatusOptions.retry_for:g})")
    add_output_flag(parser, (TEXT, JSON),
                    help=f"text: a table; json: a stable schema for scripts (apiVersion {REPORT_API_VERSION}, "
                         "kind StatusReport) (default text)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = workflow.status(StatusOptions(root=args.root, selection=selection(args), tenants=tuple(args.tenant),
                                           retry_for=args.retry_for))
    print_status(result.report(), args.output, sys.stdout, use_color())
    return 0 if result.ok else 2


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
