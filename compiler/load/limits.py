"""Caps on what one spec file may cost: its size, the values it expands to, how deep they
nest, how long a string or a number may be, and which characters text may hold.

Spec files come from pull requests; some are wrong on purpose. Every cap is named in the
message that reports it, so a user who really needs more knows what they ran into. The data
is walked once, right after YAML or Jsonnet gives it, and the walk stops at the first cap it
reaches: a YAML alias that expands a billion times is refused after MAX_VALUES steps, and an
anchor that contains itself is found without ever recursing.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from compiler.load.yaml_io import Shape

MAX_FILE_BYTES = 512 << 10  # 512 KiB: the largest example tenant is a few KiB
MAX_VALUES = 50_000  # mappings, lists and scalars, counted after alias expansion
# Files larger than this are first counted (YAML events) before their objects are built: a
# smaller file cannot hold more than MAX_VALUES values (each takes at least two bytes).
COUNT_FIRST_BYTES = 2 * MAX_VALUES
MAX_DEPTH = 50  # nesting of mappings and lists
MAX_STRING = 16_384  # characters of one string (names, images, commands)
MAX_TEXT = 4 << 20  # characters of all strings together, counted per use (an aliased string counts each time)
MAX_INT = (1 << 63) - 1  # Kubernetes' int64: larger numbers cannot be written to any object

# Text with these would print terminal escape sequences or reorder what a reviewer reads
# (bidirectional overrides, "Trojan Source"): C0 controls but tab and newline, DEL, C1
# controls, the bidi embeddings/overrides/isolates and marks, line/paragraph separators, BOM.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class LimitProblem:
    """One cap broken: where in the file, what, and what to do."""

    path: str  # field path in the file, '' for the whole file
    message: str
    hint: str


def _join(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else str(step)


def _scalar_problem(value: Any) -> tuple[str, str] | None:
    """(message, hint) when one scalar breaks a cap, else None."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return (f"a string of {len(value)} characters (the cap is {MAX_STRING})", "shorten it")
        bad = _FORBIDDEN.search(value)
        if bad:
            return (f"contains the control or bidirectional character U+{ord(bad.group()):04X}",
                    "remove it; names and text must print as they read")
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            return (f"a number beyond the 64-bit range (the cap is {MAX_INT})", "use a smaller number")
    elif isinstance(value, float) and not math.isfinite(value):
        return (f"{value} is not a finite number", "write a number")
    return None


class _Frame(NamedTuple):
    """A container on the walk's way down: its id (a container found inside itself is an
    alias loop), where it sits, and the frame above it. Paths are spelled out only for a
    problem: building one per value was most of the walk's cost."""

    id: int
    step: str | int | None  # its key in the container above (an int in a list); None at the top
    parent: _Frame | None
    depth: int

    def path(self, step: str | int | None = None) -> str:
        steps = [] if step is None else [step]
        frame: _Frame | None = self
        while frame is not None and frame.step is not None:
            steps.append(frame.step)
            frame = frame.parent
        path = ""
        for part in reversed(steps):
            path = _join(path, part)
        return path


