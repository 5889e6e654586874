"""A revision of the spec tree (a git commit, or the working tree) and how to compile it.

A commit is read with git plumbing only (`rev-parse`, `ls-tree`, `cat-file --batch`) into a
temporary folder, so the checkout, the index and the refs are never touched: a review runs in
a dirty tree, beside an editor or another git command. Blobs are copied byte for byte (no
.gitattributes filters), which is what the commit holds. Only the spec folder is read:
Jsonnet libraries live under it (tenants/lib/), as `compile` expects.

Every revision has a key, the digest of its spec files' git blob ids, computed the same way
for a commit and for the working tree: equal trees get equal keys whatever they came from,
which is what the compile cache (compiler.review.snapshot) is keyed by.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.errors import Problems, UserError
from compiler.load.sources import TENANT_SUFFIXES, Source, Sources, read_sources

if TYPE_CHECKING:
    from compiler.model import Specs

SPEC_DIR = "tenants"
WORKING_TREE = "working tree"
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


class GitError(UserError):
    """git failed or is missing; the message says which command and why."""


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run a read-only git command; GIT_OPTIONAL_LOCKS=0 keeps even `status`-like refreshes off the index."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              env={**os.environ, **_GIT_ENV}, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed; `tenantc review` reads revisions with git") from None
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:3])}: {message[-1] if message else f'exit {proc.returncode}'}")
    return proc.stdout


def blob_id(content: bytes) -> str:
    """The id git gives a file's content, so a working-tree file and a committed blob compare equal."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class Revision:
    """One side of a review. `commit` is None for the working tree."""

    role: str  # "base" or "head"
    ref: str | None  # what the user typed; None for the working tree
    commit: str | None
    root: Path  # the repository root tenantc works in (holds tenants/)
    git_dir_root: Path  # top of the git work tree
    files: dict[str, str] = field(default_factory=dict)  # 'tenants/x.yaml' -> git blob id
    modes: dict[str, str] = field(default_factory=dict)  # same keys -> git file mode (commits only)

    @property
    def label(self) -> str:
        """'base origin/main (1a2b3c4)' or 'head (working tree)': how reports name the revision."""
        if self.commit is None:
            return f"{self.role} ({WORKING_TREE})"
        return f"{self.role} {self.ref} ({self.commit[:7]})"

    @property
    def key(self) -> str:
        """Digest of the spec tree's contents; independent of where the tree came from."""
        hasher = hashlib.sha256()
        for path, blob in sorted(self.files.items()):
            hasher.update(f"{path}\0{blob}\n".encode())
        return hasher.hexdigest()

    @contextmanager
    def materialise(self, paths: list[str] | None = None) -> Iterator[Path]:
        """A folder holding this revision's spec folder (or only `paths` of it), laid out like
        the repository root."""
        if self.commit is None:
            yield self.root
            return
        tmp = Path(tempfile.mkdtemp(prefix="tenantc-review-"))
        try:
            _write_blobs(self, tmp, paths)
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def open_revision(root: Path, role: str, ref: str | None) -> Revision:
    """The working tree when `ref` is None, else the commit `ref` names (a branch, tag, sha, HEAD~1)."""
    root = root.resolve()
    top = Path(git(root, "rev-parse", "--show-toplevel").decode().strip())
    if ref is None:
        return Revision(role, None, None, root, top, _working_tree_files(root))
    try:
        commit = git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").decode().strip()
    except GitError:
        raise GitError(f"--{role} {ref}: not a commit in this repository "
                       "(in CI, fetch the base branch first, e.g. `git fetch origin main`)") from None
    prefix = root.relative_to(top).as_posix() if root != top else ""
    files, modes = _commit_files(root, commit, prefix)
    return Revision(role, ref, commit, root, top, files, modes)


def _working_tree_files(root: Path) -> dict[str, str]:
    folder = root / SPEC_DIR
    files: dict[str, str] = {}
    if not folder.is_dir():
        return files
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                files[path.relative_to(root).as_posix()] = blob_id(path.read_bytes())
    return files


