"""Problems found in user input, reported all at once with file, field path and a hint.

Every user-facing failure is a `Problem`; the CLI prints them one per line and exits 2.
Nothing here raises tracebacks at users.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where (file, dotted field path) and what to do."""

    file: str
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        return where + self.message + (f" ({self.hint})" if self.hint else "")


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