class _Walk:
    """One bounded pass over plain data (dicts, lists, scalars), shared references included.
    It also tells whether JSON would give the data back with the same types (`json_exact`):
    only such data is kept in the parsed-spec cache."""

    def __init__(self) -> None:
        self.count = 0
        self.text = 0
        self.problems: list[LimitProblem] = []
        self.json_exact = True

    def add(self, path: str, message: str, hint: str) -> None:
        self.problems.append(LimitProblem(path, message, hint))

    def run(self, data: Any) -> list[LimitProblem]:
        # (value, its key in its container, the container's frame)
        stack: list[tuple[Any, str | int | None, _Frame | None]] = [(data, None, None)]
        while stack and len(self.problems) < 20:
            value, step, parent = stack.pop()
            self.count += 1
            if self.count > MAX_VALUES:
                self.add("", f"expands to more than {MAX_VALUES} values (YAML aliases count once per use)",
                         "write the data out plainly and keep it smaller; tenant files are a few hundred lines")
                break
            if isinstance(value, (dict, list)):
                self._container(value, step, parent, stack)
                continue
            if isinstance(value, str):
                self.text += len(value)
                if self.text > MAX_TEXT:
                    self.add("", f"holds more than {MAX_TEXT} characters of text (YAML aliases count once per use)",
                             "keep spec files small; large data belongs in datasets, not specs")
                    break
            elif value is not None and not isinstance(value, (int, float)) or \
                    isinstance(value, float) and not math.isfinite(value):
                self.json_exact = False  # dates, bytes, sets: JSON gives them back as other types
            problem = _scalar_problem(value)
            if problem:
                self.add(_where(parent, step), *problem)
        return self.problems

    def _container(self, value: dict | list, step: str | int | None, parent: _Frame | None,
                   stack: list[tuple[Any, str | int | None, _Frame | None]]) -> None:
        depth = parent.depth + 1 if parent is not None else 0
        above = parent
        while above is not None:
            if above.id == id(value):
                self.add(_where(parent, step), "refers to itself (a YAML anchor used inside its own value)",
                         "remove the alias")
                return
            above = above.parent
        if depth >= MAX_DEPTH:
            self.add(_where(parent, step), f"nests deeper than {MAX_DEPTH} levels (the cap)", "flatten the data")
            return
        frame = _Frame(id(value), step, parent, depth)
        if isinstance(value, list):
            stack.extend((value[i], i, frame) for i in range(len(value) - 1, -1, -1))
            return
        items = []
        for key, item in value.items():  # field names in document order, then their values
            if isinstance(key, str):
                problem = _scalar_problem(key)
                if problem:
                    self.add(frame.path(key), "field name " + problem[0], problem[1])
                    continue
            else:
                self.json_exact = False  # JSON keys are strings
            items.append((item, str(key), frame))
        stack.extend(reversed(items))


def _where(parent: _Frame | None, step: str | int | None) -> str:
    return parent.path(step) if parent is not None else ""


@dataclass(frozen=True)
class Inspection:
    """What one walk over a file's data found: the caps it breaks and whether JSON keeps it."""

    problems: list[LimitProblem]
    json_exact: bool


def inspect(data: Any) -> Inspection:
    """Every cap `data` breaks (at most 20; the walk stops at the value count cap), and whether
    JSON round-trips it to equal data of the same types."""
    walk = _Walk()
    problems = walk.run(data)
    return Inspection(problems, walk.json_exact and not problems)


def inspect_loaded(raw: bytes, data: Any, shape: Shape | None) -> Inspection:
    """`inspect(data)` of the YAML document `raw`, without the walk when `settled` says the
    source and the Shape already answer it (the walk was a third of loading a thousand tenant
    files, which a fresh clone in CI does every time)."""
    return Inspection([], True) if settled(raw, shape) else inspect(data)


def settled(raw: bytes, shape: Shape | None) -> bool:
    """Whether a document breaks no cap and JSON gives its data back, known without a walk: a
    short UTF-8 text (no string longer than MAX_STRING, far fewer values than MAX_VALUES) with
    no character text may not hold and no backslash (no escape in a quoted string can make one),
    built by the loader's fast path (no alias, so nothing expands or refers to itself) at most
    MAX_DEPTH levels deep, of ordinary scalars under string keys."""
    if shape is None or not shape.ordinary or shape.levels > MAX_DEPTH or len(raw) > MAX_STRING or b"\\" in raw:
        return False
    try:
        return not _FORBIDDEN.search(raw.decode("utf-8"))
    except UnicodeDecodeError:  # UTF-16 with a byte-order mark, or not text
        return False


def check_data(data: Any) -> list[LimitProblem]:
    """Every cap `data` breaks (at most 20; the walk stops at the value count cap)."""
    return inspect(data).problems


def read_at_most(fd: int, limit: int, size: int) -> bytes:
    """At most `limit` bytes of `fd` (a spec file; a rendered file that check compares), asking
    first for `size` (what fstat gave or what is expected) and one more, so a file that grew
    shows: a read of `limit` bytes at once allocates that much for every file, 512 KiB for a
    spec of a few KiB (20 ms of reading 1,000 tenant files)."""
    chunks: list[bytes] = []
    total, want = 0, min(size + 1, limit)
    while total < limit:
        chunk = os.read(fd, min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 16
    return b"".join(chunks)
