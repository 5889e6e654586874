"""The server: import once, then fork a child per command (see compiler.serve).

Only this user's processes are served (the socket's folder is 0700 and each peer's uid is
checked). Before each command every source file the server depends on is stat'ed again (the
package's own .py files, which the unit cache's code fingerprint covers, and every module
loaded): if one changed, the server refuses (the client runs the command cold) and exits, so
no command ever runs on code older than what is on disk. A server with no command for `idle`
seconds exits too.
"""
from __future__ import annotations

import gc
import importlib
import io
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compiler.exiting import finish
from compiler.serve import protocol

STATUS = b"J"  # a status answer: JSON follows until the connection closes
REQUEST_TIMEOUT = 5.0  # seconds a client has to send its request
WARM_POLL = 0.005  # seconds between looks for a waiting client while the server warms
Fingerprint = dict[str, tuple[int, int]]  # file -> (mtime_ns, size)


class AlreadyRunning(Exception):
    """A server answers on the socket already."""


class ClientWaiting(BaseException):
    """A client connected while the server was warming: warming gives way at once. Not an
    Exception, so that no `except Exception` on the way swallows it (as KeyboardInterrupt)."""


@dataclass
class Server:
    """One listening socket; `serve()` until idle, stale or stopped. `main(argv) -> int` runs
    a command in the child (compiler.cli.main)."""

    folder: str
    idle: float
    main: Callable[[list[str]], int]
    # After a command succeeded, with no other waiting: keep what it ran on warm (compiler.warm)
    warm: Callable[[dict], object] | None = None
    started: float = field(default_factory=time.time)
    requests: int = 0
    children: dict[int, dict] = field(default_factory=dict)  # pid -> the request it runs
    stopping: str = ""
    files: Fingerprint = field(default_factory=dict)
    succeeded: dict | None = None  # the request of the last command that exited 0, until warmed
    warming: socket.socket | None = None  # the listener, while warming

    def serve(self) -> str:
        """Serve until idle, stale or stopped; returns why it stopped."""
        path = protocol.socket_path(protocol.private_dir(self.folder, create=True))
        if status(path) is not None:
            raise AlreadyRunning(f"a tenantc server already answers on {path}")
        if _is_socket(path):
            os.unlink(path)  # left by a server that was killed
        self.files = source_files_state()
        gc.collect()
        gc.freeze()  # what the imports made stays out of the children's collections (and shared)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
        previous = signal.signal(signal.SIGTERM, self._stop_on_signal)
        previous_alarm = signal.signal(signal.SIGALRM, self._look_for_clients)
        server_pid = os.getpid()
        last = time.monotonic()
        try:
            while not self.stopping:
                # While commands run, their ends are seen within 50 ms: warming follows them.
                ready, _, _ = select.select([listener], [], [], 0.05 if self.children else 1.0)
                self._reap()
                if ready:
                    conn, _ = listener.accept()
                    with conn:
                        self._take(conn)
                    last = time.monotonic()
                elif self.succeeded is not None and not self.children:
                    self._keep_warm(listener)
                elif not self.children and time.monotonic() - last > self.idle:
                    self.stopping = f"idle for {self.idle:g} s"
        finally:
            listener.close()
            if os.getpid() == server_pid:  # never in a child that got here by mistake
                signal.signal(signal.SIGTERM, previous)
                signal.signal(signal.SIGALRM, previous_alarm)
                if _is_socket(path):
                    os.unlink(path)
        return self.stopping

    def _stop_on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping = "stopped (SIGTERM)"

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, -1
            if done:
                request = self.children.pop(pid)
                if status == 0:
                    self.succeeded = request

    def _keep_warm(self, listener: socket.socket) -> None:
        """Run `warm` on the last command that succeeded, giving way to any client that
        connects meanwhile (a timer looks every WARM_POLL seconds): it is tried again when the
        server is next idle. A failure to warm is no command's: it goes to the server's log,
        and the server goes on."""
        request = self.succeeded
        if self.warm is None or request is None:
            self.succeeded = None
            return
        self.warming = listener
        signal.setitimer(signal.ITIMER_REAL, WARM_POLL, WARM_POLL)
        try:
            try:
                self.warm(request)
            finally:  # past this, ClientWaiting can no longer be raised (see _look_for_clients)
                self._stop_looking()
                # Modules warming imported (even in part) are watched from now on, as they are on
                # disk now; the files watched before keep the state they had at the start.
                self.files = {**source_files_state(), **self.files}
        except ClientWaiting:
            return
        except Exception:  # noqa: BLE001 - whatever the repository holds, the server keeps serving
            traceback.print_exc()
        self.succeeded = None
        gc.freeze()  # what was kept stays out of the server's collections

    def _look_for_clients(self, _signum: int, _frame: object) -> None:
        """The timer's look while warming. It raises ClientWaiting at most once per warming,
        having stopped looking first, so the raise can only land inside `_keep_warm`'s try."""
        listener = self.warming
        if listener is not None and select.select([listener], [], [], 0)[0]:
            self._stop_looking()
            raise ClientWaiting

    def _stop_looking(self) -> None:
        self.warming = None  # first: an alarm still on its way now changes nothing
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _take(self, conn: socket.socket) -> None:
        """One connection: check who it is, read the request, and answer or fork."""
        if peer_uid(conn) != os.getuid():
            return
        conn.settimeout(REQUEST_TIMEOUT)
        fds: list[int] = []
        try:
            request, fds = read_request(conn)
            if request.get("control") is not None:
                self._control(conn, request["control"])
                return
            mismatch = check_request(request)
            if mismatch or len(fds) != 3:
                conn.sendall(protocol.frame(protocol.MISMATCH, text=mismatch or "three streams expected"))
                return
            if source_files_state() != self.files:
                conn.sendall(protocol.STALE)
                self.stopping = "its code changed on disk"
                return
            self.requests += 1
            pid = os.fork()
            if pid == 0:
                run_child(conn, request, fds, self.main)  # never returns
            self.children[pid] = request
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            return  # a client that broke off or sent nonsense: nothing was started
        finally:
            for fd in fds:
                os.close(fd)

    def _control(self, conn: socket.socket, what: str) -> None:
        from compiler.warm import kept_root

        if what == "stop":
            self.stopping = "stopped (tenantc server stop)"
        warm = kept_root()
        conn.sendall(STATUS + json.dumps({
            "pid": os.getpid(), "started": round(self.started), "requests": self.requests,
            "commandsRunning": len(self.children), "idleSeconds": self.idle, **protocol.identity(),
            "warmRepository": str(warm) if warm is not None else None, "stopping": self.stopping}).encode())


def peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's uid, from the kernel (SO_PEERCRED); None where unknown."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    return uid


def read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """The request's JSON and the file descriptors sent with it."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if len(data) < protocol.LENGTH.size:
        data += protocol.read_exact(conn, protocol.LENGTH.size - len(data))
    (size,) = protocol.LENGTH.unpack(data[:protocol.LENGTH.size])
    if size > protocol.MAX_REQUEST:
        raise ValueError("request too large")
    body = data[protocol.LENGTH.size:]
    body += protocol.read_exact(conn, size - len(body))
    request = json.loads(body)
    if not isinstance(request, dict):
        raise ValueError("request is not an object")
    return request, list(fds)


def check_request(request: dict) -> str:
    """What makes this server the wrong one for the request ('' when none)."""
    theirs = request.get("identity")
    if theirs != protocol.identity():
        return "another interpreter, package, library path or pydantic plugin setting"
    if not (isinstance(request.get("argv"), list) and all(isinstance(a, str) for a in request["argv"])
            and isinstance(request.get("cwd"), str) and isinstance(request.get("umask"), int)
            and isinstance(request.get("env"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in request["env"].items())):
        return "malformed request"
    return ""


def source_files_state() -> Fingerprint:
    """(mtime, size) of the package's .py files and of every loaded module's file."""
    package = Path(protocol.package_dir())
    paths = {str(p) for p in package.rglob("*.py")}
    paths.update(f for m in list(sys.modules.values()) if isinstance(f := getattr(m, "__file__", None), str))
    state: Fingerprint = {}
    for path in sorted(paths):
        try:
            info = os.stat(path)
            state[path] = (info.st_mtime_ns, info.st_size)
        except OSError:
            state[path] = (-1, -1)
    return state


def run_child(conn: socket.socket, request: dict, fds: list[int], main: Callable[[list[str]], int]) -> None:
    """In the forked child: become the client's process, run the command, report, exit.
    Never returns (the server's frames above must not run here)."""
    code = 1
    finished = threading.Event()  # set once the command is over: an interrupt then changes nothing
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # found again from the client's TMPDIR
        time.tzset()  # the client's TZ
        _reopen_streams(request.get("streams") or {})
        sys.argv = ["tenantc", *request["argv"]]
        gc.disable()  # as a cold one-shot command runs (compiler.cli.console_main): the child ends with it
        conn.settimeout(None)
        conn.sendall(protocol.frame(protocol.RUNNING, os.getpid()))
        threading.Thread(target=_interrupt_when_asked, args=(conn, finished), daemon=True).start()
        code = main(list(request["argv"]))
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a bug: shown as a cold run would show it
        traceback.print_exc()
        code = 1
    finally:
        finished.set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may raise on the way to the exit below
        try:
            code = finish(code)  # what a normal exit runs; the server's frames must not
            conn.sendall(protocol.frame(protocol.EXITED, code))
        except BaseException:  # noqa: BLE001 - the exit below must happen whatever went wrong
            pass
        os._exit(code & 0xFF)


def _interrupt_when_asked(conn: socket.socket, finished: threading.Event) -> None:
    """Ctrl-C at the client (an `I`) or the client gone while the command runs: interrupt it,
    as Ctrl-C does. (A client closes the connection once it has the exit code, which is sent
    after `finished` is set: that close interrupts nothing.)"""
    try:
        conn.recv(1)
    except OSError:
        pass
    if not finished.is_set():
        signal.raise_signal(signal.SIGINT)


def _reopen_streams(streams: dict) -> None:
    """stdin, stdout and stderr as Python makes them for these descriptors: the client's
    encodings; stdout line-buffered on a terminal, stderr always; unbuffered with
    PYTHONUNBUFFERED (what the server itself had may be /dev/null)."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        encoding, errors = (streams.get(name) or [None, None])[:2]
        try:
            binary = open(fd, "rb" if fd == 0 else "wb", closefd=False)
        except OSError:
            continue
        text = io.TextIOWrapper(binary, encoding=encoding or "utf-8", errors=errors or "strict",
                                line_buffering=fd == 2 or (fd == 1 and os.isatty(fd)),
                                write_through=unbuffered and fd != 0)
        setattr(sys, name, text)
        setattr(sys, f"__{name}__", text)


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def status(path: str) -> dict | None:
    """What the server on `path` says of itself, or None when none answers."""
    return control(path, "status")


def control(path: str, what: str) -> dict | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(5.0)
        sock.connect(path)
        sock.sendall(protocol.encode_request({"control": what}))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        if not data.startswith(STATUS):
            return None
        answer = json.loads(data[len(STATUS):])
        return answer if isinstance(answer, dict) else None
    except (OSError, ValueError):
        return None
    finally:
        sock.close()


def warm_imports() -> None:
    """What a served command imports, loaded once in the server."""
    for command in sorted(protocol.SERVED):
        importlib.import_module(f"compiler.commands.{command}")