def _commit_files(root: Path, commit: str, prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    tree = f"{prefix}/{SPEC_DIR}" if prefix else SPEC_DIR
    try:
        listing = git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", tree)
    except GitError:
        return {}, {}
    files, modes = {}, {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.decode().partition("\t")
        mode, kind, blob = meta.split()
        if kind != "blob":  # submodules are not specs
            continue
        rel = path[len(prefix) + 1:] if prefix else path
        files[rel], modes[rel] = blob, mode
    return files, modes


def _write_blobs(revision: Revision, dest: Path, only: list[str] | None = None) -> None:
    """Copy every spec blob of the commit (or those of `only`) into `dest` with one `git cat-file --batch`."""
    paths = sorted(revision.files if only is None else only)
    if not paths:
        return
    out = git(revision.root, "cat-file", "--batch", stdin="".join(f"{revision.files[p]}\n" for p in paths).encode())
    offset = 0
    for path in paths:
        header_end = out.index(b"\n", offset)
        size = int(out[offset:header_end].split()[2])
        content = out[header_end + 1:header_end + 1 + size]
        offset = header_end + 1 + size + 1  # content is followed by a newline
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if revision.modes.get(path) == "120000":  # a symlink: keep it a link (imports resolve through it)
            os.symlink(content.decode(), target)
        else:
            target.write_bytes(content)


def changed_files(base: Revision, head: Revision) -> list[str]:
    """Spec files added, removed or edited between the two revisions (from blob ids, no diff run)."""
    return sorted(p for p in set(base.files) | set(head.files) if base.files.get(p) != head.files.get(p))


def differs_under(base: Revision, head: Revision, folders: list[Path]) -> bool:
    """Whether files of `folders` inside the repository (CRDs kept beside the specs) differ
    between the two revisions; `base` is a commit, `head` a commit or the working tree (then
    untracked and ignored files count too). Folders outside the repository cannot be told."""
    assert base.commit is not None
    for folder in folders:
        try:
            rel = Path(folder).resolve().relative_to(base.git_dir_root).as_posix()
        except ValueError:
            continue
        commits = [base.commit] + ([head.commit] if head.commit else [])
        changed = git(base.git_dir_root, "diff", "--name-only", "-z", *commits, "--", rel)
        if head.commit is None:
            changed += git(base.git_dir_root, "ls-files", "--others", "-z", "--", rel)
        if changed.strip(b"\0"):
            return True
    return False


def derived_sources(revision: Revision, other: Revision, specs: Specs) -> Sources | None:
    """`revision`'s spec files as `other` (compiled to `specs`, without problems) read them,
    but for the files that differ, read from git. None when that could differ from reading
    `revision` whole: a file other than a top-level YAML spec differs, the revision has Jsonnet
    (whose imports may reach any file), a differing file is a symbolic link, or reading the
    differing files finds any problem (the full read then reports it as a compile would)."""
    changed = changed_files(revision, other)
    if any(p.endswith(".jsonnet") for p in revision.files) or not all(_plain_yaml(p, revision) for p in changed):
        return None
    platform = specs.platform_source.path
    if platform not in revision.files:
        return None
    kept = {t.source.path: t.source for t in specs.tenants if t.source.path not in changed}
    read = sorted(p for p in changed if p in revision.files and p != platform)
    # One unchanged tenant beside the differing files, so the read sees a repository with tenants.
    extra = [] if read or not kept else [min(kept)]
    problems = Problems()
    with revision.materialise([platform, *read, *extra]) as root:
        fresh = read_sources(root, problems, paths=[platform, *read, *extra])
    if problems.items or fresh.platform is None:
        return None
    return _beside(specs, kept, fresh, same_platform=platform not in changed)


def _beside(specs: Specs, kept: dict[str, Source], fresh: Sources, same_platform: bool) -> Sources:
    """The sources of the `kept` files (with their models from `specs`) and the `fresh` ones;
    an unchanged platform file is `specs`' own, model too, which lets plans share decisions."""
    tenants = {**kept, **{s.path: s for s in fresh.tenants}}
    validated: dict[str, object] = {t.source.path: t.tenant for t in specs.tenants if t.source.path in kept}
    platform = fresh.platform
    if same_platform:
        platform, validated[specs.platform_source.path] = specs.platform_source, specs.platform
    return Sources(platform, [tenants[p] for p in sorted(tenants)], validated)


def _plain_yaml(path: str, revision: Revision) -> bool:
    folder, _, name = path.partition("/")
    return (folder == SPEC_DIR and "/" not in name and name.endswith(TENANT_SUFFIXES)
            and not name.endswith(".jsonnet") and revision.modes.get(path) != "120000")


def read_revision(revision: Revision) -> Sources | None:
    """Every spec file of a commit, evaluated (Jsonnet imports resolve in its own tree); None
    when any cannot be read, which a full compile then reports."""
    problems = Problems()
    with revision.materialise() as tree:
        sources = read_sources(tree, problems)
    return None if problems.items else sources
