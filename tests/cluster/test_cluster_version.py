"""The local control plane says which Kubernetes release it is, as an official build does.

A plain `go build` leaves `v0.0.0-master+$Format:%H$`, which kubectl cannot parse and which
makes version-gated clients misbehave; tools/controlplane/build.sh stamps the version go.mod
pins. The expectation is read from go.mod here, independently of the build script.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster
GO_MOD = Path(__file__).resolve().parents[2] / "tools" / "controlplane" / "go.mod"


def _pinned(module: str) -> str:
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)\s*$", GO_MOD.read_text(), re.MULTILINE)
    assert match, f"{module} not pinned in {GO_MOD}"
    return match[1]


def test_kubectl_version_shows_the_pinned_release(kubectl):
    pinned = _pinned("k8s.io/kubernetes")
    major, minor = re.match(r"v(\d+)\.(\d+)\.\d+$", pinned).groups()
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"] == pinned
    assert (server["major"], server["minor"]) == (major, minor)
    assert server["gitTreeState"] == "archive"  # built from the module zip, not a git checkout
    assert server["gitCommit"] and "$Format" not in server["gitCommit"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", server["buildDate"])
    assert server["buildDate"] != "1970-01-01T00:00:00Z"


def test_every_binary_reports_its_release(control_plane_binaries):
    """The other components (and etcd) carry the stamp too, not only the API server."""
    pinned = _pinned("k8s.io/kubernetes")
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        binary = control_plane_binaries / name
        if not binary.exists():  # kube-scheduler is only built for scheduling clusters
            continue
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
        assert out.strip() == f"Kubernetes {pinned}", name
    etcd = subprocess.run([control_plane_binaries / "etcd", "--version"], capture_output=True, text=True,
                          timeout=30).stdout
    assert f"etcd Version: {_pinned('go.etcd.io/etcd/server/v3').lstrip('v')}" in etcd
    assert "Not provided" not in etcd
