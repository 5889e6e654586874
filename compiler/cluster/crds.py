"""Installing upstream CustomResourceDefinitions unchanged and waiting until they serve.

The CRDs' own structural schemas are what the real API server enforces on Volcano, Fluid
and Argo CD objects, so they are sent exactly as parsed from the files: a new CRD is
created (POST of JSON, the cheapest thing for a 2-core API server to decode), an existing
one is brought in line by a forced server-side apply. A CRD only serves its resources once
its `Established` condition is true, so `install` waits for that too.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from compiler.cluster import api
from compiler.cluster.errors import ClusterError

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FIELD_MANAGER = "tenantc-cluster"
WORKERS = 4  # enough to overlap round trips; more only competes with the API server for CPU
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Crd:
    name: str
    source: str
    body: bytes


def find_crds(folders: list[str | Path]) -> list[Crd]:
    """Every CustomResourceDefinition in *.yaml/*.yml below `folders` (recursive, sorted).

    Other documents (a kustomization.yaml, say) are skipped; a folder without any CRD is an
    error because it is almost certainly a wrong path.
    """
    crds: dict[str, Crd] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ClusterError(f"CRD folder {folder} does not exist")
        files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        found = 0
        for path in files:
            for doc in _documents(path):
                if doc.get("kind") == "CustomResourceDefinition":
                    name = doc.get("metadata", {}).get("name")
                    if not name:
                        raise ClusterError(f"{path}: CustomResourceDefinition without metadata.name")
                    crds[name] = Crd(name, str(path), json.dumps(doc, default=str).encode())
                    found += 1
        if not found:
            raise ClusterError(f"no CustomResourceDefinition found in {folder} (*.yaml, recursive)")
    return sorted(crds.values(), key=lambda c: c.name)


def _documents(path: Path) -> list[dict]:
    try:
        with open(path, "rb") as fh:
            return [d for d in yaml.load_all(fh, Loader=_Loader) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise ClusterError(f"{path}: not valid YAML: {exc}") from None


def install(endpoint: api.Endpoint, crds: list[Crd], timeout: float = 60.0) -> list[str]:
    """Create or apply every CRD and wait until each is Established; returns their names."""
    if not crds:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(crds))) as pool:
        clients = [api.Client(endpoint, timeout=timeout) for _ in range(min(WORKERS, len(crds)))]
        try:
            batches = [crds[i::len(clients)] for i in range(len(clients))]
            list(pool.map(_install_batch, clients, batches, [timeout] * len(clients)))
        finally:
            for client in clients:
                client.close()
    return [c.name for c in crds]


def _install_batch(client: api.Client, crds: list[Crd], timeout: float) -> None:
    for crd in crds:
        _put(client, crd)
    deadline = time.monotonic() + timeout
    for crd in crds:
        _wait_established(client, crd, deadline)


def _put(client: api.Client, crd: Crd) -> None:
    try:
        client.request("POST", f"{CRDS}?fieldManager={FIELD_MANAGER}", crd.body)
        return
    except api.ApiError as exc:
        if exc.status != 409:  # 409 AlreadyExists: a resumed cluster; apply below
            raise ClusterError(f"installing CRD {crd.name} from {crd.source} failed: {exc}") from None
    try:
        client.request("PATCH", f"{CRDS}/{crd.name}?fieldManager={FIELD_MANAGER}&force=true",
                       crd.body, content_type="application/apply-patch+yaml")
    except api.ApiError as exc:
        raise ClusterError(f"applying CRD {crd.name} from {crd.source} failed: {exc}") from None


def _wait_established(client: api.Client, crd: Crd, deadline: float) -> None:
    while True:
        status = client.get(f"{CRDS}/{crd.name}").get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        if conditions.get("Established", {}).get("status") == "True":
            return
        if conditions.get("NamesAccepted", {}).get("status") == "False":
            raise ClusterError(f"CRD {crd.name} from {crd.source} was not accepted: "
                               f"{conditions['NamesAccepted'].get('message', '')}")
        if time.monotonic() > deadline:
            raise ClusterError(f"CRD {crd.name} from {crd.source} was not Established in time: {status}")
        time.sleep(0.1)
