"""Helpers for the control-plane tests: an API client, throwaway namespaces, polling.

The session cluster is shared with other suites, so every test works in namespaces with a
random suffix and deletes them afterwards.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/credential_helpers.py, helpers.py
from helpers import eventually as poll  # noqa: E402


@pytest.fixture(scope="session")
def api(control_plane):
    """A `kubernetes` ApiClient for the session cluster, as the admin."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=control_plane.kubeconfig_path)
    yield client
    client.close()


@pytest.fixture
def eventually():
    """Poll for state that controllers converge to asynchronously (quota status, deletion)."""
    return poll


@pytest.fixture
def make_namespace(api):
    """`make_namespace("team-a")` -> "team-a-1f2e3d": created now, deleted after the test."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    created: list[str] = []

    def make(prefix: str, wait_for_default_sa: bool = False) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        core.create_namespace({"metadata": {"name": name}})
        created.append(name)
        if wait_for_default_sa:  # the ServiceAccount admission plugin rejects pods until it exists
            poll(lambda: core.list_namespaced_service_account(
                name, field_selector="metadata.name=default").items, what=f"{name}/default SA")
        return name

    yield make
    for name in created:
        try:
            core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
