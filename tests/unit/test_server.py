"""`tenantc server`: a served command is the cold command, sooner.

Every test starts a real server (`python -m compiler.cli server run`, foreground) on a private
socket folder and runs the real CLI against it, beside the same CLI with TENANTC_SERVER=off:
exit codes, output and rendered/ bytes must be the same, and the server's own count shows the
command went through it.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, compile_bench, copy_repo, crd_flags, snapshot, tenantc

from compiler.serve import protocol
from compiler.serve.server import Server, check_request, peer_uid, status

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"), reason="needs Linux's SO_PEERCRED")


class Running:
    """A foreground server process and the environment that reaches it."""

    def __init__(self, folder: str, process: subprocess.Popen, pythonpath: str):
        self.folder, self.process = folder, process
        self.env = {"TENANTC_SERVER": "", protocol.DIR_ENV: folder, "PYTHONPATH": pythonpath}

    @property
    def socket(self) -> str:
        """The server's socket: its name depends on the package it runs (this checkout's, or a copy)."""
        found = sorted(Path(self.folder).glob("server-*.sock"))
        return str(found[0]) if found else protocol.socket_path(self.folder)

    def requests(self) -> int:
        answer = status(self.socket)
        assert answer is not None, "the server does not answer"
        return answer["requests"]

    def run(self, *args: str | Path, cwd: Path | None = None, served: bool = True) -> subprocess.CompletedProcess:
        """The real CLI on this server's package only (`python -m` puts the working folder first
        on the path, so it runs from a folder without a package of its own)."""
        env = {**os.environ, **self.env, "NO_COLOR": "1", "TENANTC_SERVER": "" if served else "off"}
        env.pop("TENANTC_DEBUG", None)
        return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, args)], capture_output=True,
                              text=True, cwd=cwd or self.folder, env=env, timeout=300)


def start_server(folder: str, *flags: str, pythonpath: str = str(REPO)) -> Running:
    env = {**os.environ, "TENANTC_SERVER": "", protocol.DIR_ENV: folder, "PYTHONPATH": pythonpath}
    process = subprocess.Popen([sys.executable, "-m", "compiler.cli", "server", "run", *flags], env=env, cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = Running(folder, process, pythonpath)
    deadline = time.monotonic() + 60
    while status(running.socket) is None:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()}")
        assert time.monotonic() < deadline, "server did not answer within 60 s"
        time.sleep(0.05)
    return running


def stop(running: Running) -> None:
    if running.process.poll() is None:
        running.process.terminate()
        try:
            running.process.wait(10)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


@pytest.fixture
def socket_folder() -> Iterator[str]:
    """A short private folder (socket paths hold about 100 bytes)."""
    folder = tempfile.mkdtemp(prefix="tc-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(socket_folder: str) -> Iterator[Running]:
    running = start_server(socket_folder)
    try:
        yield running
    finally:
        stop(running)


def timing_free(text: str, *roots: Path) -> str:
    """Output without what differs between two runs on two copies: seconds and the copies' paths."""
    text = re.sub(r"in \d+\.\d+s", "in Xs", text)
    text = re.sub(r'"seconds": [0-9.]+', '"seconds": X', text)
    for root in roots:
        text = text.replace(str(root), "ROOT")
    return text


def same_outcome(served: subprocess.CompletedProcess, cold: subprocess.CompletedProcess, *roots: Path) -> None:
    assert (served.returncode, timing_free(served.stdout, *roots), timing_free(served.stderr, *roots)) == \
        (cold.returncode, timing_free(cold.stdout, *roots), timing_free(cold.stderr, *roots))


def test_compile_check_and_bad_input_served_as_cold(server: Running, tmp_path: Path):
    served_root, cold_root = copy_repo(tmp_path / "a"), copy_repo(tmp_path / "b")
    before = server.requests()

    for args in (["compile"], ["compile", "-o", "json"], ["check"]):
        served = server.run(*args, "--root", served_root, *crd_flags())
        cold = server.run(*args, "--root", cold_root, *crd_flags(), served=False)
        same_outcome(served, cold, served_root, cold_root)
        assert served.returncode == 0, served.stderr
    assert snapshot(served_root / "rendered") == snapshot(cold_root / "rendered")
    assert snapshot(served_root / "rendered"), "nothing was rendered"

    # rendered/ edited by hand: check fails with the same listing (exit 1)
    for root in (served_root, cold_root):
        edited = next(p for p in sorted((root / "rendered").rglob("*.yaml")))
        edited.write_text(edited.read_text() + "# edited\n")
    served = server.run("check", "--root", served_root, *crd_flags())
    cold = server.run("check", "--root", cold_root, *crd_flags(), served=False)
    same_outcome(served, cold, served_root, cold_root)
    assert served.returncode == 1

    # a bad spec: exit 2, the same problems, nothing written
    for root in (served_root, cold_root):
        spec = next(p for p in sorted((root / "tenants").glob("*.yaml")) if p.name != "platform.yaml")
        spec.write_text(spec.read_text() + "bogusField: 1\n")
    served = server.run("compile", "--root", served_root, *crd_flags())
    cold = server.run("compile", "--root", cold_root, *crd_flags(), served=False)
    same_outcome(served, cold, served_root, cold_root)
    assert served.returncode == 2 and "error: tenants/" in served.stderr

    assert server.requests() == before + 5  # every served run went through the server


