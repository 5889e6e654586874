"""Clean install, from the outside: build the sdist and the wheel (the wheel from the sdist, as
`python -m build` does, so the sdist is proven complete) without a warning, list what they
hold, install the wheel with its dependencies into a fresh virtual environment from the index
pip is configured with, and use it as a new team would: `tenantc --version`, `tenantc init`,
`tenantc compile`, `tenantc check`.

Slow (a minute or two: most of it is pip downloading and unpacking the dependencies, about
250 MB with kubernetes-validate's schemas) and needs the package index; no cluster.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from compiler import __version__
from compiler.scaffold import FILES

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
# The project tree minus what is never packaged: version control, caches, build output, the
# compiled example output and local virtual environments (copied so the build writes nothing here).
IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", ".tenantc-cache", "__pycache__", "*.pyc", "build", "dist",
                                 "*.egg-info", ".pytest_cache", ".hypothesis", ".state", "rendered", ".mypy_cache",
                                 ".ruff_cache")
WARNING = re.compile(r"warning|deprecat", re.IGNORECASE)


def _env() -> dict[str, str]:
    """The environment of a user's shell: not this checkout's PYTHONPATH, and byte code allowed
    (with PYTHONDONTWRITEBYTECODE setuptools warns that it skips byte-compiling)."""
    drop = {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop} | {"PIP_ROOT_USER_ACTION": "ignore"}


def _run(argv: list, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, env=_env(),
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", path])
    return path / "bin"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The sdist and the wheel, built by `python -m build` (the wheel from the sdist) in a venv of
    their own, with build and the backend pyproject names from the index pip is configured with."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=IGNORED)
    builder = _venv(work / "builder")
    # The backend pyproject asks for, installed once here instead of into two isolated envs (sdist, wheel).
    backend = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    _run([builder / "pip", "install", "--quiet", "--no-compile", "build", *backend])
    start = time.perf_counter()
    proc = _run([builder / "python", "-m", "build", "--no-isolation", "--outdir", work / "dist", source])
    [sdist] = sorted((work / "dist").glob("*.tar.gz"))
    [wheel] = sorted((work / "dist").glob("*.whl"))
    return {"work": work, "sdist": sdist, "wheel": wheel, "log": proc.stdout + proc.stderr,
            "seconds": time.perf_counter() - start}


def test_build_prints_no_warning(built):
    warnings = [line for line in built["log"].splitlines() if WARNING.search(line)]
    assert not warnings, "\n".join(warnings)
    assert built["sdist"].name == f"tenantc-{__version__}.tar.gz"
    assert built["wheel"].name == f"tenantc-{__version__}-py3-none-any.whl"


def test_sdist_contents(built):
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        pkg_info = tar.extractfile(f"tenantc-{__version__}/PKG-INFO").read().decode()
    sources = {str(p.relative_to(REPO)) for p in (REPO / "compiler").rglob("*.py")}
    assert sources <= names, sorted(sources - names)
    assert {"pyproject.toml", "README.md", "MANIFEST.in", "schemas/tenant.schema.json", "schemas/platform.schema.json",
            "compiler/py.typed", ".pre-commit-hooks.yaml", "examples/ci/github-workflow.yaml",
            "docs/review.md"} <= names
    assert {f"compiler/scaffold/templates/{t}" for t in FILES} <= names
    assert not any(n.startswith(("tests/", "bench/", "tenants/", "rendered/", ".git/")) for n in names)
    assert "License-Expression: Apache-2.0" in pkg_info and "\nLicense:" not in pkg_info


def test_wheel_contents(built):
    with zipfile.ZipFile(built["wheel"]) as whl:
        names = set(whl.namelist())
        info = f"tenantc-{__version__}.dist-info"
        metadata = whl.read(f"{info}/METADATA").decode()
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    sources = {str(p.relative_to(REPO)) for p in (REPO / "compiler").rglob("*.py")}
    assert {n for n in names if n.endswith(".py")} == sources  # every module, nothing else
    data = {n for n in names if not n.endswith(".py") and not n.startswith(info)}
    assert data == {"compiler/py.typed", *(f"compiler/scaffold/templates/{t}" for t in FILES)}
    assert f"Version: {__version__}" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "tenantc = compiler.cli:console_main" in entry_points
    assert "tenantc-agent = compiler.agent.main:main" in entry_points


@pytest.fixture(scope="module")
def installed(built) -> dict:
    """A fresh venv with the wheel and its dependencies from the configured index."""
    bin_dir = _venv(built["work"] / "user-venv")
    start = time.perf_counter()
    proc = _run([bin_dir / "pip", "install", "--no-compile", built["wheel"]])  # byte code: on first import
    return {"bin": bin_dir, "log": proc.stdout + proc.stderr, "seconds": time.perf_counter() - start}


def test_install_prints_no_warning(installed):
    warnings = [line for line in installed["log"].splitlines() if WARNING.search(line)]
    assert not warnings, "\n".join(warnings)


def test_version_names_the_engines(installed):
    out = _run([installed["bin"] / "tenantc", "--version"]).stdout
    assert out.startswith(f"tenantc {__version__}\n")
    assert re.search(r"jsonnet engine: +rjsonnet \d", out) and re.search(r"json schema engine: +jsonschema-rs \d", out)
    assert re.search(r"kubernetes schemas: +kubernetes-validate [\d.]+: Kubernetes 1\.\d+-1\.\d+", out)
    agent = _run([installed["bin"] / "tenantc-agent", "--version"]).stdout
    assert agent.startswith(f"tenantc-agent {__version__}\n") and "http.client" in agent


def test_init_then_compile_from_the_installed_wheel(installed, built, tmp_path, record_property):
    tenantc = installed["bin"] / "tenantc"
    _run([tenantc, "init", tmp_path / "acme"])
    start = time.perf_counter()
    compiled = _run([tenantc, "compile"], cwd=tmp_path / "acme")
    first_compile = time.perf_counter() - start
    record_property("first_compile_seconds", round(first_compile, 2))
    print(f"\nbuild {built['seconds']:.1f}s, install {installed['seconds']:.1f}s, "
          f"first compile of the new repository {first_compile:.2f}s (wall, a new process): {compiled.stdout}")
    # the installed wheel renders what this checkout's library renders for the same repository
    from compiler.pipeline import compile_repo

    expected = len(compile_repo(tmp_path / "acme", serialize=False).objects)
    assert f"\n{expected} objects" in compiled.stdout and (tmp_path / "acme/rendered/main/example-team").is_dir()
    assert "rendered/ and schemas/ are up to date" in _run([tenantc, "check"], cwd=tmp_path / "acme").stdout
    # The installed tenantc generates the same schemas as the sdist carries (and the repository holds).
    with tarfile.open(built["sdist"]) as tar:
        for name in ("tenant.schema.json", "platform.schema.json"):
            shipped = tar.extractfile(f"tenantc-{__version__}/schemas/{name}").read()
            assert (tmp_path / "acme/schemas" / name).read_bytes() == shipped
