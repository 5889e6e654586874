"""The one seam for Jsonnet evaluation.

Engines, fastest first (measured by bench/jsonnet_bench.py on a 2-core machine):
`rjsonnet` (Rust jrsonnet) and `jsonnet` (the C++ binding, the design's dependency). Both
take the same call (`evaluate_file(path, import_callback=...)`); we pick rjsonnet when it
imports and let TENANTC_JSONNET_ENGINE=jsonnet force the other. Tests check that every
installed engine gives identical output on the examples.

Imports are confined to the repository: the import callback refuses any path that resolves
outside `root`, and the error names the importing file.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENGINES = ("rjsonnet", "jsonnet")


class JsonnetError(Exception):
    """Evaluation failed: syntax, runtime error, or an import that leaves the repository."""


def available_engines() -> list[str]:
    found = []
    for name in ENGINES:
        try:
            _module(name)
        except ImportError:
            continue
        found.append(name)
    return found


def _module(name: str) -> Any:
    if name == "rjsonnet":
        import rjsonnet

        return rjsonnet
    if name == "jsonnet":
        import _jsonnet

        return _jsonnet
    raise ImportError(f"unknown Jsonnet engine {name!r}; choose one of {', '.join(ENGINES)}")


def default_engine() -> str:
    wanted = os.environ.get("TENANTC_JSONNET_ENGINE")
    if wanted:
        try:
            _module(wanted)
        except ImportError as exc:  # reported against each Jsonnet file, not as a traceback
            raise JsonnetError(f"TENANTC_JSONNET_ENGINE={wanted}: {exc}") from None
        return wanted
    engines = available_engines()
    if not engines:
        raise JsonnetError("no Jsonnet engine installed (pip install rjsonnet or jsonnet)")
    return engines[0]


def _confined_import(root: Path, as_text: bool) -> Callable[[str, str], tuple[str, bytes | str]]:
    """Import callback; rjsonnet wants the content as str, the C++ binding as bytes."""
    root = root.resolve()

    def callback(base_dir: str, rel: str) -> tuple[str, bytes | str]:
        target = (Path(base_dir) / rel).resolve()
        if not target.is_relative_to(root):
            raise RuntimeError(f"import '{rel}' leaves the repository; imports must stay under the repository root")
        if not target.is_file():
            raise RuntimeError(f"import '{rel}' not found (looked for {target.relative_to(root)})")
        return str(target), (target.read_text() if as_text else target.read_bytes())

    return callback


def evaluate_file(path: Path, root: Path, engine: str | None = None) -> Any:
    """Evaluate a Jsonnet file to plain data, imports confined to `root`."""
    engine = engine or default_engine()
    module = _module(engine)
    try:
        text = module.evaluate_file(str(path), import_callback=_confined_import(root, engine == "rjsonnet"))
    except RuntimeError as exc:  # both engines raise RuntimeError with the Jsonnet trace
        raise JsonnetError(_first_lines(str(exc), root)) from None
    return json.loads(text)


def _first_lines(message: str, root: Path) -> str:
    """Jsonnet traces are long; keep the message and the first frame, relative to the repo."""
    lines = [line.replace(str(root.resolve()) + os.sep, "") for line in message.strip().splitlines() if line.strip()]
    return " | ".join(lines[:3])
