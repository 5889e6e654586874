"""`apply --wait`: poll until objects with a readiness condition are ready, or time out.

Readiness per kind (everything else has no condition and counts as ready at once):
  Fluid Dataset             status.phase is Bound
  Fluid *Runtime            every reported master/worker phase is Ready (or PartialReady)
  StatefulSet (notebooks)   ready replicas reach spec.replicas for the current generation
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from compiler.identity import ObjectRef
from compiler.kube.client import KubeClient
from compiler.kube.discovery import Resource
from compiler.kube.errors import ApiError

READY_PHASES = frozenset({"Ready", "PartialReady"})


def _dataset(obj: dict) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    return None if phase == "Bound" else f"phase {phase or 'not reported yet'} (waiting for Bound)"


def _runtime(obj: dict) -> str | None:
    status = obj.get("status") or {}
    phases = {k: status[k] for k in ("masterPhase", "workerPhase") if status.get(k)}
    if phases and all(p in READY_PHASES for p in phases.values()):
        return None
    shown = ", ".join(f"{k} {v}" for k, v in sorted(phases.items())) or "no phase reported yet"
    return f"{shown} (waiting for Ready)"


def _statefulset(obj: dict) -> str | None:
    status = obj.get("status") or {}
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    current = status.get("observedGeneration", 0) >= (obj.get("metadata") or {}).get("generation", 0)
    return None if current and ready >= wanted else f"{ready}/{wanted} replicas ready"


def readiness_check(obj: dict) -> Callable[[dict], str | None] | None:
    """The check for an object's kind (returns None when ready, else what it waits for)."""
    ref = ObjectRef.of(obj)
    group, kind = ref.group, ref.kind
    if group == "data.fluid.io" and kind == "Dataset":
        return _dataset
    if group == "data.fluid.io" and kind.endswith("Runtime"):
        return _runtime
    if group == "apps" and kind == "StatefulSet":
        return _statefulset
    return None


@dataclass
class WaitResult:
    """How the wait ended: counts, and what each object still waited for at the timeout."""

    ready: int = 0  # objects with a condition that became ready
    without_condition: int = 0  # objects of kinds that have no readiness condition
    pending: list[tuple[str, str]] = field(default_factory=list)  # (object, what it waits for) at timeout
    seconds: float = 0.0
    timeout: float = 0.0

    @property
    def timed_out(self) -> bool:
        return bool(self.pending)


def wait_ready(client: KubeClient, objects: list[tuple[Resource, dict]], timeout: float, *,
               interval: float = 2.0, concurrency: int = 8,
               label: Callable[[dict], str] = lambda o: o["metadata"]["name"]) -> WaitResult:
    started = time.monotonic()
    result = WaitResult(timeout=timeout)
    pending = []
    for resource, obj in objects:
        check = readiness_check(obj)
        if check is None:
            result.without_condition += 1
        else:
            pending.append((resource, obj, check))
    waiting: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while pending:
            states = list(pool.map(lambda item: _state(client, *item), pending))
            still = []
            waiting = {}
            for item, state in zip(pending, states, strict=True):
                if state is None:
                    result.ready += 1
                else:
                    still.append(item)
                    waiting[label(item[1])] = state
            pending = still
            remaining = started + timeout - time.monotonic()
            if not pending or remaining <= 0:
                break
            time.sleep(min(interval, remaining))
    result.pending = sorted(waiting.items()) if pending else []
    result.seconds = time.monotonic() - started
    return result


def _state(client: KubeClient, resource: Resource, obj: dict, check) -> str | None:
    try:
        return check(client.get(resource.object_path(obj)))
    except ApiError as exc:
        return "not found" if exc.not_found else f"cannot read: {exc.message}"
