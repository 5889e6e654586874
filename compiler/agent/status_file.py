"""The status file the main container may write on a shared volume, and its validation.

The file is the only contract between a training program and the platform, so it is small
and forgiving about what it ignores, strict about what it keeps: what is mirrored into the
job's ConfigMap must stay valid JSON of bounded size, whatever the program wrote.

    {"phase": "Running", "progress": 0.42, "message": "epoch 3/10",
     "metrics": {"loss": 0.31, "step": 1200}}

Every field is optional; unknown fields are dropped. `progress` is a fraction in [0, 1].
Write it atomically (write a temporary file, then rename) so a half-written file is never
read; a file that does not parse is reported and the last good status is kept.
"""
from __future__ import annotations

import json
import math
import os

MAX_BYTES = 64 * 1024
MAX_PHASE = 64
MAX_MESSAGE = 256
MAX_METRICS = 20
MAX_METRIC_NAME = 63
MAX_METRIC_TEXT = 64


class StatusFileError(ValueError):
    """The file exists but is not a usable status; the message says which field and why."""


def read_status_file(path: str) -> tuple[dict, float] | None:
    """(normalized status, file mtime), or None while the program has written nothing."""
    try:
        with open(path, "rb") as fh:
            mtime = os.fstat(fh.fileno()).st_mtime
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StatusFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise StatusFileError(f"{path} is larger than {MAX_BYTES} bytes")
    return parse_status(raw), mtime


def parse_status(raw: bytes | str) -> dict:
    """Keep the known fields of a status document, checked and bounded."""
    try:
        doc = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatusFileError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise StatusFileError(f"must be a JSON object, got {type(doc).__name__}")
    out: dict = {}
    if doc.get("phase") is not None:
        phase = doc["phase"]
        if not isinstance(phase, str) or not phase.strip() or len(phase) > MAX_PHASE:
            raise StatusFileError(f"phase must be a non-empty string of at most {MAX_PHASE} characters")
        out["phase"] = phase.strip()
    if doc.get("progress") is not None:
        progress = doc["progress"]
        if not _is_number(progress) or not 0 <= progress <= 1:
            raise StatusFileError(f"progress must be a number from 0 to 1, got {progress!r}")
        out["progress"] = progress
    if doc.get("message") is not None:
        if not isinstance(doc["message"], str):
            raise StatusFileError("message must be a string")
        out["message"] = doc["message"][:MAX_MESSAGE]
    if doc.get("metrics") is not None:
        out["metrics"] = _metrics(doc["metrics"])
    return out


def _metrics(metrics) -> dict:
    if not isinstance(metrics, dict):
        raise StatusFileError("metrics must be an object of name: number")
    if len(metrics) > MAX_METRICS:
        raise StatusFileError(f"metrics has {len(metrics)} entries, at most {MAX_METRICS} are mirrored")
    out = {}
    for name, value in metrics.items():
        if not name or len(name) > MAX_METRIC_NAME:
            raise StatusFileError(f"metric name {name!r} must have 1 to {MAX_METRIC_NAME} characters")
        if _is_number(value):
            out[name] = value
        elif isinstance(value, str) and len(value) <= MAX_METRIC_TEXT:
            out[name] = value
        else:
            raise StatusFileError(
                f"metric {name!r} must be a finite number or a string of at most {MAX_METRIC_TEXT} characters"
            )
    return out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")
