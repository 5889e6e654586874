"""`tenantc init DIR`: a new tenant-config repository that compiles at once, whose CI workflow
and pre-commit hooks run for real (minus GitHub), and that never overwrites silently.

The same from an installed wheel in a fresh virtual environment is tests/packaging/."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compiler.cli import main
from compiler.pipeline import compile_repo, write_rendered
from compiler.scaffold import FILES, init_repository, platform_name_for, repository_files

REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "T",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.devnull}
EXPECTED = sorted([*FILES.values(), "schemas/platform.schema.json", "schemas/tenant.schema.json"])


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_init_writes_a_repository_that_compiles_at_once(tmp_path, capsys):
    target = tmp_path / "acme-tenants"
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert _files(target) == EXPECTED
    assert all(f"wrote {target / rel}" in out for rel in EXPECTED) and "tenantc compile" in out
    result = compile_repo(target)
    write_rendered(target, result)
    assert {t.tenant.name for t in result.specs.tenants} == {"example-team"}
    assert result.specs.platform.name == "acme-tenants"  # the folder's name
    assert (target / "rendered/main/example-team/namespace-example-team.yaml").is_file()
    assert main(["check", "--root", str(target)]) == 0  # rendered/ and schemas/ are fresh


def test_a_new_repository_says_how_to_pull_its_clusters_crds(tmp_path):
    """Before `tenantc crds pull`, compile warns once per cluster with the command to run; the
    README and the platform file say the same; CI passes no --crd-dir (that would merge the
    clusters' folders into one set)."""
    init_repository(tmp_path / "r")
    result = compile_repo(tmp_path / "r")
    assert result.warnings[0].startswith(
        "cluster main: no CRD folder crds/main/; run `tenantc crds pull --cluster main`")
    readme = (tmp_path / "r/README.md").read_text()
    assert "tenantc crds pull" in readme and "crds/<cluster>/" in readme
    assert "tenantc crds pull --cluster main" in (tmp_path / "r/tenants/platform.yaml").read_text()
    for ci in (".github/workflows/tenantc.yaml", ".pre-commit-config.yaml"):
        assert "--crd-dir" not in (tmp_path / "r" / ci).read_text(), ci


def test_schemas_are_the_projects_and_specs_point_editors_at_them(tmp_path):
    init_repository(tmp_path / "r")
    for name in ("tenant.schema.json", "platform.schema.json"):
        assert (tmp_path / "r/schemas" / name).read_bytes() == (REPO / "schemas" / name).read_bytes()
    for spec, schema in (("tenants/platform.yaml", "platform"), ("tenants/example-team.yaml", "tenant")):
        first = (tmp_path / "r" / spec).read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../schemas/{schema}.schema.json"
        target = ((tmp_path / "r" / spec).parent / first.split("=", 1)[1]).resolve()
        assert json.loads(target.read_text())["$id"] == f"{schema}.schema.json"


def test_every_placeholder_is_filled_and_the_platform_file_is_commented(tmp_path):
    files = repository_files("acme")
    for rel, content in files.items():
        text = content.decode()
        assert not re.search(r"(?<!\$)\{\{", text), rel  # GitHub's ${{ ... }} stays, ours are all filled
    platform = files["tenants/platform.yaml"].decode()
    assert sum(line.lstrip().startswith("#") or " # " in line for line in platform.splitlines()) >= 15
    from compiler import __version__

    assert f"tenantc=={__version__}" in files[".github/workflows/tenantc.yaml"].decode()
    assert f"tenantc-agent:{__version__}" in platform


def test_a_folder_with_files_is_refused_without_force(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    argv = [sys.executable, "-m", "compiler.cli", "init", str(target)]
    refused = subprocess.run(argv, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "is not empty (notes.txt)" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _files(target) == ["notes.txt"]  # nothing written


def test_force_replaces_only_its_own_files_and_says_so(tmp_path, capsys):
    target = tmp_path / "r"
    init_repository(target)
    (target / "tenants/platform.yaml").write_text("edited")
    (target / "tenants/other-team.yaml").write_text("kept")
    assert main(["init", str(target), "--force", "--name", "acme-ml"]) == 0
    out = capsys.readouterr().out
    assert out.count("replaced ") == len(EXPECTED) and "wrote " not in out
    assert "name: acme-ml" in (target / "tenants/platform.yaml").read_text()
    assert (target / "tenants/other-team.yaml").read_text() == "kept"


def test_bad_targets_and_names_are_user_errors(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["init", str(tmp_path / "file")]) == 2
    assert main(["init", str(tmp_path / "new"), "--name", "Not_A_Label"]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and "must be a DNS label" in err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("folder,name", [("Acme Tenants", "acme-tenants"), ("team_config", "team-config"),
                                         ("___", "ml-platform"), ("x" * 80, "x" * 63)])
def test_platform_name_from_the_folder(tmp_path, folder, name):
    assert platform_name_for(tmp_path / folder) == name


# -- the CI workflow and the pre-commit hooks, run as GitHub and pre-commit would ------------

@pytest.fixture
def shim_bin(tmp_path) -> Path:
    """A `tenantc` on PATH that runs this checkout's CLI with this interpreter."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "tenantc"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m compiler.cli "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def pull_request(tmp_path, shim_bin) -> Path:
    """An initialised, compiled repository on main (also origin/main), and a branch that
    doubles the example team's cpu quota, compiled and committed, as a pull request."""
    root = tmp_path / "tenant-config"
    init_repository(root)
    env = {**os.environ, "PATH": f"{shim_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    subprocess.run(["tenantc", "compile"], cwd=root, env=env, check=True, capture_output=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "tenantc init")
    _git(root, "update-ref", "refs/remotes/origin/main", "main")
    _git(root, "checkout", "-q", "-b", "more-cpu")
    spec = root / "tenants/example-team.yaml"
    spec.write_text(spec.read_text().replace('cpu: "64"', 'cpu: "128"', 1))
    subprocess.run(["tenantc", "compile"], cwd=root, env=env, check=True, capture_output=True)
    _git(root, "commit", "-q", "-am", "more cpu")
    return root


def _workflow(root: Path) -> dict:
    return yaml.safe_load((root / ".github/workflows/tenantc.yaml").read_text())


def _run_step(root: Path, name: str, shim_bin: Path) -> subprocess.CompletedProcess:
    job = _workflow(root)["jobs"]["tenantc"]
    step = next(s for s in job["steps"] if s.get("name") == name)
    assert "${{" not in step["run"], "GitHub expressions go through env"
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "BASE_REF": "main",
           "PATH": f"{shim_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=root,
                          capture_output=True, text=True, env=env)


def test_workflow_check_and_review_steps_on_a_pull_request(pull_request, shim_bin):
    steps = _workflow(pull_request)["jobs"]["tenantc"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    check = _run_step(pull_request, "tenantc check", shim_bin)
    assert check.returncode == 0, check.stdout + check.stderr
    review = _run_step(pull_request, "tenantc review", shim_bin)
    assert review.returncode == 0, review.stderr
    comment = (pull_request / "review.md").read_text()
    assert comment.startswith("## tenantc review") and "### Capacity" in comment and "```mermaid" in comment
    assert "review.md" in (pull_request / ".gitignore").read_text()


def test_workflow_check_step_fails_on_stale_rendered_output(pull_request, shim_bin):
    spec = pull_request / "tenants/example-team.yaml"
    spec.write_text(spec.read_text().replace('cpu: "128"', 'cpu: "96"', 1))  # not compiled
    check = _run_step(pull_request, "tenantc check", shim_bin)
    assert check.returncode == 1 and "::error file=rendered/main/example-team/" in check.stdout


def test_pre_commit_hooks_run_check_and_review(pull_request, shim_bin):
    config = yaml.safe_load((pull_request / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert set(hooks) == {"tenantc-check", "tenantc-review"}
    assert hooks["tenantc-review"]["stages"] == ["pre-push"]
    env = {**os.environ, "PATH": f"{shim_bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    for hook in hooks.values():
        assert hook["language"] == "system" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "tenants/example-team.yaml")
        proc = subprocess.run(hook["entry"].split(), cwd=pull_request, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, (hook["id"], proc.stderr)
    review = subprocess.run(hooks["tenantc-review"]["entry"].split(), cwd=pull_request, capture_output=True,
                            text=True, env=env)
    assert "1 tenant" in review.stdout and "cpu" in review.stdout
