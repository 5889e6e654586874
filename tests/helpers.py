"""Plain helpers of the foundation tests (tests/unit, tests/golden): repository copies, the
real CLI as a subprocess, byte snapshots of a folder. Fixtures live in the conftest files."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from spec_edits import replace_once

__all__ = ["replace_once"]  # the one spec editor, shared with the workload tests

REPO = Path(__file__).resolve().parents[1]
# Upstream CRDs beside the checkout (found from the repo root, never an absolute path).
CRD_DIR = REPO.parent / "shared" / "crds"

# One problem line as the CLI prints it: 'error: <file>: [<field path>: ]<message>'.
PROBLEM_LINE = re.compile(r"^error: (?P<file>tenants/\S*): (?P<rest>.+)$")


def compile_bench():
    """bench/compile_bench.py as a module: the benchmarks' synthetic tenants (`make_repo`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compile_bench", REPO / "bench" / "compile_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crd_dirs() -> list[Path]:
    return [CRD_DIR] if CRD_DIR.is_dir() else []


def copy_repo(dst: Path, with_rendered: bool = False) -> Path:
    """A copy of the example repository (tenants/, schemas/, optionally rendered/) under `dst`."""
    dst.mkdir(parents=True, exist_ok=True)
    folders = ["tenants", "schemas"] + (["rendered"] if with_rendered else [])
    for name in folders:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dst / name)
    return dst


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes); empty when the folder is missing."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tenantc(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI (`python -m compiler.cli`) of this checkout in a fresh process."""
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    environment.pop("TENANTC_DEBUG", None)  # user errors must not show a traceback
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or REPO, env=environment, timeout=300)


def crd_flags() -> list[str]:
    return [flag for d in crd_dirs() for flag in ("--crd-dir", str(d))]


def compile_cli(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return tenantc("compile", "--root", root, *crd_flags(), *extra)


def check_cli(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return tenantc("check", "--root", root, *crd_flags(), *extra)


def compile_example(workdir: Path, crds=None):
    """The example repository compiled in memory from a copy under `workdir` (so no cache is
    written into the checkout), validated against `crds` or else the upstream CRDs if there."""
    from compiler.pipeline import compile_repo
    from compiler.validate.crds import load_crds

    root = copy_repo(workdir / "repo")
    if crds is None and crd_dirs():
        crds = load_crds(crd_dirs(), workdir / "crd-cache")
    return compile_repo(root, crds=crds)


def eventually(check, timeout: float = 60.0, interval: float = 0.25, what: str = "condition"):
    """Retry `check` until it returns a truthy value (returned) or raises no AssertionError:
    for state that controllers and informers converge to asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            problem = f"{what} still false"
        except AssertionError as exc:
            problem = str(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout:.0f}s: {problem}")
        time.sleep(interval)


class NotebookIntent:
    """A notebook as its spec means it, by the README's rules (never by tenantc's plan): what it
    leaves out comes from the tenant's `notebookDefaults`, then small / the first cluster / no
    Ingress; it is named `nb-<user>` or `nb-<user>-<name>` (the user as a DNS label)."""

    def __init__(self, tenant, nb):
        from compiler.model.common import user_handle

        defaults = tenant.notebook_defaults
        self.user = nb.user
        self.key = f"{user_handle(nb.user)}-{nb.name}" if nb.name else user_handle(nb.user)
        self.name = f"nb-{self.key}"
        self.cluster = nb.cluster or defaults.cluster or next(iter(tenant.placement))
        self.image = nb.image or defaults.image
        self.size = nb.size or defaults.size or "small"
        self.ingress = nb.ingress if nb.ingress is not None else bool(defaults.ingress)
        self.running = nb.running
        self.datasets = nb.datasets


def notebook_intents(tenant) -> list[NotebookIntent]:
    return [NotebookIntent(tenant, nb) for nb in tenant.notebooks]


def write_specs(root: Path, platform: dict, tenants: list[dict]) -> Path:
    """A repository's tenants/ from data: the platform file and one file per tenant spec."""
    import yaml

    folder = root / "tenants"
    folder.mkdir(parents=True)
    (folder / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    for spec in tenants:
        (folder / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root
