"""`tenantc diff`: what `apply` would change on live clusters, per cluster and tenant."""
from __future__ import annotations

import argparse
import sys

from compiler.commands.live_flags import add_change_set_flags, change_set_fields
from compiler.commands.output import GITHUB, JSON, MARKDOWN, TEXT, add_output_flag, use_color
from compiler.kinds import MANAGED_BY_LABEL, MANAGED_BY_VALUE, REPORT_API_VERSION
from compiler.live import workflow
from compiler.live.options import DiffOptions
from compiler.live.report import print_diff

HELP = f"""\
Compare rendered/ with the live clusters and show what `tenantc apply` would change.

rendered/ must be what tenants/ compiles to (else exit 2: run `tenantc compile`). Live state
is read with one LIST per kind (label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}); objects whose
fields and field ownership already match cost nothing more, the others are confirmed with
a server-side dry-run apply, which is what the diff shows. Fields another field manager
changed are named with that manager (drift). Secret values are never shown.

exit codes: 0 no differences, 1 differences, 2 error (invalid or stale input, cluster unreachable).

examples:
  tenantc diff --crd-dir ../shared/crds
  tenantc diff --cluster gpu-east --context my-admin-context
  tenantc diff -o json | jq '.summary'
  tenantc diff -o github            # workflow annotations on rendered/ files
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("diff", help="show what apply would change on live clusters",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_change_set_flags(parser)
    add_output_flag(parser, (TEXT, JSON, MARKDOWN, GITHUB), deprecated_format=True,
                    help=f"text for a terminal; json for scripts (apiVersion {REPORT_API_VERSION}, kind DiffReport); "
                         "markdown for a pull request comment; github for workflow annotations (default text)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = workflow.diff(DiffOptions(**change_set_fields(args)))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print_diff(result.change_sets, args.output, sys.stdout, color=use_color())
    if result.errors:
        return 2
    return 1 if result.differences else 0
