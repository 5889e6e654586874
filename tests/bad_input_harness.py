"""Runs one bad-input case and judges what the CLI printed (tests/unit/test_bad_input.py).

A case runs in process (the CLI's `main`, its output captured) or, for the cases about cost,
as a child process under a safety limit, its wall time and peak RSS taken from wait4 (the
child's own and that of the processes it waited for, such as a Jsonnet evaluation)."""
from __future__ import annotations

import io
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from helpers import REPO, crd_flags

TIME_CAP = 10.0  # seconds: issue 14's bound for refusing any input
MEMORY_CAP = 512 << 20  # bytes of peak RSS, idem
SAFETY_AS = 4 << 30  # address space a child may reserve at all: a broken cap must not take the machine down

# 'error: <file>: [<field path>: ]<message>'; the file is relative (tenants/..., rendered,
# .tenantc-cache/...) or an environment variable's setting
LINE = re.compile(r"^error: (?P<file>[^\s/][^:]*): (?P<rest>.+)$")
SUMMARY = re.compile(r"^(\d+) error\(s\)(; nothing was written)?$")
# review's lines around the problems: which revision failed, which spec files the change touches
REVIEW_HEADER = re.compile(r"^(error: head \(working tree\) does not compile:|spec files changed: )")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int | None = None  # bytes; measured for child processes only


def tree_bytes(path: Path) -> dict[str, bytes | str]:
    """Everything under `path` (relative path -> bytes, or '->target' for a symlink); a file
    or symlink at `path` itself is recorded too."""
    if path.is_symlink():
        return {"": "->" + os.readlink(path)}
    if path.is_file():
        return {"": path.read_bytes()}
    out: dict[str, bytes | str] = {}
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            rel = str(p.relative_to(path))
            if p.is_symlink():
                out[rel] = "->" + os.readlink(p)
            elif p.is_file():
                out[rel] = p.read_bytes()
    return out


def copy_repo_fast(template: Path, root: Path) -> None:
    """A private copy of a compiled repository. rendered/ and the CRD cache are only ever
    replaced by renames, never written in place, so they are hard links (a case costs a few
    milliseconds instead of copying hundreds of files on a busy disk); the specs and the
    caches that are written in place are copied."""
    def copy(src: str, dst: str) -> None:
        shared = f"{os.sep}rendered{os.sep}" in src[len(str(template)):] or os.path.basename(src).startswith("crd-")
        if shared:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)
    shutil.copytree(template, root, symlinks=True, copy_function=copy)


def commit_base(root: Path) -> None:
    """Make `root` a git repository whose HEAD is its current state (the base `review` compares
    the edited working tree with); the cache stays ignored, as in a real repository."""
    (root / ".gitignore").write_text(".tenantc-cache/\n")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com",
                                                 "commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def run_case(root: Path, command: str, env: dict[str, str], child: bool) -> Run:
    """`command` is compile, check, or review (of the working tree against HEAD, see commit_base)."""
    base = ["--base", "HEAD"] if command == "review" else []
    args = [command, *base, "--root", str(root), *crd_flags()]
    return _run_child(args, env) if child else _run_in_process(args, env)


def _run_in_process(args: list[str], env: dict[str, str]) -> Run:
    from compiler.cli import main

    saved = {name: os.environ.get(name) for name in [*env, "TENANTC_DEBUG"]}
    os.environ.pop("TENANTC_DEBUG", None)
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(args)
    except BaseException:  # noqa: BLE001 - what a case must never produce; reported as the traceback it is
        code = -1
        err.write(traceback.format_exc())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def _safety_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SAFETY_AS, SAFETY_AS))


def _run_child(args: list[str], env: dict[str, str]) -> Run:
    environment = {**os.environ, "NO_COLOR": "1", **env}
    environment.pop("TENANTC_DEBUG", None)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "compiler.cli", *args], stdout=out, stderr=err,
                                env=environment, cwd=REPO, preexec_fn=_safety_limits)
        timer = threading.Timer(120, proc.kill)  # far past the cap: a hung case fails instead of hanging
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   seconds, usage.ru_maxrss * 1024)


def check_output(run: Run) -> list[str]:
    """Assert the contract on what was printed; return the problem lines."""
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr[-3000:]
    assert not RAW_CONTROL.search(run.stderr + run.stdout), "control characters reached the terminal"
    lines = [line for line in run.stderr.strip().splitlines() if not REVIEW_HEADER.match(line)]
    problem_lines = [line for line in lines if not SUMMARY.match(line) and not line.startswith("warning: ")]
    summary = [line for line in lines if SUMMARY.match(line)]
    if summary:
        assert summary == [lines[-1]] and SUMMARY.match(lines[-1]).group(1) == str(len(problem_lines)), lines
    assert problem_lines, "no problem was reported"
    for line in problem_lines:
        assert LINE.match(line), line
    return problem_lines
