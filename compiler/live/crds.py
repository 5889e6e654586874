"""Each cluster's CustomResourceDefinitions in the repository: `tenantc crds pull` copies them
from the live cluster, and `tenantc diff` warns when the copy and the cluster differ.

A pulled CRD is what the API server has, minus what changes without the schema changing
(status, managedFields, uid, resourceVersion, generation, timestamps, the last-applied
annotation), written with sorted keys to `<cluster folder>/<group>/<name>.yaml`. A cluster's
folder (the platform file's `crds`, default crds/<cluster>) is replaced as a whole, and only
when something in it changed; nothing outside the repository is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import UserError
from compiler.kinds import BUILTIN_GROUPS, KNOWN_KINDS
from compiler.kube.client import KubeClient
from compiler.kube.config import connect, read_kubeconfig, select_targets
from compiler.kube.errors import ApiError, ConfigError, KubeError
from compiler.live.desired import cluster_contexts, load_platform
from compiler.live.options import ClusterSelection
from compiler.load import yaml_io
from compiler.validate.crds import crd_documents, crd_files

CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
RENDERED_GROUPS = tuple(sorted({group for group, _ in KNOWN_KINDS if group not in BUILTIN_GROUPS}))
"""The API groups of the custom kinds tenantc renders: what `crds pull` copies without --all."""
NOISE_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_STAGING = ".tenantc-cache"  # beside the folders swapped in: the same filesystem, inside the repository


@dataclass
class PulledCluster:
    """What `crds pull` did for one cluster: its folder and the CRD files added, changed, removed."""

    cluster: str
    folder: str  # relative to the repository root
    files: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # names the API server gave that are no file name

    @property
    def written(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def clean_crd(crd: dict) -> dict:
    """The CRD as it is declared: apiVersion, kind, name, labels, annotations (minus kubectl's
    last-applied copy) and spec; status and the server's bookkeeping are dropped."""
    meta = crd.get("metadata") or {}
    metadata: dict = {"name": meta["name"]}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOISE_ANNOTATIONS}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": metadata, "spec": crd.get("spec") or {}}


def crd_file(crd: dict) -> str | None:
    """`<group>/<name>.yaml`, or None when the server's names could not be a safe file name."""
    name, group = (crd.get("metadata") or {}).get("name", ""), (crd.get("spec") or {}).get("group", "")
    if not (_DNS_SUBDOMAIN.fullmatch(name) and _DNS_SUBDOMAIN.fullmatch(group)) or len(name) > 253:
        return None
    return f"{group}/{name}.yaml"


def read_cluster_crds(client: KubeClient, groups: Iterable[str] | None) -> list[dict]:
    """The cluster's CRDs (of `groups`, or all when None), cleaned, sorted by name."""
    wanted = set(groups) if groups is not None else None
    crds = [clean_crd(c) for c in client.list(CRDS_PATH)
            if wanted is None or (c.get("spec") or {}).get("group") in wanted]
    return sorted(crds, key=lambda c: c["metadata"]["name"])


def pull(root: Path, selection: ClusterSelection, all_groups: bool = False) -> list[PulledCluster]:
    """Copy each selected cluster's CRDs into its folder of the repository at `root`."""
    root = Path(root)
    platform = load_platform(root)
    folders = {c.name: c.crd_folder() for c in platform.clusters}
    kubeconfig = read_kubeconfig(selection.kubeconfig)
    results = []
    for target in select_targets(cluster_contexts(platform), kubeconfig, selection.context, selection.clusters):
        folder = _inside(root, folders[target.cluster])
        try:
            client = connect(target, kubeconfig, retry_for=15.0)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
        try:
            crds = read_cluster_crds(client, None if all_groups else RENDERED_GROUPS)
        except KubeError as exc:
            raise UserError(f"cluster {target.cluster} (context {target.context}): reading its CRDs: {exc}") from None
        finally:
            client.close()
        results.append(write_folder(root, target.cluster, folder, crds))
    return results


def _inside(root: Path, folder: str) -> Path:
    """The folder under `root`, refused when a link would take it outside the repository."""
    path = root / folder
    if not path.resolve().is_relative_to(root.resolve()):
        raise UserError(f"CRD folder {folder}: resolves outside the repository ({path.resolve()}); "
                        "point the platform file's `crds` at a folder inside it")
    return path


