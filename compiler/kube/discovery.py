"""Which kinds a cluster serves, and where: (group, kind) -> version, plural, scope.

Aggregated discovery (GA since Kubernetes 1.30) answers for every group in two requests,
`/api` and `/apis`; older servers get the classic walk, one request per group version.
A kind missing here (a CRD not installed) is reported by the callers as n/a, not a crash.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from compiler.kinds import group_of
from compiler.kube.client import KubeClient

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True)
class Resource:
    """One served collection: where a kind lives at one version, and its scope."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """Collection path (all namespaces when `namespace` is None) or object path."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        return f"{root}/{name}" if name else root

    def object_path(self, obj: dict) -> str:
        meta = obj["metadata"]
        return self.path(meta.get("namespace") if self.namespaced else None, meta["name"])


def kind_label(group: str, kind: str) -> str:
    """'Queue (scheduling.volcano.sh)', 'Namespace': a kind named in a sentence."""
    return f"{kind} ({group})" if group else kind


class ResourceMap:
    """Served kinds; versions of a kind are kept in the server's order of preference."""

    def __init__(self, resources: list[Resource]):
        self._by_kind: dict[tuple[str, str], list[Resource]] = {}
        for resource in resources:
            self._by_kind.setdefault((resource.group, resource.kind), []).append(resource)

    def find(self, group: str, kind: str, version: str | None = None) -> Resource | None:
        served = self._by_kind.get((group, kind), [])
        if version is not None:
            return next((r for r in served if r.version == version), None)
        return served[0] if served else None

    def for_object(self, obj: dict) -> Resource | None:
        api_version = obj["apiVersion"]
        return self.find(group_of(api_version), obj["kind"], api_version.rsplit("/", 1)[-1])

    def preferred(self) -> list[Resource]:
        """Every served kind once, at the server's preferred version."""
        return [versions[0] for versions in self._by_kind.values()]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kind.values())


def discover(client: KubeClient, wanted: list[dict] | None = None,
             waits: tuple[float, ...] = (1.0, 2.0, 4.0)) -> ResourceMap:
    """What the cluster serves. When kinds of `wanted` objects are missing, asks again after
    each of `waits` seconds: an API server that has just started lists custom kinds only a
    few seconds after it reports ready."""
    resources = _discover_once(client)
    for delay in waits if wanted else ():
        if all(resources.for_object(o) is not None for o in wanted or ()):
            break
        time.sleep(delay)
        resources = _discover_once(client)
    return resources


def _discover_once(client: KubeClient) -> ResourceMap:
    resources: list[Resource] = []
    for root in ("/api", "/apis"):
        doc = client.request("GET", root, accept=AGGREGATED)
        if doc.get("kind") == "APIGroupDiscoveryList":
            resources.extend(_from_aggregated(doc))
        else:
            resources.extend(_from_classic(client, root, doc))
    return ResourceMap(resources)


def _from_aggregated(doc: dict) -> list[Resource]:
    out = []
    for group in doc.get("items") or []:
        name = (group.get("metadata") or {}).get("name", "")
        for version in group.get("versions") or []:
            for res in version.get("resources") or []:
                kind = (res.get("responseKind") or {}).get("kind")
                if kind and "/" not in res["resource"]:
                    out.append(Resource(name, version["version"], kind, res["resource"],
                                        res.get("scope") == "Namespaced"))
    return out


def _from_classic(client: KubeClient, root: str, doc: dict) -> list[Resource]:
    if root == "/api":
        versions = [("", v) for v in doc.get("versions") or []]
    else:
        versions = [(g["name"], v["version"]) for g in doc.get("groups") or [] for v in g.get("versions") or []]
    out = []
    for group, version in versions:
        path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        listing = client.get(path)
        for res in listing.get("resources") or []:
            if "/" not in res["name"]:
                out.append(Resource(group, version, res["kind"], res["name"], bool(res.get("namespaced"))))
    return out
