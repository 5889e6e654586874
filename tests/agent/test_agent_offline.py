"""The real `tenantc-agent` process when there is no API server to talk to.

A refused port and a port that accepts but never answers TLS are the two ways an API server
can be gone; in both the sidecar must keep running and must still leave within its shutdown
budget on SIGTERM with exit 0, and the short commands must end with a message, never a
traceback. (The live tests do the same with the real API server stopped.)
"""
from __future__ import annotations

import socket
import time

import pytest
from agent_helpers import AgentProcess, agent_env, run_agent, write_kubeconfig

SECRET = "do-not-print-this-token-3f9a"
POD_ENV = {"POD_NAME": "p-0", "POD_NAMESPACE": "tenant-a", "TENANTC_JOB": "j", "TENANTC_TASK": "t"}


@pytest.fixture
def refused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on return: connections are refused


@pytest.fixture
def silent_port():
    """Accepts TCP (kernel backlog) but never speaks: requests hang until their timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def _credentials(tmp_path, port):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}", insecure=True)
    token = tmp_path / "token"
    token.write_text(SECRET)
    return ["--kubeconfig", str(kubeconfig), "--token-file", str(token)]


def test_sidecar_survives_a_refused_api_and_exits_0_on_sigterm(tmp_path, refused_port):
    agent = AgentProcess("sidecar", "--interval", "0.2", "--max-backoff", "0.5", "--shutdown-timeout", "1",
                         "--status-file", str(tmp_path / "status.json"), *_credentials(tmp_path, refused_port),
                         env=agent_env(**POD_ENV))
    try:
        agent.wait_for("retrying with backoff", timeout=30)
        time.sleep(2)  # several backoff rounds
        assert agent.proc.poll() is None, agent.output
        code, elapsed = agent.terminate()
    finally:
        agent.kill()
    assert code == 0 and elapsed < 5, (code, elapsed, agent.output)
    assert "final status not written" in agent.output
    assert SECRET not in agent.output and "Traceback" not in agent.output


def test_sidecar_leaves_in_time_while_a_request_hangs(tmp_path, silent_port):
    agent = AgentProcess("sidecar", "--interval", "1", "--request-timeout", "60", "--shutdown-timeout", "2",
                         *_credentials(tmp_path, silent_port), env=agent_env(**POD_ENV))
    try:
        agent.wait_for("sidecar for pod tenant-a/p-0", timeout=30)
        time.sleep(1)  # the first request is now stuck in the TLS handshake
        code, elapsed = agent.terminate()
    finally:
        agent.kill()
    assert code == 0 and elapsed < 5, (code, elapsed, agent.output)


def test_sidecar_without_its_environment_says_what_is_missing(tmp_path, refused_port):
    result = run_agent("sidecar", *_credentials(tmp_path, refused_port), env=agent_env(POD_NAME="p"))
    assert result.returncode == 2
    assert "POD_NAMESPACE, TENANTC_JOB, TENANTC_TASK" in result.stderr and "Traceback" not in result.stderr


def test_wait_dataset_times_out_with_the_last_error_when_the_api_is_gone(tmp_path, refused_port):
    result = run_agent("wait-dataset", "ds", "-n", "tenant-a", "--min-cached-percent", "90", "--timeout", "1",
                       "--poll", "0.2", *_credentials(tmp_path, refused_port), env=agent_env())
    assert result.returncode == 1, result.stderr
    assert "tenant-a/ds (no answer yet)" in result.stderr and "last error" in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize("args, complaint", [
    (["wait-dataset", "ds", "-n", "a", "--min-cached-percent", "lots", "--timeout", "1"], "not a percentage"),
    (["wait-dataset", "ds", "-n", "a", "--min-cached-percent", "90", "--timeout", "1d"], "not a duration"),
    (["scale-runtime", "Deployment/x", "-n", "a", "--replicas", "1"], "unknown runtime kind"),
    (["scale-runtime", "jindoruntime/x", "-n", "a", "--replicas", "-1"], "0 or more"),
    (["sidecar", "--interval", "0"], "greater than 0"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, refused_port, args, complaint):
    result = run_agent(*args, *_credentials(tmp_path, refused_port), env=agent_env())
    assert result.returncode == 2 and complaint in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
