"""Fixtures of the live tests: clients of the session cluster with their own request counts."""
from __future__ import annotations

import pytest
from live_support import client_for


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