def test_a_served_command_takes_the_clients_folder_umask_and_environment(server: Running, tmp_path: Path):
    served_root, cold_root = copy_repo(tmp_path / "a"), copy_repo(tmp_path / "b")
    before = server.requests()
    previous = os.umask(0o077)
    try:
        served = server.run("compile", *crd_flags(), cwd=served_root)  # no --root: the working folder
        cold = server.run("compile", *crd_flags(), cwd=cold_root, served=False)
    finally:
        os.umask(previous)
    same_outcome(served, cold, served_root, cold_root)
    modes = {oct(p.stat().st_mode & 0o777) for p in (served_root / "rendered").rglob("*.yaml")}
    assert modes == {oct(p.stat().st_mode & 0o777) for p in (cold_root / "rendered").rglob("*.yaml")}
    assert modes == {"0o600"}, "files were not made under the client's umask"

    # TENANTC_DEBUG, read from the environment when an error happens: a traceback instead of one line
    command = [sys.executable, "-m", "compiler.cli", "compile", "--crd-dir", str(tmp_path / "no-such-folder")]
    for debug in ("", "1"):
        outcomes = []
        for switch in ("", "off"):
            env = {**os.environ, **server.env, "TENANTC_DEBUG": debug, "TENANTC_SERVER": switch}
            result = subprocess.run(command, cwd=served_root, env=env, capture_output=True, text=True, timeout=120)
            outcomes.append((result.returncode, "Traceback" in result.stderr, "not a folder" in result.stderr))
        assert outcomes[0] == outcomes[1] == ((1, True, True) if debug else (2, False, True)), outcomes
    assert server.requests() == before + 3


def test_a_server_whose_code_changed_refuses_and_exits(socket_folder: str, tmp_path: Path):
    package = tmp_path / "pkg"
    shutil.copytree(REPO / "compiler", package / "compiler", ignore=shutil.ignore_patterns("__pycache__"))
    running = start_server(socket_folder, pythonpath=str(package))
    try:
        root = copy_repo(tmp_path / "repo")
        assert running.run("compile", "--root", root, *crd_flags()).returncode == 0
        assert running.requests() == 1
        path = running.socket
        kinds = package / "compiler" / "kinds.py"
        kinds.write_text(kinds.read_text() + "\n# changed after the server started\n")
        (root / "rendered").rename(tmp_path / "old-rendered")
        result = running.run("compile", "--root", root, *crd_flags())
        assert result.returncode == 0, result.stderr  # run cold, by the client itself
        assert snapshot(root / "rendered") == snapshot(tmp_path / "old-rendered")
        running.process.wait(10)
        assert "its code changed on disk" in running.process.stderr.read()  # type: ignore[union-attr]
        assert status(path) is None and not os.path.exists(path)
    finally:
        stop(running)


def test_ctrl_c_and_a_vanished_client_interrupt_the_served_command(server: Running, tmp_path: Path):
    """Ctrl-C at the client reaches the command (exit 130, 'interrupted'); a client killed
    outright interrupts it too. Either way rendered/ is all old or all new (atomic write)."""
    root = tmp_path / "big"
    compile_bench().make_repo(root, 400)
    env = {**os.environ, **server.env, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "compiler.cli", "compile", "--root", str(root)]
    for how in (signal.SIGINT, signal.SIGKILL):
        before = server.requests()
        client = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while server.requests() == before:  # wait until the server runs it
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)  # into the compile (a cold compile of 400 tenants takes seconds here)
        client.send_signal(how)
        out, err = client.communicate(timeout=60)
        if how == signal.SIGINT:
            assert client.returncode == 130 and "interrupted" in err, (client.returncode, err)
        deadline = time.monotonic() + 30
        while (status(server.socket) or {}).get("commandsRunning"):
            assert time.monotonic() < deadline, "the served command went on without its client"
            time.sleep(0.05)
        # all or nothing: no rendered/ (interrupted before the write), or one that checks clean
        if (root / "rendered").exists():
            assert how == signal.SIGKILL and server.run("check", "--root", root).returncode == 0


def test_status_stop_idle_and_a_second_server(server: Running, socket_folder: str):
    answer = status(server.socket)
    assert answer is not None and answer["pid"] == server.process.pid
    assert answer["package"] == str(REPO / "compiler") and answer["executable"] == sys.executable
    second = subprocess.run([sys.executable, "-m", "compiler.cli", "server", "run"], capture_output=True, text=True,
                            env={**os.environ, **server.env}, timeout=60)
    assert second.returncode == 2 and "already answers" in second.stderr
    stopped = server.run("server", "stop", "-o", "json")
    assert stopped.returncode == 0 and '"stopping": "stopped (tenantc server stop)"' in stopped.stdout
    server.process.wait(10)
    assert not os.path.exists(server.socket)
    assert server.run("server", "status").returncode == 1

    idle = start_server(socket_folder, "--idle", "1s")
    try:
        idle.process.wait(15)
        assert "idle for 1 s" in idle.process.stderr.read()  # type: ignore[union-attr]
    finally:
        stop(idle)


