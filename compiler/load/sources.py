"""Find and read the spec files: tenants/platform.yaml and one file per tenant.

A tenant file is any `tenants/<name>.yaml|.yml|.jsonnet` other than platform.yaml; files in
sub-folders (Jsonnet libraries, for instance) are never tenants. The file stem is the tenant's
name. Reading never stops at the first bad file: every problem is collected.
"""
from __future__ import annotations

import hashlib
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


def read_sources(root: Path, problems: Problems, paths: list[str] | None = None) -> Sources:
    """Evaluate every spec file under `root` into plain data; problems are collected, not raised."""
    paths = discover(root) if paths is None else paths
    platform: Source | None = None
    tenants: list[Source] = []
    for rel in paths:
        source = _read_one(rel, root, problems)
        if source is None:
            continue
        if Path(rel).name == PLATFORM_FILE:
            platform = source
        else:
            tenants.append(source)
    if platform is None and not any(p.file.endswith(PLATFORM_FILE) for p in problems.items):
        problems.add("tenants/platform.yaml", "", "the platform file is missing",
                     "create it with the clusters, defaults and shared settings (see README)")
    if not tenants and not [p for p in problems.items if p.file != "tenants/platform.yaml"]:
        problems.add("tenants/", "", "no tenant files found",
                     "add tenants/<name>.yaml or tenants/<name>.jsonnet, one per tenant")
    return Sources(platform, tenants)


def _read_one(rel: str, root: Path, problems: Problems) -> Source | None:
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
            data = yaml_io.load(raw)
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
