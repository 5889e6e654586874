"""The `tenantc` command line: a thin layer of argparse over the library.

Each subcommand lives in `compiler.commands.<name>` and exposes `register(subparsers)`,
which adds its parser and sets `func(args) -> int`; that function maps flags onto the
library's options (compiler.live.options for diff/apply/status) and the result onto output
(compiler.commands.output: one `-o/--output` flag shape for every command). Exit codes
follow kubectl/git habits: 0 ok, 1 "differences found" (check, diff), 2 bad input or
error. User errors never show a traceback; set TENANTC_DEBUG=1 to see one.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import io
import os
import sys
from pathlib import Path

from compiler.about import VersionAction
from compiler.agent.contract import place_global_flags
from compiler.serve.client import run_served
from compiler.serve.protocol import SERVED

# Order is the order shown in --help. Only the module of the command being run is imported
# (the compiler's and the live commands' imports cost a noticeable part of a second); the
# others get a one-line entry so `tenantc --help` still lists them.
COMMANDS = {
    "init": "start a tenant-config repository (platform, example tenant, CI)",
    "compile": "compile tenants/ into rendered/",
    "check": "fail when rendered/ is stale or specs are invalid",
    "schema": "write schemas/tenant.schema.json and schemas/platform.schema.json",
    "review": "what a change to tenant config does, between two git revisions",
    "diff": "show what apply would change on live clusters",
    "apply": "server-side apply rendered/ to live clusters (and prune)",
    "status": "quota, queues, datasets, jobs and agent heartbeats per tenant",
    "crds": "copy each cluster's CRDs into the repository (crds pull)",
    "cluster": "run a local control plane (etcd, kube-apiserver, kube-controller-manager)",
    "server": "keep tenantc warm for compile, check and review (opt-in)",
}
COMMAND_MODULES = list(COMMANDS)
# kubectl's global flags, accepted before or after the command (`tenantc --kubeconfig K diff` is
# `tenantc diff --kubeconfig K`); a command that does not take one refuses it, exit 2.
GLOBAL_FLAGS = frozenset({"--kubeconfig", "--context", "--cluster", "-o", "--output", "-v", "--v"})
BROKEN_PIPE_EXIT = 141  # what a shell reports for a writer whose reader went away (128 + SIGPIPE)

EPILOG = """\
typical flow:
  tenantc compile                     # tenants/ -> rendered/ (atomic, deterministic)
  tenantc check -o github             # CI: fail when rendered/ is stale or specs invalid
  tenantc review --base origin/main   # what a pull request changes, per tenant and cluster
  tenantc diff --context prod-east    # what would change on a live cluster
  tenantc apply --prune               # server-side apply, then prune what tenantc owns

global flags, before or after the command as with kubectl (where the command takes them):
  --kubeconfig PATH, --context NAME, --cluster NAME, -o/--output FORMAT,
  -v/--v N (1 or more: a traceback with an error, as TENANTC_DEBUG=1)