def write_folder(root: Path, cluster: str, folder: Path, crds: list[dict]) -> PulledCluster:
    """Replace `folder` with one file per CRD, as a whole (staged, then swapped in by renames),
    and only when a file differs; an unchanged folder is not touched."""
    result = PulledCluster(cluster, folder.relative_to(root).as_posix())
    wanted: dict[str, bytes] = {}
    for crd in crds:
        name = crd_file(crd)
        if name is None:
            result.skipped.append(str(crd["metadata"].get("name")))
            continue
        wanted[name] = yaml_io.dump(crd).encode()
    old = {p.relative_to(folder).as_posix(): p.read_bytes() for p in crd_files([folder])} if folder.is_dir() else {}
    result.files = sorted(wanted)
    result.added = sorted(set(wanted) - set(old))
    result.changed = sorted(n for n in wanted if n in old and old[n] != wanted[n])
    result.removed = sorted(set(old) - set(wanted))
    if result.written or not folder.is_dir():
        _swap_in(root, folder, wanted)
    return result


def _swap_in(root: Path, folder: Path, files: dict[str, bytes]) -> None:
    staging = root / _STAGING / f"crds-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    new, old = staging / "new", staging / "old"
    for name, data in files.items():
        (new / name).parent.mkdir(parents=True, exist_ok=True)
        (new / name).write_bytes(data)
    new.mkdir(parents=True, exist_ok=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    shutil.rmtree(staging, ignore_errors=True)


# -- version skew: the repository's copy against the live cluster ---------------------------
def schema_digest(version: dict) -> str:
    """A short digest of one CRD version's openAPIV3Schema (key order does not count)."""
    schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:12]


def _versions(crd: dict) -> tuple[list[str], str]:
    versions = (crd.get("spec") or {}).get("versions") or []
    served = [v["name"] for v in versions if v.get("served", True)]
    storage = next((v["name"] for v in versions if v.get("storage")), "-")
    return served, storage


def compare_crd(repo: dict, live: dict | None, where: str) -> list[str]:
    """How the repository's copy of a CRD (`where` names its folder) differs from the live one."""
    name = repo["metadata"]["name"]
    if live is None:
        return [f"CRD {name}: in {where} but not installed on the cluster"]
    (served, storage), (live_served, live_storage) = _versions(repo), _versions(live)
    if (served, storage) != (live_served, live_storage):
        return [f"CRD {name}: {where} serves {', '.join(served) or 'nothing'} (storage {storage}), the cluster "
                f"serves {', '.join(live_served) or 'nothing'} (storage {live_storage})"]
    mine = {v["name"]: schema_digest(v) for v in (repo.get("spec") or {}).get("versions") or []}
    theirs = {v["name"]: schema_digest(v) for v in (live.get("spec") or {}).get("versions") or []}
    return [f"CRD {name} {version}: its schema in {where} differs from the cluster's (sha256 {mine[version]} "
            f"vs {theirs.get(version, '-')})" for version in served if mine.get(version) != theirs.get(version)]


def repository_crds(folders: Iterable[Path], kinds: set[tuple[str, str]]) -> list[dict]:
    """The CRD documents under `folders` that define one of `kinds` ((group, kind) pairs)."""
    names = {kind for _, kind in kinds}
    found: dict[str, dict] = {}
    for path in crd_files(list(folders)):
        raw = path.read_bytes()
        if not any(name.encode() in raw for name in names):  # as load_crds: a CRD of kind X spells X
            continue
        for doc in crd_documents(raw):
            if doc.get("kind") == "CustomResourceDefinition":
                spec = doc.get("spec") or {}
                if (spec.get("group"), (spec.get("names") or {}).get("kind")) in kinds:
                    found.setdefault(doc["metadata"]["name"], doc)
    return [found[n] for n in sorted(found)]


def crd_skew(client: KubeClient, cluster: str, folders: list[Path], where: str,
             kinds: set[tuple[str, str]]) -> list[str]:
    """Warnings, one per CRD of `kinds` whose copy under `folders` differs from the cluster's."""
    warnings: list[str] = []
    for crd in repository_crds(folders, kinds):
        try:
            live = client.get(f"{CRDS_PATH}/{crd['metadata']['name']}")
        except ApiError as exc:
            if exc.status == 403:
                return [f"cluster {cluster}: no right to read CRDs; version skew not checked"]
            if not exc.not_found:
                raise
            live = None
        warnings.extend(f"cluster {cluster}: {w}; run `tenantc crds pull --cluster {cluster}`"
                        for w in compare_crd(crd, live, where))
    return warnings
