"""The CLI's one output layer: the `-o/--output` flag every command has, colour, JSON, progress.

Every command that prints a report takes `-o/--output FORMAT`, with the formats it supports:

    text      for a terminal (coloured there unless NO_COLOR is set), plain in logs
    json      a stable schema for scripts (apiVersion tenantc.io/v1 where it has a kind)
    markdown  a pull request comment
    github    GitHub workflow annotations (compiler.output.github escapes them)

`--format` is a hidden, deprecated alias of `-o` on check, review and diff, whose users' CI
configurations (docs/review.md, .pre-commit-hooks.yaml examples) still pass it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # compile and check import this module: they need no cluster code
    from compiler.live.apply import Progress

TEXT, JSON, MARKDOWN, GITHUB = "text", "json", "markdown", "github"
FORMAT_HELP = {
    TEXT: "text for a terminal",
    JSON: "json for scripts (a stable schema)",
    MARKDOWN: "markdown for a pull request comment",
    GITHUB: "github for workflow annotations",
}


def add_output_flag(parser: argparse.ArgumentParser, formats: Sequence[str] = (TEXT, JSON), *,
                    help: str | None = None, deprecated_format: bool = False) -> None:
    """`-o/--output` (dest `output`, default text); `--format` too, hidden, when `deprecated_format`."""
    parser.add_argument("-o", "--output", choices=list(formats), default=TEXT,
                        help=help or "; ".join(FORMAT_HELP[f] for f in formats) + " (default text)")
    if deprecated_format:
        parser.add_argument("--format", dest="output", choices=list(formats), default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)


def write_json(document: Any, out: IO[str] | None = None) -> None:
    """A JSON document, indented, with a final newline."""
    out = out or sys.stdout
    json.dump(document, out, indent=2)
    out.write("\n")


def use_color(stream: TextIO | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set (https://no-color.org), never in CI logs files."""
    return (stream or sys.stdout).isatty() and "NO_COLOR" not in os.environ


# -- apply's progress -------------------------------------------------------------------------
# A bar redrawn in place turns into thousands of lines in a CI log, and plain lines hide how far
# along a long apply is on a terminal; each gets what suits it.
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
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=False)
        self.bar.start()
        self.task: TaskID | None = None

    def stage(self, title: str, total: int) -> None:
        self.task = self.bar.add_task(title, total=total)

    def advance(self, line: str) -> None:
        if not line.startswith(("created", "configured", "deleted", "would")):
            self.console.print(f"  {line}", markup=False, highlight=False)
        if self.task is not None:
            self.bar.advance(self.task)

    def close(self) -> None:
        self.bar.stop()


def progress_for(stream: TextIO | None = None, quiet: bool = False) -> Progress:
    """Nothing when `quiet` (JSON output), a bar on a terminal, plain lines elsewhere."""
    from compiler.live.apply import NoProgress

    stream = stream or sys.stderr
    if quiet:
        return NoProgress()
    return RichProgress(stream) if stream.isatty() else PlainProgress(stream)
