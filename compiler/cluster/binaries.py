"""Finding (and on first use building) etcd, kube-apiserver and kube-controller-manager.

The binaries are built from the official Go modules pinned in tools/controlplane/go.mod by
its build.sh, which owns the versioned cache folder; asking build.sh keeps that layout in
one place. TENANTC_CONTROLPLANE_BIN points at a folder of prebuilt binaries instead (CI
caches, machines without Go).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from compiler.cluster.errors import ClusterError

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")
ENV_BIN = "TENANTC_CONTROLPLANE_BIN"
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "controlplane" / "build.sh"
_NO_GO = 3  # build.sh's exit status when the Go toolchain is missing


class BinariesUnavailable(ClusterError):
    """No binaries and no way to build them (no Go): callers may skip instead of failing."""


def find_binaries(build: bool = True) -> Path:
    """The folder holding the three binaries; builds them with build.sh when missing and `build`."""
    override = os.environ.get(ENV_BIN)
    if override:
        folder = Path(override).expanduser()
        missing = [c for c in COMPONENTS if not os.access(folder / c, os.X_OK)]
        if missing:
            raise ClusterError(f"{ENV_BIN}={override} lacks executable {', '.join(missing)}")
        return folder
    if not BUILD_SCRIPT.exists():
        raise BinariesUnavailable(
            f"no control-plane binaries: set {ENV_BIN} to a folder with {', '.join(COMPONENTS)} "
            "(tools/controlplane/build.sh, which builds them, is only in a source checkout)")
    cached = subprocess.run(["bash", str(BUILD_SCRIPT), "--cached"], capture_output=True, text=True)
    if cached.returncode == 0:
        return Path(cached.stdout.strip())
    if not build:
        raise BinariesUnavailable(f"control-plane binaries are not built yet (run {BUILD_SCRIPT})")
    print("tenantc: building etcd, kube-apiserver and kube-controller-manager from source "
          "(several minutes, once per version) ...", file=sys.stderr, flush=True)
    built = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True)
    if built.returncode == _NO_GO:
        raise BinariesUnavailable(
            f"the Go toolchain is needed to build the control plane once; install Go or set {ENV_BIN}")
    if built.returncode != 0:
        raise ClusterError(f"{BUILD_SCRIPT} failed with exit status {built.returncode} (see its output above)")
    return Path(built.stdout.strip().splitlines()[-1])
