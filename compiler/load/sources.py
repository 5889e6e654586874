"""Find and read the spec files: tenants/platform.yaml and one file per tenant.

A tenant file is any `tenants/<name>.yaml|.yml|.jsonnet` other than platform.yaml; files in
sub-folders (Jsonnet libraries, for instance) are never tenants. The file stem is the tenant's
name. Reading never stops at the first bad file: every problem is collected.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.errors import Problems
from compiler.load import jsonnet_engine, yaml_io

PLATFORM_FILE = "platform.yaml"
TENANT_SUFFIXES = (".yaml", ".yml", ".jsonnet")


@dataclass(frozen=True)
class Source:
    """One spec file after evaluation: its repo-relative path, data and content digest."""

    path: str
    data: Any
    digest: str

    @property
    def stem(self) -> str:
        return Path(self.path).stem


@dataclass(frozen=True)
class Sources:
    """What one read of tenants/ found: the platform file and the tenant files, as plain data."""

    platform: Source | None
    tenants: list[Source]


def discover(root: Path, tenants_dir: str = "tenants") -> list[str]:
    """Repo-relative paths of the platform file and tenant files, sorted."""
    folder = root / tenants_dir
    if not folder.is_dir():
        return []
    return sorted(
        f"{tenants_dir}/{p.name}" for p in folder.iterdir() if p.is_file() and p.suffix in TENANT_SUFFIXES
    )


class ParsedYamlCache:
    """Parsed YAML by file digest, kept as one JSON file in the cache folder.

    PyYAML builds Python objects in pure Python (~0.5 ms for a tenant file); JSON reads back
    many times faster, which matters when one tenant of a thousand changed. Only data that
    JSON gives back exactly is kept (string keys, str/int/float/bool/None): a YAML date or an
    integer key is parsed again each time. JSON, never pickle: the cache folder sits in the
    repository, and reading it must not run code.
    """

    def __init__(self, folder: Path | None):
        self.path = folder / "parsed-yaml.json" if folder else None
        self.version = f"{yaml_io.yaml.__version__}/{yaml_io.ENGINE}"
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                stored = json.loads(self.path.read_bytes())
                if stored.get("version") == self.version:
                    self.entries = stored["entries"]
            except (ValueError, KeyError, AttributeError, OSError):
                self.entries = {}

    def load(self, raw: bytes, digest: str) -> Any:
        """The parsed data of `raw` (raises yaml_io.YAMLError like yaml_io.load)."""
        self.used.add(digest)
        if digest in self.entries:
            return self.entries[digest]
        data = yaml_io.load(raw)
        if _json_exact(data):
            self.entries[digest] = data
            self.dirty = True
        return data

    def save(self) -> None:
        """Keep the entries of the files read this time; write only when something changed."""
        if not self.path or not (self.dirty or set(self.entries) - self.used):
            return
        entries = {d: v for d, v in self.entries.items() if d in self.used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": self.version, "entries": entries}))
            tmp.replace(self.path)
        except OSError:  # a cache that cannot be written is only slower
            pass


def _json_exact(data: Any) -> bool:
    """True when JSON round-trips `data` to equal data of the same types."""
    if isinstance(data, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in data.items())
    if isinstance(data, list):
        return all(_json_exact(v) for v in data)
    if isinstance(data, float):
        return math.isfinite(data)
    return data is None or isinstance(data, (str, int))


def read_sources(root: Path, problems: Problems, paths: list[str] | None = None,
                 cache_dir: Path | None = None) -> Sources:
    """Evaluate every spec file under `root` into plain data; problems are collected, not raised.
    With `cache_dir`, parsed YAML is cached there by content digest."""
    paths = discover(root) if paths is None else paths
    platform: Source | None = None
    tenants: list[Source] = []
    cache = ParsedYamlCache(cache_dir)
    for rel in paths:
        source = _read_one(rel, root, problems, cache)
        if source is None:
            continue
        if Path(rel).name == PLATFORM_FILE:
            platform = source
        else:
            tenants.append(source)
    cache.save()
    if platform is None and not any(p.file.endswith(PLATFORM_FILE) for p in problems.items):
        problems.add("tenants/platform.yaml", "", "the platform file is missing",
                     "create it with the clusters, defaults and shared settings (see README)")
    if not tenants and not [p for p in problems.items if p.file != "tenants/platform.yaml"]:
        problems.add("tenants/", "", "no tenant files found",
                     "add tenants/<name>.yaml or tenants/<name>.jsonnet, one per tenant")
    return Sources(platform, tenants)


def _read_one(rel: str, root: Path, problems: Problems, cache: ParsedYamlCache) -> Source | None:
    try:
        raw = (root / rel).read_bytes()
    except OSError as exc:
        problems.add(rel, "", f"cannot read: {exc.strerror or exc}")
        return None
    digest = hashlib.sha256(raw).hexdigest()
    if rel.endswith(".jsonnet"):
        try:
            data = jsonnet_engine.evaluate_file(root / rel, root)
        except jsonnet_engine.JsonnetError as exc:
            problems.add(rel, "", f"Jsonnet error: {exc}", "fix the Jsonnet; imports must stay inside the repository")
            return None
    else:
        try:
            data = cache.load(raw, digest)
        except yaml_io.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problems.add(rel, "", f"YAML syntax error: {where}{getattr(exc, 'problem', None) or exc}",
                         "fix the YAML syntax")
            return None
    if not isinstance(data, dict):
        problems.add(rel, "", f"expected a mapping at the top level, got {type(data).__name__}",
                     "a spec file holds one object with fields such as name, owner, quota")
        return None
    return Source(rel, data, digest)
