"""The real API server accepts everything the examples render, cluster by cluster.

The example platform has two clusters; each gets its own control plane (the session's two).
Namespaces are created for real first (a dry-run of a namespaced object needs its namespace),
then every object is sent as a server-side dry-run apply with field manager tenantc, in
apply-stage order: admission, the built-in schemas and the CRD schemas all have their say,
and nothing else is stored.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from compiler.kinds import FIELD_MANAGER, stage_of
from compiler.kube.config import Target, connect, read_kubeconfig
from compiler.kube.discovery import discover
from compiler.kube.errors import ApiError
from compiler.pipeline import compile_repo

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"


@pytest.fixture(scope="module")
def example_objects() -> dict[str, dict]:
    crds = [SHARED_CRDS] if SHARED_CRDS.is_dir() else []
    return compile_repo(REPO, crds).objects


@pytest.mark.parametrize("cluster, plane_fixture",
                         [("gpu-east", "control_plane"), ("cpu-west", "second_control_plane")])
def test_every_rendered_object_is_accepted_by_server_side_dry_run(cluster, plane_fixture, example_objects, request):
    plane = request.getfixturevalue(plane_fixture)
    objects = [o for p, o in sorted(example_objects.items()) if p.startswith(f"{cluster}/")]
    assert len(objects) > 50, "the examples render a full tenancy and workload layer per cluster"
    client = connect(Target(cluster, plane.name), read_kubeconfig(plane.kubeconfig_path))
    resources = discover(client, objects)
    rejected = []
    for obj in sorted(objects, key=lambda o: (stage_of(o), o["kind"], o["metadata"]["name"])):
        resource = resources.for_object(obj)
        assert resource is not None, f"{obj['kind']} ({obj['apiVersion']}) is not served by {plane.name}"
        dry_run = obj["kind"] != "Namespace"
        try:
            client.apply(resource.object_path(obj), obj, dry_run=dry_run, force=True)
        except ApiError as exc:
            rejected.append(f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}: "
                            f"{exc.status} {exc}")
    assert not rejected, "\n".join(rejected)
    # The namespaces were stored for real, owned by tenantc's field manager.
    stored = client.get(resources.find("", "Namespace").path(None, "vision" if cluster == "gpu-east" else "recsys"))
    managers = {m["manager"] for m in stored["metadata"].get("managedFields", [])}
    assert FIELD_MANAGER in managers
