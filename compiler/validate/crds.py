"""Schemas of custom kinds (Volcano, Fluid, Argo CD) from CustomResourceDefinition files.

Each cluster's CRDs are in the repository, in the folder its platform file names (default
crds/<cluster>/, filled by `tenantc crds pull`); --crd-dir (searched recursively) gives one set
for every cluster instead. The API server prunes unknown fields of custom resources silently,
which would lose data without a word; offline we make the schemas strict instead (objects that
list properties and do not preserve unknown fields reject extra keys) so a typo is an error here.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from compiler.load import yaml_io
from compiler.validate.engine import CompiledSchema, compile_schema

PRESERVE = "x-kubernetes-preserve-unknown-fields"
# Bump when strict() changes: parsed CRDs are cached by content digest, and a cache made by
# an older strict() must not be read back.
STRICT_VERSION = "2"

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_OBJECT_LIST = {"type": "array", "items": {"type": "object"}}
# CRD schemas leave metadata open (`type: object` at most); the API server checks it as
# ObjectMeta. Offline we check it the same way, so a bad label on a custom kind is caught here.
OBJECT_META = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{name: {"type": "string"} for name in ("name", "namespace", "generateName", "uid", "resourceVersion",
                                                 "selfLink", "creationTimestamp", "deletionTimestamp")},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "generation": {"type": "integer"},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "ownerReferences": _OBJECT_LIST,
        "managedFields": _OBJECT_LIST,
    },
}


@dataclass
class CrdSet:
    """(apiVersion, kind) -> strict openAPIV3Schema, from every CRD found."""

    schemas: dict[tuple[str, str], dict] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    digest: str = ""
    _compiled: dict = field(default_factory=dict)

    def compiled(self, api_version: str, kind: str, engine: str | None = None) -> CompiledSchema | None:
        key = (api_version, kind, engine)
        if key not in self._compiled:
            schema = self.schemas.get((api_version, kind))
            self._compiled[key] = compile_schema(schema, engine) if schema is not None else None
        return self._compiled[key]

    def has_kind(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.schemas

    def for_cluster(self, cluster: str) -> CrdSet | None:
        """The same CRDs for every cluster (--crd-dir)."""
        return self


@dataclass
class ClusterCrds:
    """Each platform cluster's own CRDs (the folders its platform file names, `tenantc crds pull`
    fills them). Objects outside cluster folders (rendered/_argocd/) are checked against the
    first cluster, in platform order, whose CRDs define their kind."""

    clusters: dict[str, CrdSet | None]  # None: the cluster's folder does not exist
    digest: str
    _union: CrdSet | None = None

    def for_cluster(self, cluster: str) -> CrdSet | None:
        if cluster in self.clusters:
            return self.clusters[cluster]
        if self._union is None:
            self._union = CrdSet(digest=self.digest)
            for crds in filter(None, self.clusters.values()):
                for key, schema in crds.schemas.items():
                    self._union.schemas.setdefault(key, schema)
                    self._union.sources.setdefault(key, crds.sources[key])
        return self._union



Crds = CrdSet | ClusterCrds
"""What custom kinds are validated against: one set for every cluster, or each cluster's own."""


def cluster_crd_dirs(root: Path, folders: dict[str, str]) -> dict[str, Path]:
    """Platform cluster -> the folder holding its CRDs (`folders`: cluster -> path relative to `root`)."""
    return {cluster: Path(root) / folder for cluster, folder in folders.items()}


def cluster_crd_digest(dirs: dict[str, Path]) -> str:
    """The digest `load_cluster_crds` gives the same folders, without parsing anything."""
    hasher = hashlib.sha256(b"per-cluster\0")
    for cluster, folder in dirs.items():
        hasher.update(f"{cluster}={crd_digest([folder]) if folder.is_dir() else 'none'}\0".encode())
    return hasher.hexdigest()


def missing_folder_warnings(dirs: dict[str, Path], root: Path) -> list[str]:
    """One warning per cluster whose CRD folder does not exist, saying how to fill it."""
    return [f"cluster {cluster}: no CRD folder {folder.relative_to(root).as_posix()}/; run `tenantc crds pull "
            f"--cluster {cluster}` to copy the cluster's CRDs into the repository, or pass them with --crd-dir"
            for cluster, folder in dirs.items() if not folder.is_dir()]


