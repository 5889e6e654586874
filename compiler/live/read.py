"""Reading live state: one LIST per kind, selected by tenantc's managed-by label.

A LIST per kind costs the same whether a cluster has ten tenantc objects or ten thousand,
where a GET per object costs one round trip each. Desired objects that the LISTs did not
return (never applied, or someone removed the label) are looked up afterwards: one GET
each, or one unfiltered LIST of the kind when many of the same kind are missing, as after
adding a batch of tenants.
"""
from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from compiler import kinds
from compiler.identity import ObjectRef
from compiler.kinds import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from compiler.kube.client import KubeClient
from compiler.kube.discovery import Resource, ResourceMap
from compiler.kube.errors import ApiError

OWNED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
MANY_MISSING = 25  # above this many missing objects of one kind, one LIST beats the GETs


@dataclass
class LiveState:
    """What the LISTs (and the lookups after them) found on one cluster."""

    listed: list[dict] = field(default_factory=list)  # every object the labelled LISTs returned
    objects: dict[ObjectRef, dict] = field(default_factory=dict)  # by key: listed, plus desired ones found later
    unserved: list[str] = field(default_factory=list)  # desired kinds the cluster does not serve


def tenantc_kinds() -> list[tuple[str, str]]:
    """Every (group, kind) tenantc renders: prune must look at kinds rendered/ no longer has."""
    return sorted(kinds.KNOWN_KINDS)


def resources_to_read(desired: list[dict], resources: ResourceMap) -> tuple[list[Resource], list[str]]:
    """The collections to LIST: desired kinds at their versions, plus every other tenantc kind served."""
    chosen: dict[tuple[str, str], Resource] = {}
    unserved: set[str] = set()
    for obj in desired:
        resource = resources.for_object(obj)
        if resource is None:
            unserved.add(f"{obj['kind']} ({obj['apiVersion']})")
        else:
            chosen.setdefault((resource.group, resource.kind), resource)
    for group, kind in tenantc_kinds():
        if (group, kind) not in chosen:
            resource = resources.find(group, kind)
            if resource is not None:
                chosen[(group, kind)] = resource
    return sorted(chosen.values(), key=lambda r: (r.group, r.kind)), sorted(unserved)


def read_owned(client: KubeClient, collections: list[Resource], concurrency: int = 8) -> LiveState:
    """One labelled LIST per collection, run in parallel."""
    state = LiveState()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pages = list(pool.map(lambda r: _list(client, r, OWNED_SELECTOR), collections))
    for resource, items in zip(collections, pages, strict=True):
        for item in items:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            state.listed.append(item)
            state.objects[ObjectRef.of(item)] = item
    return state


def fetch_missing(client: KubeClient, resources: ResourceMap, missing: list[dict], state: LiveState,
                  concurrency: int = 8) -> None:
    """Look up desired objects the labelled LISTs did not return; found ones join `state.objects`."""
    by_resource: dict[Resource, list[dict]] = defaultdict(list)
    for obj in missing:
        resource = resources.for_object(obj)
        if resource is not None:
            by_resource[resource].append(obj)
    singles: list[tuple[Resource, dict]] = []
    for resource, objs in by_resource.items():
        if len(objs) > MANY_MISSING:
            wanted = {ObjectRef.of(o) for o in objs}
            for item in _list(client, resource, None):
                item.setdefault("apiVersion", resource.api_version)
                item.setdefault("kind", resource.kind)
                if ObjectRef.of(item) in wanted:
                    state.objects[ObjectRef.of(item)] = item
        else:
            singles.extend((resource, o) for o in objs)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for found in pool.map(lambda pair: _get(client, *pair), singles):
            if found is not None:
                state.objects[ObjectRef.of(found)] = found


def crd_schemas(client: KubeClient, collections: list[Resource], concurrency: int = 8) -> dict[Resource, dict]:
    """The cluster's own openAPIV3Schema of each custom kind (its defaults are the truth)."""
    custom = [r for r in collections if "." in r.group and not r.group.endswith(".k8s.io")]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        found = list(pool.map(lambda r: _crd_schema(client, r), custom))
    return {r: schema for r, schema in zip(custom, found, strict=True) if schema is not None}


def _crd_schema(client: KubeClient, resource: Resource) -> dict | None:
    try:
        crd = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{resource.plural}.{resource.group}")
    except ApiError as exc:
        if exc.not_found or exc.status == 403:  # an aggregated API, or no right to read CRDs: no defaults
            return None
        raise
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("name") == resource.version:
            return (version.get("schema") or {}).get("openAPIV3Schema")
    return None


def _list(client: KubeClient, resource: Resource, selector: str | None) -> list[dict]:
    return client.list(resource.path(), selector)


def _get(client: KubeClient, resource: Resource, obj: dict) -> dict | None:
    try:
        return client.get(resource.object_path(obj))
    except ApiError as exc:
        if exc.not_found:
            return None
        raise

