"""`tenantc-agent scale-runtime KIND/NAME --replicas N`: resize a Fluid cache runtime.

Run by the scheduled cache-scaling CronJob. It sends one JSON merge patch that sets
`spec.replicas` and nothing else, so whatever else the runtime's owners (GitOps, Fluid)
keep in the spec is untouched and no read-modify-write race exists; it therefore needs only
the `patch` verb. Transient API errors are retried until --timeout.
"""
from __future__ import annotations

import sys
import time

from compiler.agent.kubeapi import KubeClient, KubeError, object_path, retry_transient

# Fluid runtimes whose workers scale through spec.replicas: singular lower-case -> plural.
RUNTIME_KINDS = {
    "jindoruntime": "jindoruntimes",
    "alluxioruntime": "alluxioruntimes",
    "juicefsruntime": "juicefsruntimes",
    "thinruntime": "thinruntimes",
}
EXIT_OK, EXIT_ERROR = 0, 2


def parse_target(text: str) -> tuple[str, str]:
    """'JindoRuntime/cache' (or jindoruntime/, jindoruntimes/) -> ('jindoruntimes', 'cache')."""
    kind, sep, name = text.partition("/")
    if not sep or not kind or not name or "/" in name:
        raise ValueError(f"expected KIND/NAME, got {text!r}")
    key = kind.lower()
    plural = RUNTIME_KINDS.get(key) or (key if key in RUNTIME_KINDS.values() else None)
    if plural is None:
        raise ValueError(
            f"unknown runtime kind {kind!r}; expected one of " + ", ".join(sorted(RUNTIME_KINDS))
        )
    return plural, name


def scale(client: KubeClient, namespace: str, target: str, replicas: int, timeout: float,
          out=sys.stderr) -> int:
    """Patch spec.replicas; returns the exit code after saying what happened on `out`."""
    try:
        plural, name = parse_target(target)
    except ValueError as exc:
        print(f"error: {exc}", file=out, flush=True)
        return EXIT_ERROR
    if replicas < 0:
        print(f"error: --replicas must be 0 or more, got {replicas}", file=out, flush=True)
        return EXIT_ERROR
    path = object_path("data.fluid.io", "v1alpha1", plural, namespace, name)
    deadline = time.monotonic() + timeout
    try:
        result = retry_transient(
            lambda: client.merge_patch(path, {"spec": {"replicas": replicas}}), deadline)
    except KubeError as exc:
        status = getattr(exc, "status", None)
        hint = " (not found: check the name and namespace)" if status == 404 else ""
        print(f"error: cannot scale {plural[:-1]} {namespace}/{name}: {exc}{hint}", file=out, flush=True)
        return EXIT_ERROR
    now = (result.get("spec") or {}).get("replicas")
    print(f"{plural[:-1]} {namespace}/{name} scaled: spec.replicas={now}", file=out, flush=True)
    return EXIT_OK
