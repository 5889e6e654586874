"""Finding (and on first use building) the control-plane binaries and kwok.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are built from the official
Go modules pinned in tools/controlplane/go.mod by its build.sh, which owns the versioned
cache folder; kwok is built by tools/kwok/build.sh from its own module (its own dependency
versions) into a cache folder of its own. Asking the scripts keeps those layouts in one
place. TENANTC_CONTROLPLANE_BIN and TENANTC_KWOK_BIN point at folders of prebuilt binaries
instead (CI caches, machines without Go).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from compiler.cluster.errors import ClusterError

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")
SCHEDULING = ("kube-scheduler",)  # from the same module; only clusters started with scheduler=True
ENV_BIN = "TENANTC_CONTROLPLANE_BIN"
ENV_KWOK_BIN = "TENANTC_KWOK_BIN"
TOOLS = Path(__file__).resolve().parents[2] / "tools"
BUILD_SCRIPT = TOOLS / "controlplane" / "build.sh"
KWOK_BUILD_SCRIPT = TOOLS / "kwok" / "build.sh"
_NO_GO = 3  # build.sh's exit status when the Go toolchain is missing


class BinariesUnavailable(ClusterError):
    """No binaries and no way to build them (no Go): callers may skip instead of failing."""


def find_binaries(build: bool = True, components: tuple[str, ...] = COMPONENTS) -> Path:
    """The folder holding `components` (default: etcd, kube-apiserver, kube-controller-manager);
    builds the missing ones with build.sh when `build`."""
    return _find(ENV_BIN, BUILD_SCRIPT, components, build)


def find_kwok(build: bool = True) -> Path:
    """The folder holding the kwok binary; builds it with tools/kwok/build.sh when missing and `build`."""
    return _find(ENV_KWOK_BIN, KWOK_BUILD_SCRIPT, ("kwok",), build, args=())


def _find(env: str, script: Path, names: tuple[str, ...], build: bool,
          args: tuple[str, ...] | None = None) -> Path:
    args = names if args is None else args
    override = os.environ.get(env)
    if override:
        folder = Path(override).expanduser()
        missing = [c for c in names if not os.access(folder / c, os.X_OK)]
        if missing:
            raise ClusterError(f"{env}={override} lacks executable {', '.join(missing)}")
        return folder
    if not script.exists():
        raise BinariesUnavailable(
            f"no binaries: set {env} to a folder with {', '.join(names)} "
            f"(tools/{script.parent.name}/build.sh, which builds them, is only in a source checkout)")
    cached = subprocess.run(["bash", str(script), "--cached", *args], capture_output=True, text=True)
    if cached.returncode == 0:
        return Path(cached.stdout.strip())
    if not build:
        raise BinariesUnavailable(f"{', '.join(names)} not built yet (run {script})")
    print(f"tenantc: building {', '.join(names)} from source (several minutes, once per version) ...",
          file=sys.stderr, flush=True)
    built = subprocess.run(["bash", str(script), *args], stdout=subprocess.PIPE, text=True)
    if built.returncode == _NO_GO:
        raise BinariesUnavailable(
            f"the Go toolchain is needed to build {', '.join(names)} once; install Go or set {env}")
    if built.returncode != 0:
        raise ClusterError(f"{script} failed with exit status {built.returncode} (see its output above)")
    return Path(built.stdout.strip().splitlines()[-1])
