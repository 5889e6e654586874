"""Problems found in user input, reported all at once with file, field path and a hint.

Every user-facing failure is a `Problem`; the CLI prints them one per line and exits 2.
Nothing here raises tracebacks at users.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Printed text comes from input: control characters (ESC starts terminal escape sequences, CR
# overwrites a line) and the bidirectional overrides and isolates (which reorder what a reader
# sees, "Trojan Source", CVE-2021-42574) are shown escaped, never emitted.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")
MAX_SHOWN = 500  # characters of one field of a problem line; longer input is cut (it was in the input)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, limit: int = MAX_SHOWN, newlines: bool = False) -> str:
    """`text` for a terminal or a log: control and bidi characters escaped (a newline shows as
    a backslash and n, unless `newlines` keeps them for a format that encodes them), cut to
    `limit` characters (saying how many more there were)."""
    text = str(text)
    cut = ""
    if len(text) > limit:
        cut, text = f"... ({len(text) - limit} more characters)", text[:limit]
    text = _UNSAFE.sub(_escape_char, text)
    return (text if newlines else text.replace("\n", "\\n").replace("\t", "\\t")) + cut


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where (file, dotted field path) and what to do."""

    file: str
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        file, path = safe_text(self.file, 200), safe_text(self.path, 200)
        where = f"{file}: {path}: " if path else f"{file}: "
        return where + safe_text(self.message, 2000) + (f" ({safe_text(self.hint)})" if self.hint else "")


class CompileError(Exception):
    """Raised when a stage found problems; carries every problem, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Problems:
    """Collects problems across a stage so the user sees all of them in one run."""

    items: list[Problem] = field(default_factory=list)

    def add(self, file: str, path: str, message: str, hint: str = "") -> None:
        self.items.append(Problem(file, path, message, hint))

    def extend(self, problems: list[Problem]) -> None:
        self.items.extend(problems)

    def raise_if_any(self) -> None:
        if self.items:
            raise CompileError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


class UserError(Exception):
    """An error the user can fix (bad flag, missing file, unreachable cluster): no traceback."""
