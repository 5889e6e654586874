"""compiler.kube against the real API server: both transports answer alike, watches stream and
abort, and errors come back as the one hierarchy."""
from __future__ import annotations

import threading

import pytest
from live_support import client_for, unique

from compiler.cluster.components import apiserver_endpoint
from compiler.kube.client import KubeClient
from compiler.kube.errors import ApiError

pytestmark = pytest.mark.cluster


@pytest.fixture
def endpoint_client(control_plane):
    """The stdlib transport, as `tenantc cluster up` uses it (admin client certificate)."""
    port = int(control_plane.server.rsplit(":", 1)[1])
    client = KubeClient.for_endpoint(apiserver_endpoint(control_plane.pki, port))
    yield client
    client.close()


def test_both_transports_read_the_same_and_raise_the_same(control_plane, endpoint_client):
    pooled = client_for(control_plane)
    try:
        assert pooled.get_text("/readyz").strip() == endpoint_client.get_text("/readyz").strip() == "ok"
        names = {n["metadata"]["name"] for n in pooled.list("/api/v1/namespaces")}
        assert names == {n["metadata"]["name"] for n in endpoint_client.list("/api/v1/namespaces")}
        assert "kube-system" in names
        for client in (pooled, endpoint_client):
            with pytest.raises(ApiError) as raised:
                client.get(f"/api/v1/namespaces/{unique('nowhere')}/configmaps/x")
            assert raised.value.not_found and raised.value.reason == "NotFound"
    finally:
        pooled.close()


@pytest.mark.parametrize("transport", ["pool", "https"])
def test_watch_streams_events_and_abort_ends_it(control_plane, endpoint_client, transport):
    client = client_for(control_plane) if transport == "pool" else endpoint_client
    name = unique(f"watch-{transport}")
    start = client.get("/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
    events = client.watch("/api/v1/namespaces/default/configmaps", {"resourceVersion": start, "timeoutSeconds": 60})
    seen: list[dict] = []
    got = threading.Event()

    def follow():
        for event in events:
            seen.append(event)
            if event["object"]["metadata"]["name"] == name:
                got.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    client.request("POST", "/api/v1/namespaces/default/configmaps", None,
                   f'{{"metadata": {{"name": "{name}"}}}}'.encode(), "application/json")
    try:
        assert got.wait(30), seen
        assert any(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == name for e in seen)
        events.abort()
        reader.join(10)
        assert not reader.is_alive()  # the blocked read was woken, long before timeoutSeconds
    finally:
        client.delete(f"/api/v1/namespaces/default/configmaps/{name}")
        if transport == "pool":
            client.close()
