"""Fixtures of the live tests: clients of the session cluster with their own request counts,
and a cluster of the live tests' own for what would disturb the shared one."""
from __future__ import annotations

import pytest
from live_support import SHARED_CRDS, client_for


@pytest.fixture
def kube(control_plane):
    """`kube(**kwargs)` -> a new KubeClient of the session cluster (fresh request counts)."""
    made = []

    def make(**kwargs):
        client = client_for(control_plane, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="session")
def private_control_plane(tmp_path_factory, control_plane_binaries):
    """A control plane only the live tests that stop its API server again and again or change
    its flow control use (the session's shared one stays undisturbed for every other test).
    Only Volcano's CRDs (the Queues of tenant_objects): fewer CRDs, faster restarts."""
    from compiler.cluster import ControlPlane

    volcano = SHARED_CRDS / "volcano"
    plane = ControlPlane(tmp_path_factory.mktemp("live-private"), name="live-private",
                         binaries=control_plane_binaries, crd_dirs=[volcano] if volcano.is_dir() else [],
                         bind_to_parent=True)  # a killed pytest takes it along
    plane.up()
    yield plane
    plane.down()
