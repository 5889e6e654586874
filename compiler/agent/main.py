"""The `tenantc-agent` command line.

Connection options (--kubeconfig, --context, --token-file, --request-timeout) are accepted
after any subcommand. Exit codes: 0 ok, 1 wait-dataset timed out, 2 bad input or an error
waiting will not fix. The sidecar exits 0 on SIGTERM whatever the API server did; it exits
2 only when it cannot even start (missing environment, unusable credentials).
Commands import their module on use, so `sidecar` loads no more than it needs.
"""
from __future__ import annotations

import argparse
import sys


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _duration(text: str) -> float:
    from compiler.agent.wait_dataset import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _percent(text: str) -> float:
    from compiler.agent.wait_dataset import parse_percentage

    try:
        return parse_percentage(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    conn = argparse.ArgumentParser(add_help=False)
    group = conn.add_argument_group("connection")
    group.add_argument("--kubeconfig", metavar="PATH",
                       help="kubeconfig to use outside a pod (default: the pod's service account)")
    group.add_argument("--context", help="kubeconfig context (default: its current-context)")
    group.add_argument("--token-file", metavar="PATH",
                       help="bearer token file that replaces the credential of the kubeconfig or pod")
    group.add_argument("--request-timeout", type=_positive, default=10.0, metavar="S",
                       help="seconds one API request may take (default: 10)")

    parser = argparse.ArgumentParser(
        prog="tenantc-agent",
        description="Runtime agent of tenantc job pods: heartbeat and status sidecar, "
        "Fluid dataset gate, Fluid cache scaling.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("sidecar", parents=[conn], help="heartbeat Lease and status mirror (native sidecar)",
                       description="Renew a Lease named after the pod and mirror the status file into "
                       "the ConfigMap tenantc-status-<job>. Reads POD_NAME, POD_NAMESPACE, "
                       "TENANTC_JOB, TENANTC_TASK. Exits 0 on SIGTERM after a final status.")
    p.add_argument("--interval", type=_positive, default=10.0, metavar="S",
                   help="seconds between heartbeats (default: 10; the Lease lasts 3 intervals)")
    p.add_argument("--status-file", metavar="PATH", default=None,
                   help="status JSON written by the main container (default: /var/run/tenantc/status.json)")
    p.add_argument("--max-backoff", type=_positive, default=30.0, metavar="S",
                   help="longest wait between retries while the API server fails (default: 30)")
    p.add_argument("--shutdown-timeout", type=_positive, default=3.0, metavar="S",
                   help="seconds allowed for the final status after SIGTERM (default: 3)")

    p = sub.add_parser("wait-dataset", parents=[conn], help="wait until Fluid Datasets are cached enough",
                       description="Exit 0 when every Dataset's status.cacheStates.cachedPercentage "
                       "reached P, 1 on timeout, 2 when a Dataset is missing or unreadable.")
    p.add_argument("names", nargs="+", metavar="NAME", help="Dataset name(s)")
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--min-cached-percent", type=_percent, required=True, metavar="P",
                   help="threshold in percent, e.g. 90 or 90%%")
    p.add_argument("--timeout", type=_duration, required=True, metavar="T",
                   help="give up after T (seconds, or 30s, 10m, 1h)")
    p.add_argument("--poll", type=_duration, default=5.0, metavar="S",
                   help="seconds between polls (default: 5)")

    p = sub.add_parser("scale-runtime", parents=[conn], help="set a Fluid runtime's spec.replicas",
                       description="JSON-merge-patch spec.replicas of a Fluid runtime and nothing else. "
                       "KIND: jindoruntime, alluxioruntime, juicefsruntime, thinruntime (any case).")
    p.add_argument("target", metavar="KIND/NAME")
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--replicas", type=int, required=True)
    p.add_argument("--timeout", type=_duration, default=60.0, metavar="T",
                   help="retry transient API errors for up to T (default: 60s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    waiter = None
    if args.command == "sidecar":  # catch SIGTERM before anything slow can happen
        from compiler.agent.sidecar import SignalWaiter

        waiter = SignalWaiter()
    from compiler.agent.kubeapi import ConfigError, KubeClient, load_config

    try:
        cfg = load_config(args.kubeconfig, args.context, args.token_file)
        client = KubeClient(cfg, timeout=args.request_timeout)
        return _run(args, client, waiter)
    except ConfigError as exc:
        print(f"tenantc-agent: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args, client, waiter) -> int:
    if args.command == "sidecar":
        from compiler.agent.sidecar import PodIdentity, serve
        from compiler.agent.status_file import DEFAULT_PATH

        return serve(client, PodIdentity.from_env(), waiter, interval=args.interval,
                     status_path=args.status_file or DEFAULT_PATH, max_backoff=args.max_backoff,
                     shutdown_timeout=args.shutdown_timeout)
    if args.command == "wait-dataset":
        from compiler.agent.wait_dataset import wait

        return wait(client, args.namespace, args.names, args.min_cached_percent, args.timeout, args.poll)
    from compiler.agent.scale_runtime import scale

    return scale(client, args.namespace, args.target, args.replicas, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
