"""Progress of an apply: a rich bar on a terminal, plain lines in CI logs.

A bar redrawn in place turns into thousands of lines in a CI log, and plain lines hide
how far along a long apply is on a terminal; each gets what suits it.
"""
from __future__ import annotations

import sys
from typing import TextIO


class PlainProgress:
    """One line per stage and per object written (CI logs, pipes)."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def stage(self, title: str, total: int) -> None:
        print(f"{title}: {total} object(s)", file=self.stream, flush=True)

    def advance(self, line: str) -> None:
        print(f"  {line}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A bar per stage; failures are printed above the bar as they happen."""

    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=False)
        self.bar.start()
        self.task = None

    def stage(self, title: str, total: int) -> None:
        self.task = self.bar.add_task(title, total=total)

    def advance(self, line: str) -> None:
        if not line.startswith(("created", "configured", "deleted", "would")):
            self.console.print(f"  {line}", markup=False, highlight=False)
        if self.task is not None:
            self.bar.advance(self.task)

    def close(self) -> None:
        self.bar.stop()


class NoProgress:
    """For -o json and library callers: nothing on the screen."""

    def stage(self, title: str, total: int) -> None:
        pass

    def advance(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_for(stream: TextIO = sys.stderr, quiet: bool = False):
    if quiet:
        return NoProgress()
    return RichProgress(stream) if stream.isatty() else PlainProgress(stream)
