"""`tenantc status`: quota, queue, datasets, jobs and agent heartbeats per tenant and cluster."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compiler.commands.common import use_color
from compiler.live.access import (
    add_access_flags,
    cluster_contexts,
    connect,
    load_platform,
    read_kubeconfig,
    select_targets,
)
from compiler.live.client import KubeError
from compiler.live.output import print_status
from compiler.live.status import cluster_status, status_report

HELP = """\
Show, per cluster and tenant: ResourceQuota used/hard, the Volcano queue's state and
allocation, Fluid datasets with phase and cached percentage, Volcano jobs with phase, and
tenantc-agent heartbeats with their age. Kinds a cluster does not serve show as n/a.

Needs only tenants/platform.yaml (for the clusters' contexts), not a compiled tree.

exit codes: 0 ok, 2 a cluster could not be read.

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
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text",
                        help="json: a stable schema for scripts (apiVersion tenantc.io/v1, kind StatusReport)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    platform = load_platform(args.root)
    kubeconfig = read_kubeconfig(args.kubeconfig)
    clusters = []
    failed = False
    for target in select_targets(cluster_contexts(platform), kubeconfig, args.context, args.cluster):
        client = connect(target, kubeconfig, retry_for=15.0)
        try:
            clusters.append(cluster_status(client, target, args.tenant or None))
        except KubeError as exc:
            failed = True
            clusters.append({"cluster": target.cluster, "context": target.context, "server": client.host,
                             "note": target.note, "unavailable": [], "errors": [str(exc)], "tenants": []})
    report = status_report(clusters)
    print_status(report, args.output, sys.stdout, use_color())
    return 2 if failed or any(c["errors"] for c in clusters) else 0
