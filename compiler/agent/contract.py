"""What the compiler and tenantc-agent must agree on: the agent's command line and labels.

One contract, two users: `tenantc-agent` parses with `build_parser()`, and the compiler builds
every agent container's args with the `*_argv` functions below, so a flag renamed here is
renamed in both. The labels shared with the compiler are defined here and re-exported by
`compiler.kinds`. Standard library only (the agent package imports nothing of the compiler);
a test parses the args of every rendered agent container with this parser.
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from compiler.agent.about import AgentVersionAction

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
TENANT_LABEL = "tenantc.io/tenant"
JOB_LABEL = "tenantc.io/job"
TASK_LABEL = "tenantc.io/task"
PIPELINE_LABEL = "tenantc.io/pipeline"  # on every run (JobFlow) `run-flow` starts
# Not "tenantc": `tenantc apply --prune` deletes what carries managed-by=tenantc.
AGENT_MANAGED_BY_VALUE = "tenantc-agent"
# The sidecar's status ConfigMap of a Volcano Job run: '<prefix><run>', one key '<pod>.json' per pod.
STATUS_CONFIGMAP_PREFIX = "tenantc-status-"

SIDECAR = "sidecar"
WAIT_DATASET = "wait-dataset"
SCALE_RUNTIME = "scale-runtime"
RUN_FLOW = "run-flow"
COMMANDS = (SIDECAR, WAIT_DATASET, SCALE_RUNTIME, RUN_FLOW)
STATUS_DIR = "/var/run/tenantc"  # the volume the sidecar and the main container share
DEFAULT_STATUS_FILE = f"{STATUS_DIR}/status.json"
# `run-flow` names each run after the batch Job the CronJob made for it (`<cronjob>-<minutes>`),
# read by the downward API into this variable and passed as `--run $(TENANTC_RUN)`: a retried
# pod of the same Job starts the same run, never a second one.
RUN_ENV = "TENANTC_RUN"
RUN_SOURCE_LABEL = "batch.kubernetes.io/job-name"  # set by the Job controller on its pods
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


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


def run_flow_argv(pipeline: str, namespace: str, run: str, flows: Sequence[tuple[str, Sequence[str]]],
                  concurrency_policy: str, keep_succeeded: int, keep_failed: int) -> list[str]:
    """Start one run of a scheduled flow: a JobFlow named `run` with these flows, each
    (JobTemplate name, the flows it depends on)."""
    argv = [RUN_FLOW, pipeline, "--namespace", namespace, "--run", run]
    for name, depends_on in flows:
        argv += ["--flow", f"{name}:{','.join(depends_on)}" if depends_on else name]
    return argv + ["--concurrency-policy", concurrency_policy, "--keep-succeeded", str(keep_succeeded),
                   "--keep-failed", str(keep_failed)]


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse an agent command line exactly as `tenantc-agent` does (exits 2 on bad args); the
    connection flags may come before or after the command."""
    return build_parser().parse_args(place_global_flags(argv, COMMANDS, CONNECTION_FLAGS))


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


def _flow(text: str) -> tuple[str, list[str]]:
    """'train:prep,fetch' -> ('train', ['prep', 'fetch']); 'prep' -> ('prep', [])."""
    name, _, after = text.partition(":")
    deps = after.split(",") if after else []
    for part in (name, *deps):
        if not _DNS_LABEL.fullmatch(part):
            raise argparse.ArgumentTypeError(f"{text!r}: {part!r} is not a JobTemplate name (DNS-1123 label)")
    return name, deps


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _percent(text: str) -> float:
    from compiler.agent.wait_dataset import parse_percentage

    try:
        return parse_percentage(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# kubectl's global connection flags (--kubeconfig, --context, ...) go before or after the command.
CONNECTION_FLAGS = frozenset({"--kubeconfig", "--context", "--token-file", "--request-timeout"})


def place_global_flags(argv: Sequence[str], commands: Sequence[str], with_value: frozenset[str],
                       switches: frozenset[str] = frozenset()) -> list[str]:
    """Global flags, as kubectl's, may come before the command or after it (`tool --kubeconfig K cmd`
    and `tool cmd --kubeconfig K`). The ones found before the first command name (each flag in
    `with_value` with its value, as `-f V`, `--flag=V` or `-fV`, and each of `switches`) are moved
    to the end of the command's own arguments (before a `--`), where its parser reads them, so
    both spellings mean the same and a flag the command does not take is refused as usual. An
    argv without a command is returned unchanged."""
    before: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(argv) and argv[i] not in commands and argv[i] != "--":
        token = argv[i]
        name, equals, _ = token.partition("=")
        attached = not token.startswith("--") and token[:2] in with_value and len(token) > 2
        taken = 2 if name in with_value and not equals else 1 if name in with_value or attached \
            or token in switches else 0
        (moved if taken else before).extend(argv[i:i + (taken or 1)])
        i += taken or 1
    if i == len(argv) or argv[i] == "--":
        return list(argv)
    rest = list(argv[i:])
    end = rest.index("--") if "--" in rest else len(rest)
    return before + rest[:end] + moved + rest[end:]


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
        "Fluid dataset gate, Fluid cache scaling, scheduled Volcano JobFlow runs.",
        epilog="The connection flags (--kubeconfig, --context, --token-file, --request-timeout) may come "
        "before or after the command, as kubectl's global flags: "
        "`tenantc-agent --kubeconfig K sidecar` = `tenantc-agent sidecar --kubeconfig K`.",
    )
    parser.add_argument("--version", action=AgentVersionAction)
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

    p = sub.add_parser(RUN_FLOW, parents=[conn], help="start one run of a scheduled Volcano JobFlow",
                       description="Create the JobFlow RUN (labelled tenantc.io/pipeline=PIPELINE) from the "
                       "flows given, unless it exists already (a retried pod). With Forbid, skip the run while "
                       "an earlier run of PIPELINE has not finished; with Replace, delete such runs first. Then "
                       "delete finished runs beyond the history limits.")
    p.add_argument("pipeline", metavar="PIPELINE", help="what the runs belong to (their tenantc.io/pipeline label)")
    p.add_argument("--namespace", "-n", required=True)
    p.add_argument("--run", required=True, metavar="RUN", help="name of the JobFlow to create")
    p.add_argument("--flow", dest="flows", type=_flow, action="append", required=True,
                   metavar="TEMPLATE[:DEPENDENCY,...]",
                   help="a flow: the JobTemplate it runs and the flows it waits for (repeat, in order)")
    p.add_argument("--concurrency-policy", choices=CONCURRENCY_POLICIES, default="Forbid",
                   help="when an earlier run is unfinished: Forbid skips this one, Replace deletes the earlier "
                   "ones, Allow runs both (default: Forbid)")
    p.add_argument("--keep-succeeded", type=_count, default=3, metavar="N",
                   help="succeeded runs to keep (default: 3)")
    p.add_argument("--keep-failed", type=_count, default=1, metavar="N", help="failed runs to keep (default: 1)")
    p.add_argument("--timeout", type=_duration, default=60.0, metavar="T",
                   help="retry transient API errors for up to T (default: 60s)")
    return parser
