"""`tenantc-agent wait-dataset`: hold a job until its Fluid Datasets are warm enough.

Used as an init container: it polls each Dataset's `status.cacheStates.cachedPercentage`
(written by Fluid as a string such as "95.0%" or "0.00 %") with plain GETs, which need only
the `get` verb, and exits

* 0 once every Dataset reached the threshold,
* 1 at the timeout, naming each Dataset still short and its last percentage,
* 2 on a problem that waiting will not fix (Dataset missing, access denied, a percentage
  that does not parse), with a message instead of a traceback.

An empty status means Fluid has not reported yet: that is 0% and the wait goes on, as it
does through API server restarts (transient errors are retried until the timeout).
"""
from __future__ import annotations

import re
import sys
import time

from compiler.agent.kubeapi import KubeClient, KubeError, is_transient, object_path

EXIT_OK, EXIT_TIMEOUT, EXIT_ERROR = 0, 1, 2
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%?\s*$")


class DatasetError(Exception):
    """A problem waiting cannot fix; the message names the dataset."""


def parse_percentage(text: str) -> float:
    """'95.0%' -> 95.0; also '95', '0.00 %'. Raises ValueError for anything else."""
    match = _PERCENT.fullmatch(text)
    if not match:
        raise ValueError(f"not a percentage: {text!r}")
    value = float(match.group(1))
    if value > 100:
        raise ValueError(f"percentage above 100: {text!r}")
    return value


def cached_percent(dataset: dict) -> float:
    """The cached percentage of a Dataset object; 0 while Fluid has reported nothing."""
    states = (dataset.get("status") or {}).get("cacheStates") or {}
    value = states.get("cachedPercentage")
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    name = (dataset.get("metadata") or {}).get("name", "?")
    if not isinstance(value, str):
        raise DatasetError(f"dataset {name}: status.cacheStates.cachedPercentage is not a string: {value!r}")
    try:
        return parse_percentage(value)
    except ValueError:
        hint = " (its runtime does not report a cached percentage)" if value.strip() in {"-", "N/A"} else ""
        raise DatasetError(
            f"dataset {name}: cannot read status.cacheStates.cachedPercentage {value!r}{hint}"
        ) from None


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '5m', '1h' (how people write timeouts in pod specs)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90, 90s, 5m, 1h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def wait(client: KubeClient, namespace: str, names: list[str], min_percent: float,
         timeout: float, poll: float, out=sys.stderr, clock=time.monotonic, sleep=time.sleep) -> int:
    """Poll until all `names` reach `min_percent`; returns the exit code and says why on `out`."""
    deadline = clock() + timeout
    pending = list(dict.fromkeys(names))
    last: dict[str, float] = {}
    last_error: str | None = None
    while True:
        for name in list(pending):
            path = object_path("data.fluid.io", "v1alpha1", "datasets", namespace, name)
            try:
                percent = cached_percent(client.get(path, timeout=min(10.0, max(1.0, deadline - clock()))))
            except KubeError as exc:
                if not is_transient(exc):
                    return _fail(out, _explain(exc, namespace, name))
                last_error = str(exc)
                continue
            except DatasetError as exc:
                return _fail(out, f"{namespace}/{exc}")
            if percent != last.get(name):
                print(f"dataset {namespace}/{name}: {percent:g}% cached (waiting for {min_percent:g}%)",
                      file=out, flush=True)
            last[name] = percent
            if percent >= min_percent:
                pending.remove(name)
        if not pending:
            print(f"all {len(set(names))} dataset(s) reached {min_percent:g}% cached", file=out, flush=True)
            return EXIT_OK
        remaining = deadline - clock()
        if remaining <= 0:
            short = ", ".join(
                f"{namespace}/{n} at {last[n]:.1f}%" if n in last else f"{namespace}/{n} (no answer yet)"
                for n in pending
            )
            detail = f"; last error: {last_error}" if last_error else ""
            print(f"timed out after {timeout:g}s waiting for {min_percent:g}% cached: {short}{detail}",
                  file=out, flush=True)
            return EXIT_TIMEOUT
        sleep(min(poll, remaining))


def _explain(exc: KubeError, namespace: str, name: str) -> str:
    status = getattr(exc, "status", None)
    if status == 404:
        return (f"dataset {namespace}/{name} not found (is the name right, and is Fluid's "
                "Dataset CRD installed?)")
    if status in (401, 403):
        return f"not allowed to read dataset {namespace}/{name}: {exc}"
    return f"dataset {namespace}/{name}: {exc}"


def _fail(out, message: str) -> int:
    print(f"error: {message}", file=out, flush=True)
    return EXIT_ERROR