exit codes: 0 ok, 1 differences found (check/diff/review --exit-code), 2 invalid input or error.
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser when `command` is None; otherwise only that command's module is loaded."""
    parser = argparse.ArgumentParser(
        prog="tenantc",
        description="Compile per-tenant specs (YAML or Jsonnet) into validated Kubernetes, "
        "Volcano and Fluid manifests under rendered/, and diff/apply/prune them on clusters.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if command is not None and name != command:
            subparsers.add_parser(name, help=summary, add_help=False)
            continue
        importlib.import_module(f"compiler.commands.{name}").register(subparsers)
        _add_verbosity(subparsers.choices[name])
    return parser


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    """The -v/--v of kubectl on every command that runs something (the leaves of nested commands)."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in nested:
        for child in set(action.choices.values()):
            _add_verbosity(child)
    if not nested:
        parser.add_argument("-v", "--v", type=int, default=0, metavar="N",
                            help="verbosity: 1 or more shows a traceback with an error (as TENANTC_DEBUG=1)")


def parse_quietly(argv: list[str]) -> argparse.Namespace | None:
    """The arguments main(argv) would run its command with; None, with nothing printed, when
    they do not parse (a `tenantc server` reads a served command's --root this way)."""
    argv, parser = _parser_for(argv)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return parser.parse_args(argv)
        except SystemExit:
            return None


def _parser_for(argv: list[str]) -> tuple[list[str], argparse.ArgumentParser]:
    """`argv` with kubectl's global flags placed after the command, and the parser of that command."""
    argv = place_global_flags(argv, list(COMMANDS), GLOBAL_FLAGS)
    return argv, build_parser(_command_in(argv))


def _command_in(argv: list[str]) -> str | None:
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    """Run one command. SIGPIPE stays ignored (Python's default): a connection the API server
    drops mid-request must be an error tenantc retries, not a signal that kills it; a reader
    that goes away (`tenantc diff -o json | head`) ends the command quietly instead."""
    # tenantc validates with its own models only. pydantic's plugins are observability hooks it
    # finds by reading the entry points of every installed distribution (20-50 ms a run): off,
    # unless the user sets PYDANTIC_DISABLE_PLUGINS (an empty value turns them back on).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_EXIT


def _silence_stdout() -> None:
    """The reader of stdout is gone: point stdout at /dev/null so the final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a file descriptor
        pass


def _run(argv: list[str]) -> int:
    from compiler.errors import CompileError, UserError, safe_text  # here: a served command's client never needs it

    argv, parser = _parser_for(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CompileError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} error(s); nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        if os.environ.get("TENANTC_DEBUG") or getattr(args, "v", 0) >= 1:
            raise
        print(f"error: {safe_text(str(exc), 2000)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout went away: main() ends quietly
        raise
    except OSError as exc:  # the repository's folders themselves: a file where a folder belongs, no permission
        if os.environ.get("TENANTC_DEBUG") or getattr(args, "v", 0) >= 1:
            raise
        print(f"error: {_os_error(exc, getattr(args, 'root', None))}", file=sys.stderr)
        return 2


def _os_error(exc: OSError, root: object) -> str:
    """'rendered: Permission denied (check ...)' with the path relative to the repository root."""
    where = str(exc.filename or "")
    if where and root is not None:
        base = os.path.abspath(str(root))
        full = os.path.abspath(where)
        where = os.path.relpath(full, base) if full == base or full.startswith(base + os.sep) else where
    text = f"{where}: {exc.strerror or exc}" if where else str(exc.strerror or exc)
    from compiler.errors import safe_text

    return safe_text(text, 2000) + " (check that the repository's folders are folders you may write, and try again)"


def console_main() -> int:
    """The `tenantc` command: a running `tenantc server` runs compile, check and review when
    it will (compiler.serve); else main(). Compile, check and review run without the cyclic
    collector (tracing what a 1,000-tenant compile leaves took 0.1 s of a 0.9 s edit) and end
    without the interpreter's teardown (compiler.exiting), and in a fresh clone have their YAML
    spec files parsed on another core while they import (compiler.load.prefetch); every other
    command's objects are frozen out of the collector's reach, which the shutdown would run.
    Only for a process that ends next: in-process callers use main()."""
    argv = sys.argv[1:]
    command = _command_in(place_global_flags(argv, list(COMMANDS), GLOBAL_FLAGS))
    served = run_served(argv, command)
    if served is not None:
        return served
    if command not in SERVED:
        code = main()
        gc.freeze()
        return code
    gc.disable()  # the process ends with the command: re-enabling it would trace all a compile left
    from compiler.exiting import exit_now  # here: a served command's client never needs it
    from compiler.load import prefetch

    root = _repository_root(argv)
    if root is not None and prefetch.start(root):
        atexit.register(prefetch.stop)
    exit_now(main())  # no threads are left: these commands join every one they start


def _repository_root(argv: list[str]) -> Path | None:
    """The --root a compile, check or review runs on, read before the command's own parser
    (whose import is what the prefetch overlaps); None when it does not parse."""
    from compiler.commands.common import add_repo_flags

    if "-h" in argv or "--help" in argv:
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_repo_flags(parser)
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return parser.parse_known_args(argv)[0].root
        except (argparse.ArgumentError, SystemExit):
            return None


if __name__ == "__main__":
    sys.exit(console_main())
