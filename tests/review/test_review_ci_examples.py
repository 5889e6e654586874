"""The CI examples run for real, minus GitHub: every `run:` step of the example workflow that
calls tenantc runs here as GitHub would run it (bash -eo pipefail, the job's env), on a real
git repository with a pull request branch; and the pre-commit hook's entry runs the same way.
What needs GitHub itself (actions, the token, posting the comment) is listed and left out."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from review_helpers import REPO, SHARED_CRDS

WORKFLOW = REPO / "examples" / "ci" / "github-workflow.yaml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent  # the venv holding the `tenantc` script


@pytest.fixture
def crd_dir(tmp_path) -> Path:
    if SHARED_CRDS.is_dir():
        return SHARED_CRDS
    empty = tmp_path / "no-crds"
    empty.mkdir()
    return empty


@pytest.fixture
def ci_repo(spec_repo, crd_dir):
    """A tenant-config repository as CI sees it: rendered/ and schemas/ committed on main, and
    origin/main pointing at it, as `actions/checkout` with fetch-depth 0 leaves it."""
    tenantc(spec_repo.root, "compile", "--crd-dir", str(crd_dir))
    tenantc(spec_repo.root, "schema")
    spec_repo.commit("rendered")
    spec_repo.git("update-ref", "refs/remotes/origin/main", "main")
    spec_repo.git("checkout", "-q", "-b", "pull-request")
    return spec_repo


def tenantc(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "tenantc"), *args, "--root", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def job_env(crd_dir: Path) -> dict[str, str]:
    env = {k: str(v) for k, v in workflow()["jobs"]["tenantc"]["env"].items()}
    env.update(BASE_REF="main", CRD_DIR=str(crd_dir))  # what GitHub and the repository would provide
    return env


def run_step(name: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    step = next(s for s in workflow()["jobs"]["tenantc"]["steps"] if s.get("name") == name)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=root,
                          capture_output=True, text=True,
                          env={**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})


def test_workflow_shape():
    steps = workflow()["jobs"]["tenantc"]["steps"]
    runs = {s["name"]: s["run"] for s in steps if "run" in s}
    local = sorted(name for name, script in runs.items() if "tenantc " in script)
    assert local == ["tenantc check", "tenantc review"]
    # Left to GitHub: actions, installing the published package, and posting with the token.
    github_only = sorted(s.get("name", s.get("uses")) for s in steps if s.get("name") not in local)
    assert github_only == ["Install tenantc", "Post the review as a pull request comment", "actions/cache@v4",
                           "actions/checkout@v4", "actions/setup-python@v5"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the base branch must be in the clone
    env_names = set(workflow()["jobs"]["tenantc"]["env"])
    for name in local:
        assert "${{" not in runs[name], f"{name}: pass GitHub expressions through env"
        assert set(re.findall(r"\$([A-Z_]+)", runs[name])) <= env_names | {"status"}, name


def test_check_and_review_steps_on_a_pull_request(ci_repo, crd_dir):
    ci_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    tenantc(ci_repo.root, "compile", "--crd-dir", str(crd_dir))
    ci_repo.commit("lower vision's cpu")
    env = job_env(crd_dir)
    check = run_step("tenantc check", ci_repo.root, env)
    assert check.returncode == 0, check.stdout + check.stderr
    review = run_step("tenantc review", ci_repo.root, env)
    assert review.returncode == 0, review.stderr
    comment = (ci_repo.root / "review.md").read_text()
    assert comment.startswith("## tenantc review") and "`quota-lowered`" in comment and "<details>" in comment
    assert "::warning file=tenants/vision.yaml,title=quota-lowered (gpu-east/vision)::" in review.stdout


def test_check_step_fails_on_stale_rendered_output(ci_repo, crd_dir):
    ci_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')  # rendered/ not recompiled
    ci_repo.commit("forgot to compile")
    check = run_step("tenantc check", ci_repo.root, job_env(crd_dir))
    assert check.returncode == 1
    assert "::error file=rendered/gpu-east/vision/resourcequota-tenant-quota.yaml" in check.stdout


def test_review_step_fails_but_still_leaves_a_comment_when_the_head_does_not_compile(ci_repo, crd_dir):
    ci_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    ci_repo.commit("broken")
    review = run_step("tenantc review", ci_repo.root, job_env(crd_dir))
    assert review.returncode == 2
    assert "does not compile" in (ci_repo.root / "review.md").read_text()
    assert "::error file=tenants/vision.yaml,title=head (working tree) does not compile%3A quota.cpu::" in review.stdout


def test_pre_commit_hook_entry(ci_repo, crd_dir):
    [hook] = yaml.safe_load(HOOKS.read_text())
    assert hook["id"] == "tenantc-check" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("tenants/vision.yaml") and files.search("rendered/gpu-east/vision/x.yaml")
    assert not files.search("README.md")
    argv = [str(BIN / hook["entry"].split()[0]), *hook["entry"].split()[1:], "--crd-dir", str(crd_dir)]
    assert subprocess.run(argv, cwd=ci_repo.root, capture_output=True).returncode == 0
    ci_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    stale = subprocess.run(argv, cwd=ci_repo.root, capture_output=True, text=True)
    assert stale.returncode == 1 and "stale" in stale.stdout