def load_cluster_crds(dirs: dict[str, Path], cache_dir: Path | None = None,
                      kinds: set[str] | None = None) -> ClusterCrds:
    """Each cluster's CRDs from its own folder (a cluster whose folder does not exist has none)."""
    clusters = {cluster: load_crds([folder], cache_dir, kinds) if folder.is_dir() else None
                for cluster, folder in dirs.items()}
    return ClusterCrds(clusters, cluster_crd_digest(dirs))


def crd_files(dirs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        files.extend(sorted(p for p in Path(d).rglob("*") if p.suffix in (".yaml", ".yml", ".json")))
    return files


def crd_digest(dirs: list[Path]) -> str:
    """The digest `load_crds` gives the same folders, without parsing anything."""
    hasher = hashlib.sha256(STRICT_VERSION.encode())
    for path in crd_files(dirs):
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


_WORD_BYTE = re.compile(rb"\w")


def mentions(text: bytes, word: bytes) -> bool:
    r"""Whether `word` (a kind: letters and digits) occurs in `text` as a whole word, as
    rb"\bword\b" finds it. bytes.find skips through megabytes of CRDs several times faster than
    a regex of alternatives."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        word_before = start > 0 and _WORD_BYTE.match(text, start - 1)
        word_after = end < len(text) and _WORD_BYTE.match(text, end)
        if not word_before and not word_after:
            return True
        start = text.find(word, start + 1)
    return False


def load_crds(dirs: list[Path], cache_dir: Path | None = None, kinds: set[str] | None = None) -> CrdSet:
    """Read the CRDs under `dirs`. Parsed schemas are cached per file by content digest (YAML
    of the Fluid CRDs alone is megabytes; JSON reads back several times faster). With `kinds`
    (the kinds about to be validated), a file whose text never mentions one of those names is
    not parsed at all: a CRD of kind X always spells X, so nothing needed is skipped."""
    wanted = sorted(k.encode() for k in kinds) if kinds else []
    hasher = hashlib.sha256(STRICT_VERSION.encode())
    crds = CrdSet()
    for path in crd_files(dirs):
        raw = path.read_bytes()
        hasher.update(raw)
        if kinds is not None and not any(mentions(raw, name) for name in wanted):
            continue
        cached = cache_dir / f"crd-{hashlib.sha256(STRICT_VERSION.encode() + raw).hexdigest()[:32]}.json" \
            if cache_dir else None
        if cached and cached.is_file():
            entries = json.loads(cached.read_bytes())
        else:
            entries = _parse_crds(raw)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(entries))
                tmp.replace(cached)
        for entry in entries:
            key = (entry["apiVersion"], entry["kind"])
            crds.schemas[key], crds.sources[key] = entry["schema"], path.name
    crds.digest = hasher.hexdigest()
    return crds


def _parse_crds(raw: bytes) -> list[dict]:
    """apiVersion, kind and strict schema of every served version of the CRDs in one file."""
    entries = []
    for doc in crd_documents(raw):
        if doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc.get("spec", {})
        group, kind = spec.get("group"), spec.get("names", {}).get("kind")
        for version in spec.get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema and version.get("served", True):
                entries.append({"apiVersion": f"{group}/{version['name']}", "kind": kind, "schema": strict(schema)})
    return entries


def crd_documents(raw: bytes) -> list[dict]:
    import yaml

    from compiler.load.yaml_io import _Loader  # the libyaml loader when available

    return [d for d in yaml.load_all(raw, Loader=_Loader) if isinstance(d, dict)]


def strict(schema: dict) -> dict:
    """A copy of an OpenAPI v3 structural schema where listed properties are the only ones
    allowed, and the object's metadata is checked as ObjectMeta."""
    schema = copy.deepcopy(schema)
    _tighten(schema)
    if schema.get("type") == "object":
        schema.setdefault("properties", {})["metadata"] = copy.deepcopy(OBJECT_META)
    return schema


def _tighten(node: object) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and not node.get(PRESERVE) \
                and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _tighten(value)
    elif isinstance(node, list):
        for value in node:
            _tighten(value)


__all__ = ["ClusterCrds", "Crds", "CrdSet", "cluster_crd_dirs", "load_cluster_crds", "load_crds",
           "missing_folder_warnings", "strict", "yaml_io"]
