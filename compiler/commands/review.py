"""`tenantc review --base REF [--head REF]`: what a tenant-config pull request does."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compiler.commands.common import add_repo_flags, crd_dirs
from compiler.commands.output import TEXT, add_output_flag
from compiler.gc_pause import paused_throughout

HELP = """\
Compile the base revision (read from git; the checkout and the index are never touched) and
the head (default: the working tree) in memory, then compare the rendered objects one by
one: added, removed and changed objects with a field-by-field diff, grouped by cluster and
tenant; capacity per cluster before and after; risk flags (data pruned, quota lowered,
network opened, admin/edit granted, workloads moved, datasets shared or made writable);
and the owners who must approve.

exit codes: 0 reviewed (changes or not), 1 changes found with --exit-code (like
`git diff --exit-code`), 2 a revision does not compile (each problem names the revision,
file and field) or bad input.

examples:
  tenantc review --base origin/main
  tenantc review --base origin/main -o markdown > review.md   # pull request comment
  tenantc review --base main --head my-branch -o json | jq '.risks'
  tenantc review --base origin/main --kubeconfig ~/.kube/config     # also: lowered below usage?
"""


def register(subparsers) -> None:
    from compiler.review.report import FORMATS

    parser = subparsers.add_parser("review", help="what a change to tenants/ does: objects, capacity, risks, approvals",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_repo_flags(parser)
    parser.add_argument("--base", required=True, metavar="REF",
                        help="the revision to compare against (branch, tag, sha)")
    parser.add_argument("--head", metavar="REF", help="the revision under review (default: the working tree)")
    add_output_flag(parser, FORMATS, deprecated_format=True,
                    help="text for a terminal, markdown for a PR comment, github for annotations, json for "
                         "scripts (a stable schema, see docs/review.md) (default text)")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when rendered objects change")
    parser.add_argument("--kubeconfig", type=Path, metavar="FILE",
                        help="read each cluster's ResourceQuota usage (context from the platform file) to flag "
                             "quotas lowered below current use")
    parser.add_argument("--no-cache", action="store_true",
                        help="compile both revisions afresh instead of reusing .tenantc-cache/review/")
    parser.set_defaults(func=run)


@paused_throughout
def run(args: argparse.Namespace) -> int:
    from compiler.review import ReviewFailed, review
    from compiler.review.report import render, render_failure

    if args.kubeconfig is not None and not args.kubeconfig.is_file():
        from compiler.errors import UserError

        raise UserError(f"--kubeconfig {args.kubeconfig}: no such file")
    try:
        result = review(args.root, args.base, args.head, crd_dirs=crd_dirs(args), kubeconfig=args.kubeconfig,
                        use_cache=not args.no_cache)
    except ReviewFailed as failed:
        stream = sys.stderr if args.output == TEXT else sys.stdout
        stream.write(render_failure(failed, args.output))
        return 2
    sys.stdout.write(render(result, args.output))
    return 1 if args.exit_code and result.has_changes else 0
