"""The `tenantc-agent` command line.

Connection options (--kubeconfig, --context, --token-file, --request-timeout) are accepted
before or after the subcommand, as kubectl's global flags are. Exit codes: 0 ok (run-flow:
started, or skipped as its concurrency policy says), 1 wait-dataset timed out, 2 bad input or
an error waiting will not fix. The sidecar exits 0 on SIGTERM whatever the API server did; it
exits 2 only when it cannot even start (missing environment, unusable credentials).
Commands import their module on use, so `sidecar` loads no more than it needs.
"""
from __future__ import annotations

import sys

from compiler.agent.contract import DEFAULT_STATUS_FILE, RUN_FLOW, SIDECAR, WAIT_DATASET, parse


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    waiter = None
    if args.command == SIDECAR:  # catch SIGTERM before anything slow can happen
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
    if args.command == SIDECAR:
        from compiler.agent.sidecar import PodIdentity, serve

        return serve(client, PodIdentity.from_env(), waiter, interval=args.interval,
                     status_path=args.status_file or DEFAULT_STATUS_FILE, max_backoff=args.max_backoff,
                     shutdown_timeout=args.shutdown_timeout)
    if args.command == WAIT_DATASET:
        from compiler.agent.wait_dataset import wait

        return wait(client, args.namespace, args.names, args.min_cached_percent, args.timeout, args.poll)
    if args.command == RUN_FLOW:
        from compiler.agent.run_flow import run

        return run(client, args.namespace, args.pipeline, args.run, args.flows, args.concurrency_policy,
                   args.keep_succeeded, args.keep_failed, args.timeout)
    from compiler.agent.scale_runtime import scale

    return scale(client, args.namespace, args.target, args.replicas, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
