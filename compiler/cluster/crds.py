"""Installing upstream CustomResourceDefinitions unchanged and waiting until they serve.

The CRDs' own structural schemas are what the real API server enforces on Volcano, Fluid
and Argo CD objects, so they are sent exactly as parsed from the files: a new CRD is
created (POST of JSON, the cheapest thing for a 2-core API server to decode), an existing
one is brought in line by a forced server-side apply. A CRD only serves its resources once
its `Established` condition is true, so `install` waits for that too.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from compiler.cluster.errors import ClusterError
from compiler.kube.client import APPLY_PATCH, JSON, KubeClient
from compiler.kube.errors import ApiError, KubeError
from compiler.kube.transport import Endpoint

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FIELD_MANAGER = "tenantc-cluster"
WORKERS = 4  # enough to overlap round trips; more only competes with the API server for CPU
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Crd:
    """One CustomResourceDefinition as read from its file, body ready to send."""

    name: str
    source: str
    body: bytes


def find_crds(folders: Sequence[str | Path]) -> list[Crd]:
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
            raise ClusterError(f"no CustomResourceDefinition found in {folder} (*.yaml, *.yml, recursive)")
    return sorted(crds.values(), key=lambda c: c.name)


def _documents(path: Path) -> list[dict]:
    try:
        with open(path, "rb") as fh:
            return [d for d in yaml.load_all(fh, Loader=_Loader) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise ClusterError(f"{path}: not valid YAML: {exc}") from None


def install(endpoint: Endpoint, crds: list[Crd], timeout: float = 60.0) -> list[str]:
    """Create or apply every CRD and wait until each is Established; returns their names.

    A watch opened before the first create reports the condition changes as they happen:
    polling GETs would make the API server re-encode the largest CRDs (Argo CD's are
    hundreds of kB) many times a second, while it is busy establishing them.
    """
    if not crds:
        return []
    progress = _Progress({c.name: c for c in crds})
    client = KubeClient.for_endpoint(endpoint, timeout=timeout)  # a keep-alive connection per worker thread
    try:
        start = client.get(CRDS, {"fieldSelector": "metadata.name=tenantc-watch-start"})
        events = client.watch(CRDS, {"resourceVersion": start["metadata"]["resourceVersion"],
                                     "timeoutSeconds": int(timeout)}, timeout=timeout + 10)
        threading.Thread(target=progress.follow, daemon=True, args=(events,)).start()
        try:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(crds))) as pool:
                # Largest first: their slow establishing overlaps the small ones' creation.
                # An unchanged CRD on a resumed cluster produces no watch event: its answer counts.
                for answer in pool.map(lambda crd: _put(client, crd), sorted(crds, key=lambda c: -len(c.body))):
                    progress.note(answer)
            progress.wait(timeout)
        finally:
            events.abort()
    finally:
        client.close()
    return [c.name for c in crds]


class _Progress:
    """Which CRDs are not Established yet, fed by the watch thread and by create/apply answers."""

    def __init__(self, pending: dict[str, Crd]):
        self.pending = dict(pending)
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._done = threading.Event()

    def note(self, crd: dict) -> None:
        name = crd.get("metadata", {}).get("name")
        conditions = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
        with self._lock:
            if name not in self.pending:
                return
            if conditions.get("Established", {}).get("status") == "True":
                del self.pending[name]
            elif conditions.get("NamesAccepted", {}).get("status") == "False":
                self.problems.append(f"CRD {name} from {self.pending[name].source} was not accepted: "
                                     f"{conditions['NamesAccepted'].get('message', '')}")
            if not self.pending or self.problems:
                self._done.set()

    def follow(self, events: Iterable[dict]) -> None:
        """Run in a thread: note every watched CRD until the stream ends or is aborted."""
        try:
            for event in events:
                if event.get("type") == "ERROR":
                    self.problems.append(f"watching CRDs failed: {event.get('object', {}).get('message')}")
                    break
                self.note(event.get("object", {}))
                if self._done.is_set():
                    return
        except (KubeError, ValueError) as exc:
            if not self._done.is_set():
                self.problems.append(f"watching CRDs failed: {exc}")
        self._done.set()

    def wait(self, timeout: float) -> None:
        self._done.wait(timeout)
        with self._lock:
            if self.problems:
                raise ClusterError("; ".join(self.problems))
            if self.pending:
                raise ClusterError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(self.pending))}")


def _put(client: KubeClient, crd: Crd) -> dict:
    """Create the CRD, or force-apply it when it exists; returns the server's answer."""
    try:
        return client.request("POST", CRDS, {"fieldManager": FIELD_MANAGER}, crd.body, JSON)
    except ApiError as exc:
        if not exc.conflict:  # 409 AlreadyExists: a resumed cluster; apply below
            raise ClusterError(f"installing CRD {crd.name} from {crd.source} failed: {exc}") from None
    try:
        return client.request("PATCH", f"{CRDS}/{crd.name}", {"fieldManager": FIELD_MANAGER, "force": "true"},
                              crd.body, APPLY_PATCH)
    except ApiError as exc:
        raise ClusterError(f"applying CRD {crd.name} from {crd.source} failed: {exc}") from None

