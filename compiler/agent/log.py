"""One-line logs on stderr for the agent, without the `logging` machinery.

The agent's output is read by people in `kubectl logs` and by the bench, which waits for the
"first heartbeat" line; a timestamp and a level are all it needs. Never pass secrets here.
"""
from __future__ import annotations

import sys
import time


def log(level: str, message: str) -> None:
    """Write `<UTC time> <level> tenantc-agent: <message>` to stderr and flush at once."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    try:
        sys.stderr.write(f"{stamp} {level} tenantc-agent: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr must never stop the agent
        pass


def info(message: str) -> None:
    log("INFO", message)


def warn(message: str) -> None:
    log("WARN", message)


def error(message: str) -> None:
    log("ERROR", message)
