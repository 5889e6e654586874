"""The one seam for Jsonnet evaluation.

Engines, fastest first (measured by bench/jsonnet_bench.py on a 2-core machine):
`rjsonnet` (Rust jrsonnet) and `jsonnet` (the C++ binding, the design's dependency). Both
take the same call (`evaluate_file(path, import_callback=...)`); we pick rjsonnet when it
imports and let TENANTC_JSONNET_ENGINE=jsonnet force the other. Tests check that every
installed engine gives identical output on the examples.

Imports are confined to the repository: the import callback refuses any path that resolves
outside `root`, and the error names the importing file.

Evaluation is bounded: Jsonnet can build strings, arrays and objects of any size, and
neither engine limits time or memory (a string of a few hundred million characters makes
rjsonnet abort the process). So each file is evaluated in a forked child with a CPU-time and
an address-space limit and a cap on the JSON it may hand back; a child that hits one is
reported as that cap, and the compile goes on.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENGINES = ("rjsonnet", "jsonnet")
SECONDS = 2  # CPU seconds of one file's evaluation (the examples take milliseconds)
MEMORY = 256 << 20  # bytes the evaluation may add to the compiler's address space
OUTPUT = 8 << 20  # bytes of JSON one file may evaluate to (the object-size cap comes later)
MAX_STACK = 200  # Jsonnet call depth


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
    """Evaluate a Jsonnet file to plain data, imports confined to `root`, within the caps."""
    engine = engine or default_engine()
    module = _module(engine)
    if not hasattr(os, "fork"):  # pragma: no cover - no fork, no limits (Windows)
        return json.loads(_evaluate(module, engine, path, root))
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its result arrives through the pipe
        os.close(reader)
        _child(writer, module, engine, path, root)
    os.close(writer)
    kind, body = _collect(reader, pid)
    if kind == "ok":
        try:
            return json.loads(body, parse_constant=_no_constant)
        except ValueError as exc:
            raise JsonnetError(f"its JSON cannot be read: {exc}") from None
    raise JsonnetError(body)


def _evaluate(module: Any, engine: str, path: Path, root: Path) -> str:
    try:
        return str(module.evaluate_file(str(path), import_callback=_confined_import(root, engine == "rjsonnet"),
                                        max_stack=MAX_STACK))
    except RuntimeError as exc:  # both engines raise RuntimeError with the Jsonnet trace
        raise JsonnetError(_first_lines(str(exc), root)) from None


def _child(writer: int, module: Any, engine: str, path: Path, root: Path) -> None:  # pragma: no cover
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_WRONLY)  # an engine that aborts prints its own last words
        os.dup2(devnull, 2)
        resource.setrlimit(resource.RLIMIT_CPU, (SECONDS, SECONDS + 1))
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY,) * 2)
        try:
            payload = b"ok\n" + _evaluate(module, engine, path, root).encode()
        except JsonnetError as exc:
            payload = b"error\n" + str(exc).encode()
        except MemoryError:
            payload = b"error\n" + _cap_message().encode()
        if len(payload) > OUTPUT + 3:
            payload = b"error\n" + (f"evaluates to {len(payload) - 3} bytes of JSON; the cap is {OUTPUT} "
                                    "bytes").encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(writer, view):]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _address_space() -> int:
    """The process's current virtual size (the child's limit is this plus MEMORY)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 2 << 30


def _cap_message() -> str:
    return (f"evaluation stopped at a cap ({SECONDS} s of CPU, {MEMORY >> 20} MiB of memory, "
            f"{OUTPUT >> 20} MiB of JSON or a call depth of {MAX_STACK})")


def _collect(reader: int, pid: int) -> tuple[str, str]:
    """Read the child's answer within the time cap, then reap it: ('ok', json) or ('error', message)."""
    chunks: list[bytes] = []
    size, deadline, killed = 0, time.monotonic() + SECONDS + 2, False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or size > OUTPUT + 64:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            ready, _, _ = select.select([reader], [], [], left)
            if ready:
                chunk = os.read(reader, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    finally:
        os.close(reader)
        _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    kind, _, body = data.partition(b"\n")
    if killed or status != 0 or kind not in (b"ok", b"error"):
        return "error", _cap_message()
    return kind.decode(), body.decode(errors="replace")


def _no_constant(name: str) -> Any:
    raise JsonnetError(f"evaluates to {name}, which is not a number JSON or Kubernetes can hold")


def _first_lines(message: str, root: Path) -> str:
    """Jsonnet traces are long; keep the message and the first frame, relative to the repo."""
    lines = [line.replace(str(root.resolve()) + os.sep, "") for line in message.strip().splitlines() if line.strip()]
    return " | ".join(lines[:3])
