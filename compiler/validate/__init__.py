"""Validate stage: every rendered object against its schema, offline, before anything is written.

Built-in kinds use the strict schemas of the cluster's Kubernetes version; custom kinds use
the cluster's own CRDs (its folder in the repository, see compiler.validate.crds), or those
given with --crd-dir for every cluster. A kind with no schema is reported as a warning, never passed
in silence.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compiler.errors import Problems
from compiler.identity import RenderedPath
from compiler.kinds import BUILTIN_GROUPS, SOURCE_ANNOTATION, group_of
from compiler.model.platform import Platform
from compiler.validate import builtin
from compiler.validate.crds import Crds


@dataclass
class ValidationReport:
    """How many objects were checked, and which had no schema to be checked against."""

    warnings: list[str] = field(default_factory=list)
    checked: int = 0
    unchecked: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (apiVersion, kind)


class Validator:
    """Checks objects against their schemas a batch at a time (a compile validates each unit as
    it is rendered), with the schema versions of the platform's clusters worked out once.
    `crds` may be replaced between batches (a compile loads CRDs as new kinds turn up)."""

    def __init__(self, platform: Platform, crds: Crds | None, engine: str | None = None) -> None:
        self.crds = crds
        self.engine = engine
        self.versions = {c.name: builtin.schema_version_for(c.kubernetes_version) for c in platform.clusters}

    def check(self, objects: Mapping[str, dict], problems: Problems, report: ValidationReport,
              cluster: str | None = None) -> None:
        """Adds each violation to `problems`, counts the objects checked in `report` and files
        those with no schema under `report.unchecked`. `cluster`: the one cluster folder all
        `objects` are in ("" outside cluster folders), when the caller knows it."""
        for path, obj in objects.items():
            # "" outside cluster folders: no built-in schemas
            folder_cluster = RenderedPath.parse(path).cluster if cluster is None else cluster
            api_version, kind = obj["apiVersion"], obj["kind"]
            if group_of(api_version) in BUILTIN_GROUPS:
                version = self.versions.get(folder_cluster)
                schema = builtin.schema_for(version, api_version, kind, self.engine) if version else None
            else:
                own = self.crds.for_cluster(folder_cluster) if self.crds is not None else None
                schema = own.compiled(api_version, kind, self.engine) if own is not None else None
            if schema is None:
                report.unchecked[path] = (api_version, kind)
                continue
            report.checked += 1
            for violation in schema.violations(obj):
                source = obj.get("metadata", {}).get("annotations", {}).get(SOURCE_ANNOTATION, "?")
                problems.add(source, f"rendered/{path}: {violation.path}", f"schema: {violation.message}",
                             "fix the spec field that produces this value")


def validate_objects(objects: Mapping[str, dict], platform: Platform, crds: Crds | None,
                     problems: Problems, engine: str | None = None) -> ValidationReport:
    report = ValidationReport()
    Validator(platform, crds, engine).check(objects, problems, report)
    report.warnings = unchecked_warnings(list(report.unchecked.values()))
    return report


def unchecked_warnings(unchecked: list[tuple[str, str]]) -> list[str]:
    """One warning per kind that had no schema, with how many objects went unchecked."""
    counts: dict[tuple[str, str], int] = {}
    for api_version, kind in unchecked:
        counts[(api_version, kind)] = counts.get((api_version, kind), 0) + 1
    warnings = []
    for (api_version, kind), count in sorted(counts.items()):
        if group_of(api_version) in BUILTIN_GROUPS:
            warnings.append(f"{count} {kind} ({api_version}) not validated: no schema for this "
                            "Kubernetes version in kubernetes-validate")
        else:
            warnings.append(f"{count} {kind} ({api_version}) not validated: no CRD for it; "
                            "run `tenantc crds pull` to copy each cluster's CRDs into the "
                            "repository, or pass them with --crd-dir")
    return warnings
