"""Starting, recognising and stopping the control-plane processes.

Components run in their own session so they outlive the `tenantc cluster up` that started
them and ignore the terminal's Ctrl-C. A pid alone is not an identity (the kernel reuses
pids), so every record also carries the process start time; `down` only signals a pid whose
start time still matches, and therefore never kills an unrelated process.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from compiler.cluster.errors import ClusterError

TAIL_LINES = 20
KILL_WAIT = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessRecord:
    """What `state.json` keeps about one running component."""

    pid: int
    start_time: str
    log: str
    log_offset: int = 0  # where this run's output starts in the (appended) log

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ProcessRecord:
        return cls(**data)


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return _start_time_from_ps(pid) if not Path("/proc/self").exists() else None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        # The main thread has exited. A multi-threaded process (every Go component) keeps its
        # other threads, and with them its open files and listening sockets, until the last
        # one is gone: only then has the process exited (and may its ports be taken again).
        if _threads_alive(pid):
            return fields[19]
        _reap(pid)  # only its parent's wait() is missing
        return None
    return fields[19]


def _threads_alive(pid: int) -> bool:
    """True when a thread of `pid` other than a zombie main thread still runs."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X"):
            return True
    return False


def _start_time_from_ps(pid: int) -> str | None:
    """Fallback for systems without /proc (macOS): ps prints the start time."""
    out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True)
    return out.stdout.strip() or None


def is_running(record: ProcessRecord | None) -> bool:
    """True when the recorded process still exists and is the same process."""
    return record is not None and start_time(record.pid) == record.start_time


def spawn(argv: list[str], log: Path, *, env: dict[str, str] | None = None,
          bind_to_parent: bool = False) -> ProcessRecord:
    """Start `argv` detached in a new session, appending its output to `log`.

    `env` is added to (and overrides) the caller's environment. With `bind_to_parent`
    (test fixtures, benchmarks) the kernel SIGKILLs the process when this Python process
    dies, so a killed pytest leaves no cluster behind (Linux only).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        settings = "".join(f"{k}={v} " for k, v in (env or {}).items())
        out.write(f"--- tenantc: starting {settings}{' '.join(argv)}\n".encode())
        out.flush()
        offset = out.tell()
        popen = functools.partial(
            subprocess.Popen, argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        if bind_to_parent and sys.platform == "linux":
            proc = _spawner().submit(popen, preexec_fn=_die_with_parent()).result()
        else:
            proc = popen()
    # The Popen object is dropped on purpose: the record is the handle, and start_time()
    # reaps the child once it exits so no zombie keeps its pid alive.
    return ProcessRecord(proc.pid, start_time(proc.pid) or "", str(log), offset)


@functools.cache
def _spawner() -> ThreadPoolExecutor:
    """One thread that lives as long as the interpreter and forks bound children.

    PR_SET_PDEATHSIG fires when the forking *thread* exits, not the process: a child forked
    from a short-lived worker thread (a test restarting the API server from a thread pool)
    would be killed with that thread.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantc-spawner")


def _die_with_parent():
    """A preexec function setting PR_SET_PDEATHSIG; libc is loaded before fork, not in the child."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return preexec


def stop(records: list[ProcessRecord], timeout: float = 10.0) -> list[int]:
    """SIGTERM every still-running record, SIGKILL those alive after `timeout`; wait for all.

    Returns the pids that were signalled. Stopping in one batch lets the components shut
    down concurrently instead of paying the timeout once per process.
    """
    alive = [r for r in records if is_running(r)]
    for record in alive:
        _signal(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(is_running(r) for r in alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    for record in alive:
        if is_running(record):
            _signal(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT
    while any(is_running(r) for r in alive):
        if time.monotonic() > deadline:  # stuck in the kernel (D state): say so rather than hang
            stuck = ", ".join(str(r.pid) for r in alive if is_running(r))
            raise ClusterError(f"process(es) {stuck} did not exit {KILL_WAIT:.0f}s after SIGKILL")
        time.sleep(0.02)
    return [r.pid for r in alive]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect our own exited child so its pid disappears; other processes' children are not ours."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(record: ProcessRecord, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines this run of the component wrote to its log."""
    try:
        with open(record.log, "rb") as fh:
            fh.seek(record.log_offset)
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read {record.log}: {exc})"
    tail = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail) if tail else "(the log is empty)"
