"""Shared helpers of the workloads and data tests.

* `examples`: the repository's own tenants/ compiled (no CRDs: fast, always available),
  wrapped in `Rendered` for lookups by path, kind and Volcano task.
* `crds` / `validated_examples`: the same with every object checked against the upstream
  CRDs in ../shared/crds (skipped locally when that folder is absent, a failure in CI).
* `temp_repo`: a copy of tenants/ and rendered/ in tmp_path to edit (`set`, `append`,
  `delete` by field path, or `edit` with a function) and compile; `expect_problem()` asserts
  the compile fails with a given problem and leaves rendered/ untouched.
"""
from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compiler.errors import CompileError, Problem
from compiler.load import yaml_io
from compiler.pipeline import (
    CACHE_DIR,
    RENDERED_DIR,
    CompileResult,
    compile_repo,
    write_rendered,
)
from compiler.plan import ResolvedJob
from compiler.validate.crds import CrdSet, load_crds

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/spec_edits.py
from spec_edits import apply_edit, edit_yaml  # noqa: E402

SHARED_CRDS = REPO.parent / "shared" / "crds"  # upstream CRDs beside the checkout


# -- compiled output ----------------------------------------------------------------------------

class Rendered:
    """A CompileResult with the lookups the tests need."""

    def __init__(self, result: CompileResult) -> None:
        self.result = result
        self.objects = result.objects
        self.platform = result.specs.platform

    def __getitem__(self, path: str) -> dict:
        assert path in self.objects, f"{path} not rendered; have e.g. {sorted(self.objects)[:5]}"
        return self.objects[path]

    def of_kind(self, kind: str, api_prefix: str = "") -> dict[str, dict]:
        """Objects of `kind` whose apiVersion starts with `api_prefix`, by path."""
        return {p: o for p, o in self.objects.items()
                if o["kind"] == kind and o["apiVersion"].startswith(api_prefix)}

    def volcano_path(self, key: tuple[str, str, str], job: ResolvedJob) -> str:
        """Where a resolved job of the plan is rendered."""
        tenant, kind, name = key
        base = f"{job.cluster}/{tenant}/"
        if kind in ("job", "schedule") and job.gated_by_flow:  # second flow of a JobFlow, after its data gate
            return base + f"jobtemplate.flow.volcano.sh-{name}.yaml"
        if kind == "job":
            return base + f"job.batch.volcano.sh-{name}.yaml"
        if kind == "schedule":
            return base + f"cronjob.batch.volcano.sh-{name}.yaml"
        if kind == "step":
            return base + f"jobtemplate.flow.volcano.sh-{name.replace('/', '-')}.yaml"
        return base + f"jobtemplate.flow.volcano.sh-tpl-{name.split('@')[0]}.yaml"

    def job_specs(self) -> Iterator[tuple[ResolvedJob, str, dict]]:
        """(resolved job, rendered path, Volcano JobSpec) for every job, schedule, pipeline
        step and published template."""
        for key, job in sorted(self.result.plan.workloads.resolved.items()):
            path = self.volcano_path(key, job)
            obj = self[path]
            spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
            yield job, path, spec

    def tasks(self) -> Iterator[tuple[ResolvedJob, str, dict]]:
        """(resolved job, rendered path, task) for every Volcano task."""
        for job, path, spec in self.job_specs():
            for task in spec["tasks"]:
                yield job, path, task

    def yaml_docs(self) -> list[dict]:
        """The serialized files read back: exactly what lands in rendered/."""
        return [yaml_io.load(content) for content in self.result.files.values()]

    # pod-spec helpers (methods, so test modules need no import of this conftest)

    @staticmethod
    def role_of(job: ResolvedJob, task_name: str):
        return next(r for r in job.roles if r.name == task_name)

    @staticmethod
    def container(pod_spec: dict, name: str) -> dict:
        found = [c for c in pod_spec["containers"] if c["name"] == name]
        assert found, f"no container {name} in {[c['name'] for c in pod_spec['containers']]}"
        return found[0]

    @staticmethod
    def affinity_terms(pod_spec: dict) -> list[dict[str, list[str]]]:
        """Required node affinity as [{label: values}] per term."""
        terms = (pod_spec.get("affinity", {}).get("nodeAffinity", {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms", []))
        out = []
        for term in terms:
            assert all(e["operator"] == "In" for e in term["matchExpressions"])
            out.append({e["key"]: e["values"] for e in term["matchExpressions"]})
        return out

    @staticmethod
    def toleration_keys(pod_spec: dict) -> set[tuple[str, str, str]]:
        return {(t["key"], t.get("value", ""), t["effect"]) for t in pod_spec.get("tolerations", [])}


# -- temporary repositories ---------------------------------------------------------------------

class TempRepo:
    """tenants/ copied into a temporary root, edited as parsed YAML; rendered/ is copied
    too before a compile that must fail, to show it stays untouched."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(REPO / "tenants", root / "tenants")

    def edit(self, file: str, change: Callable[[dict], Any]) -> TempRepo:
        """Apply `change` to the parsed tenants/<file> and write it back."""
        edit_yaml(self.root, file, change)
        return self

    def set(self, file: str, path: str, value: Any) -> TempRepo:
        apply_edit(self.root, ("set", file, path, value))
        return self

    def delete(self, file: str, path: str) -> TempRepo:
        apply_edit(self.root, ("delete", file, path))
        return self

    def append(self, file: str, path: str, value: Any) -> TempRepo:
        apply_edit(self.root, ("append", file, path, value))
        return self

    def compile(self) -> Rendered:
        return Rendered(compile_repo(self.root))

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the root except the specs and the compile cache."""
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*"))
                if p.is_file() and p.parts[len(self.root.parts)] not in ("tenants", CACHE_DIR)}

    def problems(self) -> list[Problem]:
        """Compile and write as `tenantc compile` does; it must fail and change nothing."""
        if not (self.root / RENDERED_DIR).exists():
            shutil.copytree(REPO / RENDERED_DIR, self.root / RENDERED_DIR)
        before = self.snapshot()
        assert before, "the temporary repository has no rendered/ to protect"
        with pytest.raises(CompileError) as failure:
            write_rendered(self.root, compile_repo(self.root))
        assert self.snapshot() == before, "a failed compile changed rendered/"
        return failure.value.problems

    def expect_problem(self, file: str, path: str, message: str) -> list[Problem]:
        """Compile (which must fail, leaving rendered/ alone) and find the problem at
        file:path whose message contains `message`; returns every problem."""
        problems = self.problems()
        assert any(p.file == file and p.path == path and message in p.message for p in problems), \
            f"no problem {file}: {path}: ...{message}...; got:\n" + "\n".join(map(str, problems))
        return problems


# -- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def examples() -> Rendered:
    """The repository's examples, compiled."""
    return Rendered(compile_repo(REPO))


@pytest.fixture(scope="session")
def crds() -> CrdSet:
    """The upstream Volcano, Fluid and Argo CD CRDs (read through the repo's compile cache)."""
    if not SHARED_CRDS.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must validate against the upstream CRDs, but {SHARED_CRDS} is missing", pytrace=False)
        pytest.skip(f"no upstream CRDs at {SHARED_CRDS}")
    return load_crds([SHARED_CRDS], REPO / CACHE_DIR)


@pytest.fixture(scope="session")
def validated_examples(crds: CrdSet) -> Rendered:
    """The examples compiled with every object validated against the upstream CRDs."""
    return Rendered(compile_repo(REPO, crds=crds))


@pytest.fixture
def temp_repo(tmp_path: Path) -> TempRepo:
    return TempRepo(tmp_path)
