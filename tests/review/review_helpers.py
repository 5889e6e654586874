"""Plain helpers of the review tests: a real git repository holding a copy of the example
tenants/, edited and committed the way a pull request would be. Fixtures are in conftest.py."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"  # beside the checkout, found from the repo root
GOLDEN = Path(__file__).parent / "golden"

# Fixed identity and dates: commits are reproducible, so nothing depends on the clock.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.devnull,
}


class SpecRepo:
    """A git repository in a temporary folder: `tenants/` copied from the project, committed on main."""

    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def create(cls, root: Path, subdir: str = "") -> SpecRepo:
        """`subdir`: put tenants/ under a sub-folder (a monorepo); the repo's `.root` is then that folder."""
        top = root
        spec_root = top / subdir if subdir else top
        shutil.copytree(REPO / "tenants", spec_root / "tenants")
        shutil.copy(REPO / ".gitignore", top / ".gitignore")  # .tenantc-cache/ is ignored, as in the project
        repo = cls(spec_root)
        repo.git("init", "-q", "-b", "main")
        repo.commit("base")
        return repo

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True,
                              env={**os.environ, **GIT_ENV})
        assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def path(self, rel: str) -> Path:
        return self.root / rel

    def replace(self, rel: str, old: str, new: str) -> None:
        """Edit a spec; `old` must occur exactly once, so a changed example fails here loudly
        instead of silently testing nothing."""
        text = self.path(rel).read_text()
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.path(rel).write_text(text.replace(old, new))

    def append(self, rel: str, text: str) -> None:
        with self.path(rel).open("a") as handle:
            handle.write(text)

    def write(self, rel: str, text: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        self.path(rel).write_text(text)

    def state(self) -> dict:
        """Everything a review must leave alone: index bytes, HEAD, refs, status, diffs, files."""
        index = (self.root / self.git("rev-parse", "--git-dir").strip() / "index")
        files = {str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted(self.root.rglob("*")) if p.is_file() and ".git" not in p.parts
                 and ".tenantc-cache" not in p.parts}
        return {
            "index": hashlib.sha256(index.read_bytes()).hexdigest(),
            "index_mtime": index.stat().st_mtime_ns,
            "head": self.git("rev-parse", "HEAD"),
            "refs": self.git("show-ref"),
            "status": self.git("--no-optional-locks", "status", "--porcelain=v2", "--untracked-files=all"),
            "diff": self.git("--no-optional-locks", "diff"),
            "diff_cached": self.git("--no-optional-locks", "diff", "--cached"),
            "files": files,
        }


def changes_of(result, kind: str | None = None, tenant: str | None = None, change: str | None = None) -> list:
    return [c for c in result.changes if (kind is None or c.key.kind == kind)
            and (tenant is None or c.tenant == tenant) and (change is None or c.change == change)]


def risks_of(result, rule: str) -> list:
    return [r for r in result.risks if r.rule == rule]


def approvers(result) -> list[str]:
    return [a.who for a in result.approvals]


def make_mixed_change(repo: SpecRepo) -> None:
    """Quota lowered, a member made admin, an egress CIDR widened, a dataset shared, a tenant removed."""
    repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    repo.replace("tenants/vision.yaml", "{group: vision-eng, role: edit}", "{group: vision-eng, role: admin}")
    repo.replace("tenants/ads-ranking.yaml", "cidr: 10.60.8.0/24", "cidr: 10.60.0.0/16")
    repo.replace("tenants/ml-platform.yaml", "exportTo: [{tenant: recsys}, {tenant: ads-ranking}]",
                 "exportTo: [{tenant: recsys}, {tenant: ads-ranking}, {tenant: vision}]")
    repo.append("tenants/vision.yaml", "imports:\n  - {tenant: ml-platform, dataset: click-logs}\n")
    repo.path("tenants/sandbox-interns.jsonnet").unlink()
