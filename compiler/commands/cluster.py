"""`tenantc cluster up|down|status`: a real local control plane for trying tenantc and for tests.

A thin CLI over `compiler.cluster.ControlPlane`; everything it does is available to Python
callers without a subprocess.
"""
from __future__ import annotations

import argparse
import time

from compiler.commands.output import JSON, add_output_flag, write_json

DESCRIPTION = """\
Run etcd, kube-apiserver and kube-controller-manager (built from the official Go modules
on first use) as local processes under one state directory. Real admission, RBAC, CRD
schemas, quota and namespace finalization; no kubelet or scheduler, so pods are stored
but never run. With --with-scheduler, kube-scheduler places pods on Nodes you create with
the annotation kwok.x-k8s.io/node=fake, which kwok keeps Ready (their pods go Running).
Several state directories can run side by side."""

EPILOG = """\
examples:
  tenantc cluster up --state-dir /tmp/dev --crd-dir ../shared/crds
  tenantc cluster up --state-dir /tmp/sched --with-scheduler
  export KUBECONFIG=/tmp/dev/kubeconfig
  tenantc cluster status --state-dir /tmp/dev -o json
  tenantc cluster down --state-dir /tmp/dev

status exits 0 when every component runs, 1 otherwise."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cluster", help="start, stop and inspect a local control plane",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the control plane (returns at once when it already runs)")
    _state_dir(up)
    up.add_argument("--crd-dir", action="append", default=[], metavar="DIR",
                    help="install every CRD in DIR (*.yaml, recursive) unchanged; repeatable")
    up.add_argument("--name", help="kubeconfig context and cluster name (default: state dir's basename)")
    up.add_argument("--with-scheduler", action="store_true",
                    help="also run kube-scheduler and kwok (fake kubelets for Nodes annotated "
                         "kwok.x-k8s.io/node=fake), and the statefulset, node-lifecycle and PV binder controllers")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop the processes `up` started")
    _state_dir(down)
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="what runs, where (pids, ports, server, kubeconfig)")
    _state_dir(status)
    add_output_flag(status)
    status.set_defaults(func=_status)


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", "-S", required=True, metavar="DIR",
                        help="folder holding this cluster's data, certificates, logs and kubeconfig")


def _up(args) -> int:
    from compiler.cluster import ControlPlane

    started = time.monotonic()
    plane = ControlPlane(args.state_dir, crd_dirs=args.crd_dir, name=args.name,
                         scheduler=True if args.with_scheduler else None).up()
    status = plane.status()
    with_scheduler = ", with kube-scheduler and kwok" if status["scheduler"] else ""
    print(f"cluster {status['name']} running at {status['server']} "
          f"({status['crds']} CRDs{with_scheduler}, {time.monotonic() - started:.1f}s)")
    print(f"export KUBECONFIG={status['kubeconfig']}")
    return 0


def _down(args) -> int:
    from compiler.cluster import ControlPlane

    stopped = ControlPlane(args.state_dir).down()
    print(f"stopped {len(stopped)} process(es)" + (f": {', '.join(map(str, stopped))}" if stopped else ""))
    return 0


def _status(args) -> int:
    from compiler.cluster import ControlPlane

    status = ControlPlane(args.state_dir).status()
    if args.output == JSON:
        write_json(status)
    else:
        print(f"cluster {status['name']}: {status['state']}")
        print(f"  server:     {status['server'] or '-'}")
        print(f"  kubeconfig: {status['kubeconfig'] or '-'}")
        print(f"  CRDs:       {status['crds']}")
        for name, info in status["components"].items():
            state = f"running, pid {info['pid']}" if info["running"] else "stopped"
            ports = ", ".join(f"{k} {v}" for k, v in info["ports"].items() if v) or "-"
            print(f"  {name:<24} {state:<20} port {ports:<36} log {info['log']}")
    return 0 if status["state"] == "running" else 1
