"""Apply's adaptive requests in flight (issue 17) on the real API server: whatever the window
does, apply converges, and what tenantc owns on the cluster afterwards is exactly what was
rendered for it.

The controller itself (compiler/kube/window.py) is tested sample by sample in
tests/unit/test_kube_window.py; here the API server answers, and a transport that adds a
queue's delay (more requests in flight, slower answers, as a server short of CPU answers:
Little's law) makes latency rise with the window on purpose.
"""
from __future__ import annotations

import threading
import time

import pytest
from live_support import SHARED_CRDS, apply, change_set, fresh, target, write_repo

from compiler.identity import ObjectRef
from compiler.kinds import CLUSTER_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from compiler.kube.discovery import discover
from compiler.pipeline import compile_repo

pytestmark = pytest.mark.cluster

QUEUE_DELAY = 0.004  # seconds per request in flight


class QueueingTransport:
    """Forwards to the real transport after a delay proportional to the requests in flight."""

    def __init__(self, inner):
        self.inner, self.host = inner, inner.host
        self.in_flight = self.most = 0
        self._lock = threading.Lock()

    def send(self, method, target_, body, headers, timeout):
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            queued = self.in_flight
        try:
            if method == "PATCH":
                time.sleep(QUEUE_DELAY * queued)
            return self.inner.send(method, target_, body, headers, timeout)
        finally:
            with self._lock:
                self.in_flight -= 1

    def __getattr__(self, name):
        return getattr(self.inner, name)


def rendered(tmp_path, plane, stem: str, tenants: int) -> tuple[str, dict[str, dict]]:
    cluster = fresh(stem)
    names = [f"{cluster}-{i}" for i in range(tenants)]
    root = write_repo(tmp_path / stem, cluster, plane.name, names, f"{cluster}-q")
    objects = compile_repo(root, [SHARED_CRDS]).objects
    # the platform's member ClusterRoles have fixed names shared with other tests' repositories
    return cluster, {p: o for p, o in objects.items() if p.startswith(f"{cluster}/")
                     and not o["metadata"]["name"].startswith("tenantc-member-")}


def owned(client, cluster: str, desired: dict[str, dict]) -> set[ObjectRef]:
    """What the cluster holds with tenantc's labels for `cluster`, over every kind rendered."""
    resources = discover(client, list(desired.values()))
    selector = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{CLUSTER_LABEL}={cluster}"
    kinds = {resources.for_object(o) for o in desired.values()}
    found = set()
    for resource in kinds:
        assert resource is not None
        for item in client.list(resource.path(), selector):
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            found.add(ObjectRef.of(item))
    return found


def test_adaptive_apply_grows_from_its_start_converges_and_owns_exactly_the_rendered_set(control_plane, kube,
                                                                                         tmp_path):
    cluster, desired = rendered(tmp_path, control_plane, "adapt", 6)
    client = kube()
    sent: list[str] = []
    client.observer = lambda method, path: sent.append(path)
    report = apply(client, target(cluster, control_plane), desired, concurrency=2, max_concurrency=32)
    assert report.ok, [o.line() for o in report.applied if o.failed]
    assert client.counts.writes == len(desired) == len(report.applied)
    in_flight = report.requests["inFlight"]
    assert 2 <= in_flight["last"] <= in_flight["highest"] <= 32
    assert 0 < in_flight["mean"] <= in_flight["highest"]
    custom = {o["kind"] for o in desired.values() if "." in o["apiVersion"].split("/")[0]
              and not o["apiVersion"].split("/")[0].endswith(".k8s.io")}
    assert custom  # the repository has custom kinds (Volcano, Fluid), whose CRDs are large
    crd_reads = [p for p in sent if "/customresourcedefinitions/" in p]
    assert not crd_reads  # nothing live to compare with: no CRD schema read on a first apply
    assert owned(kube(), cluster, desired) == {ObjectRef.of(o) for o in desired.values()}
    again = kube()
    again.observer = lambda method, path: sent.append(path)
    assert apply(again, target(cluster, control_plane), desired).ok and again.counts.writes == 0
    assert [p for p in sent if "/customresourcedefinitions/" in p]  # live objects now: their schemas are read
    assert not change_set(kube(), target(cluster, control_plane), desired).differences


def test_when_latency_rises_with_the_window_apply_backs_off_and_still_converges(control_plane, kube, tmp_path):
    cluster, desired = rendered(tmp_path, control_plane, "slow", 8)
    client = kube()
    queueing = QueueingTransport(client.transport)
    client.transport = queueing
    report = apply(client, target(cluster, control_plane), desired, concurrency=2, max_concurrency=64)
    assert report.ok, [o.line() for o in report.applied if o.failed]
    state = client.throttle.state
    assert state.slowed_rounds >= 1  # the queue's latency was seen and answered
    assert queueing.most < 64 and report.requests["inFlight"]["highest"] < 64  # never ran to the ceiling
    assert owned(kube(), cluster, desired) == {ObjectRef.of(o) for o in desired.values()}
    assert not change_set(kube(), target(cluster, control_plane), desired).differences
