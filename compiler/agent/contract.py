"""What the compiler and tenantc-agent must agree on: the agent's command line and labels.

One contract, two users: `tenantc-agent` parses with `build_parser()`, and the compiler builds
every agent container's args with the `*_argv` functions below, so a flag renamed here is
renamed in both. The labels shared with the compiler are defined here and re-exported by
`compiler.kinds`. Standard library only (the agent package imports nothing of the compiler);
a test parses the args of every rendered agent container with this parser.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
TENANT_LABEL = "tenantc.io/tenant"
JOB_LABEL = "tenantc.io/job"
TASK_LABEL = "tenantc.io/task"
# Not "tenantc": `tenantc apply --prune` deletes what carries managed-by=tenantc.
AGENT_MANAGED_BY_VALUE = "tenantc-agent"

SIDECAR = "sidecar"
WAIT_DATASET = "wait-dataset"
SCALE_RUNTIME = "scale-runtime"
STATUS_DIR = "/var/run/tenantc"  # the volume the sidecar and the main container share
DEFAULT_STATUS_FILE = f"{STATUS_DIR}/status.json"


def sidecar_argv(status_file: str = DEFAULT_STATUS_FILE) -> list[str]:
    """Heartbeat Lease and status mirror for one job pod."""
    return [SIDECAR, "--status-file", status_file]


def wait_dataset_argv(datasets: Sequence[str], namespace: str, min_cached_percent: int,
                      timeout_seconds: int) -> list[str]:
    """Exit 0 once every dataset is cached at least `min_cached_percent`."""
    return [WAIT_DATASET, *datasets, "--namespace", namespace, "--min-cached-percent",
            str(min_cached_percent), "--timeout", str(timeout_seconds)]


def scale_runtime_argv(kind: str, name: str, namespace: str, replicas: int) -> list[str]:
    """Set one Fluid runtime's spec.replicas (KIND is the runtime kind, any case)."""
    return [SCALE_RUNTIME, f"{kind.lower()}/{name}", "--namespace", namespace, "--replicas", str(replicas)]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse an agent command line exactly as `tenantc-agent` does (exits 2 on bad args)."""
    return build_parser().parse_args(list(argv))


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

    p = sub.add_parser(SIDECAR, parents=[conn], help="heartbeat Lease and status mirror (native sidecar)",
                       description="Renew a Lease named after the pod and mirror the status file into "
                       "the ConfigMap tenantc-status-<job>. Reads POD_NAME, POD_NAMESPACE, "
                       "TENANTC_JOB, TENANTC_TASK. Exits 0 on SIGTERM after a final status.")
    p.add_argument("--interval", type=_positive, default=10.0, metavar="S",
                   help="seconds between heartbeats (default: 10; the Lease lasts 3 intervals)")
    p.add_argument("--status-file", metavar="PATH", default=None,
                   help="status JSON written by the main container (default: /var/run/tenantc/status.json)")
    p.add_argument("--max-backoff", type=_positive, default=30.0, metavar="S",
                   help="longest wait between retries while the API server fails (default: 30); "
                        "never more than --interval, so heartbeats resume within one interval of its return")
    p.add_argument("--shutdown-timeout", type=_positive, default=3.0, metavar="S",
                   help="seconds allowed for the final status after SIGTERM (default: 3)")

    p = sub.add_parser(WAIT_DATASET, parents=[conn], help="wait until Fluid Datasets are cached enough",
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

    p = sub.add_parser(SCALE_RUNTIME, parents=[conn], help="set a Fluid runtime's spec.replicas",
                       description="JSON-merge-patch spec.replicas of a Fluid runtime and nothing else. "
                       "KIND: jindoruntime, alluxioruntime, juicefsruntime, thinruntime (any case).")
    p.add_argument("target", metavar="KIND/NAME")
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--replicas", type=int, required=True)
    p.add_argument("--timeout", type=_duration, default=60.0, metavar="T",
                   help="retry transient API errors for up to T (default: 60s)")
    return parser
