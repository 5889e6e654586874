"""`tenantc server start|stop|status|run`: the warm process behind compile, check and review."""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path

from compiler.commands.output import JSON, add_output_flag, write_json
from compiler.errors import UserError
from compiler.serve import protocol
from compiler.serve.server import AlreadyRunning, Server, control, status, warm_imports

HELP = """\
Keep tenantc imported in a background process, so that `tenantc compile`, `check` and
`review` get to work within tens of milliseconds instead of about a quarter of a second
(importing pydantic's models and the compiler). Opt-in, for the edit-compile loop on a
workstation; CI needs none.

Each command still runs in a process of its own, forked from the server: with your
arguments, working folder, environment, umask and terminal. While idle after a command
succeeds, the server reads that repository's specs again and keeps their models and plan, so
the next command validates and plans only the YAML files that changed since (the same result
as without it; `status -o json` shows the repository kept). The server serves only your
user, only the interpreter, tenantc and library path it was started from, and exits when any
of its source files changes on disk (that command then runs without it) or after --idle
without commands. TENANTC_SERVER=off makes tenantc ignore a server.

subcommands:
  start    start it in the background (returns once it answers)
  stop     stop it
  status   is one running, and how many commands it ran
  run      run it in the foreground (for a service manager, or to watch it)

examples:
  tenantc server start --idle 2h
  tenantc compile            # served: the same output and exit code, sooner
  tenantc server status -o json
  tenantc server stop
"""
START_TIMEOUT = 30.0  # seconds for a started server to answer


def register(subparsers) -> None:
    parser = subparsers.add_parser("server", help="keep tenantc warm for compile, check and review",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "run"])
    parser.add_argument("--idle", type=_duration, default=_duration("30m"), metavar="DURATION",
                        help="exit after this long without a command: 90s, 30m, 2h (default 30m)")
    add_output_flag(parser)
    parser.set_defaults(func=run)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration such as 90s, 30m or 2h") from None
    if not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"'{text}': between a second and a week")
    return value


def run(args: argparse.Namespace) -> int:
    folder = protocol.socket_dir()
    path = protocol.socket_path(folder)
    if args.action == "run":
        return _serve(folder, args.idle)
    if args.action == "start":
        return _start(folder, path, args)
    answer = control(path, "stop") if args.action == "stop" else status(path)
    if args.output == JSON:
        write_json({"running": answer is not None, **(answer or {}), "socket": str(path)})
    elif answer is None:
        print(f"no tenantc server answers on {path}")
    elif args.action == "stop":
        print(f"tenantc server {answer['pid']} stopped after {answer['requests']} command(s)")
    else:
        print(f"tenantc server {answer['pid']} on {path}: {answer['requests']} command(s) served, "
              f"{answer['commandsRunning']} running, up {time.time() - answer['started']:.0f} s")
    return 0 if answer is not None or args.action == "stop" else 1


def _serve(folder: str, idle: float) -> int:
    from compiler.cli import main

    if not hasattr(socket, "SO_PEERCRED"):
        raise UserError("tenantc server needs Linux: it serves only your user, as the kernel's peer "
                        "credentials (SO_PEERCRED) of each connection tell")
    warm_imports()
    try:
        why = Server(folder, idle, main, warm=_keep_warm).serve()
    except AlreadyRunning as exc:
        raise UserError(f"{exc}; `tenantc server stop` first") from None
    except protocol.ServerDirError as exc:
        raise UserError(f"socket folder {exc}") from None
    print(f"tenantc server: {why}", file=sys.stderr)
    return 0


def _keep_warm(request: dict) -> bool:
    """The repository a served command ran on, kept warm in the server (compiler.warm)."""
    from compiler.cli import parse_quietly
    from compiler.pipeline import keep_warm

    root = getattr(parse_quietly(request["argv"]), "root", None)
    return root is not None and keep_warm(Path(request["cwd"]) / root)


def _start(folder: str, path: str, args: argparse.Namespace) -> int:
    """Fork a detached server (its own session, output to a log beside the socket), then wait
    until it answers."""
    try:
        protocol.private_dir(folder, create=True)
    except protocol.ServerDirError as exc:
        raise UserError(f"socket folder {exc}") from None
    if status(path) is not None:
        print(f"a tenantc server already answers on {path}")
        return 0
    log = Path(path).with_suffix(".log")
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() == 0:  # the first child: a new session, then the server as its child, detached
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        code = 1
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            from compiler.cli import main

            code = main(["server", "run", "--idle", f"{args.idle}s"])
        finally:
            os._exit(code)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        answer = status(path)
        if answer is not None:
            if args.output == JSON:
                write_json({"running": True, **answer, "socket": str(path)})
            else:
                print(f"tenantc server {answer['pid']} started on {path} (exits after {args.idle:g} s idle)")
            return 0
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    raise UserError(f"tenantc server did not answer within {START_TIMEOUT:g} s" + (f":\n{detail}" if detail else ""))