def test_a_socket_folder_others_may_enter_is_never_used(tmp_path: Path):
    folder = tempfile.mkdtemp(prefix="tc-")
    try:
        os.chmod(folder, 0o755)
        result = tenantc("server", "run", env={"TENANTC_SERVER": "", protocol.DIR_ENV: folder})
        assert result.returncode == 2 and "others may enter it" in result.stderr
        with pytest.raises(protocol.ServerDirError):
            protocol.private_dir(folder, create=False)
        link = folder + "-link"
        os.chmod(folder, 0o700)
        os.symlink(folder, link)
        with pytest.raises(protocol.ServerDirError, match="symlink"):
            protocol.private_dir(link, create=False)
        os.unlink(link)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_requests_from_another_interpreter_or_malformed_are_refused():
    good = {"argv": ["compile"], "cwd": "/", "umask": 0o22, "env": {"A": "b"}, "identity": protocol.identity()}
    assert check_request(good) == ""
    assert "interpreter" in check_request({**good, "identity": {**protocol.identity(), "executable": "/other"}})
    other_libraries = {**protocol.identity(), "path": ["/elsewhere", *sys.path[1:]]}
    assert "interpreter" in check_request({**good, "identity": other_libraries})
    assert "malformed" in check_request({**good, "argv": "compile"})
    assert "malformed" in check_request({**good, "env": {"A": 1}})
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer_uid(left) == os.getuid()  # the kernel's word, which the server checks


def test_a_command_after_the_server_warmed_is_the_cold_one(server: Running, tmp_path: Path):
    """After a command succeeds the server keeps its repository warm (compiler.warm; status
    says which); the next commands on it, after edits, give what cold ones give."""
    served_root, cold_root = copy_repo(tmp_path / "a"), copy_repo(tmp_path / "b")
    assert server.run("compile", "--root", served_root, *crd_flags()).returncode == 0
    assert server.run("compile", "--root", cold_root, *crd_flags(), served=False).returncode == 0
    deadline, pause = time.monotonic() + 60, 0.2
    while (status(server.socket) or {}).get("warmRepository") != str(served_root.resolve()):
        assert time.monotonic() < deadline, "the server did not warm the repository it served"
        time.sleep(pause)  # each status request interrupts warming: look seldom, then less often
        pause = min(2 * pause, 4.0)
    for root in (served_root, cold_root):
        spec = root / "tenants" / "vision.yaml"
        spec.write_text(spec.read_text().replace("cpu: \"", "cpu: \"1", 1))
    for args in (["compile"], ["check"]):
        served = server.run(*args, "--root", served_root, *crd_flags())
        cold = server.run(*args, "--root", cold_root, *crd_flags(), served=False)
        same_outcome(served, cold, served_root, cold_root)
        assert served.returncode == 0, served.stderr
    assert snapshot(served_root / "rendered") == snapshot(cold_root / "rendered")


def test_warming_gives_way_to_a_client_and_is_tried_again(socket_folder: str):
    """A client that connects while the server warms waits for no more than the timer's look
    (WARM_POLL): warming stops there, and runs again, to its end, when the server is idle. A
    module it imported before it stopped is watched from then on (else the server would take
    its own import for a change of its code and exit)."""
    path = os.path.join(socket_folder, "s.sock")
    module = Path(socket_folder) / "tc_warm_probe.py"
    module.write_text("LOADED = True\n")
    sys.path.insert(0, socket_folder)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    clients: list[socket.socket] = []

    def warm(request: dict) -> None:
        clients.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        if len(clients) == 1:
            __import__("tc_warm_probe")
            clients[0].connect(path)  # a client arrives while warming
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # busy: only the server's timer can stop it
                pass
            raise AssertionError("warming did not give way")

    server = Server(socket_folder, 60.0, main=lambda argv: 0, warm=warm)
    request = {"argv": ["compile"], "cwd": socket_folder}
    previous = signal.signal(signal.SIGALRM, server._look_for_clients)  # as serve() sets it
    try:
        server.succeeded = request
        start = time.monotonic()
        server._keep_warm(listener)
        assert time.monotonic() - start < 2 and server.succeeded == request  # gave way, to be tried again
        assert str(module) in server.files
        listener.accept()[0].close()
        server._keep_warm(listener)  # idle now: runs to its end
        assert len(clients) == 2 and server.succeeded is None
    finally:
        signal.signal(signal.SIGALRM, previous)
        sys.path.remove(socket_folder)
        sys.modules.pop("tc_warm_probe", None)
        for client in clients:
            client.close()
        listener.close()
