"""Write stage: rendered/ replaced all at once or not at all.

The tree is made of units, one folder per tenant and cluster (`<cluster>/<tenant>/`, plus
`<cluster>/_platform/` and `_argocd/`). A compile stages every changed unit beside the tree
(under the cache folder, same filesystem), then swaps the units in with renames, recording
each step in a journal. If anything fails, the swaps done so far are undone and the old tree
is back byte for byte; if the process dies mid-swap, the next run finds the journal and
rolls back before doing anything else. Unchanged units are not touched, which keeps a
one-tenant change in a thousand-tenant repository fast.

Which units changed is decided from a manifest written by the last compile: per unit, the key
its content came from (the unit cache key, or a digest of its files), a digest of its files'
names, sizes and mtimes, and the folder's own inode and mtime. A file edited by hand no longer
matches its recorded size or mtime, so its unit is rewritten. A file created, removed or renamed
in a unit folder moves the folder's mtime, so only then are its names listed again; an edit in
place moves nothing but the file's own stat, so every file is still stat'ed on every compile
(for the 51k files of the 1,000-tenant benchmark, about 0.13 s; nothing cheaper notices an edit
in place short of a file watcher).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler.errors import CompileError, Problem
from compiler.identity import RenderedPath, unit_folder
from compiler.write.readback import TreeReader

JOURNAL = "journal.json"
STAMP_SETTLED_NS = 2_000_000_000  # how old a folder's mtime must be to stand for its names
MAX_JOURNAL_BYTES = 64 << 20  # a journal lists two paths per unit: far below this for any real tree


def _journal_error(path: Path, what: str) -> CompileError:
    shown = f"{path.parent.parent.name}/{path.parent.name}/{path.name}" if path.name == JOURNAL else \
        f"{path.parent.name}/{path.name}"
    return CompileError([Problem(shown, "", f"{what}; nothing was rolled back or moved",
                                 "check rendered/ (git status), then delete this folder and compile again")])


def folder_problems(root: Path, names: tuple[str, ...]) -> list[Problem]:
    """The repository's own folders (rendered/, the cache) as tenantc needs them: a folder or
    nothing yet, never a file or a symlink leading out of the repository."""
    problems = []
    base = root.resolve()
    for name in names:
        path = root / name
        if path.is_symlink() and not path.resolve().is_relative_to(base):
            problems.append(Problem(f"{name}/", "", "is a symlink leading out of the repository",
                                    "replace it with a folder (tenantc writes only inside the repository)"))
        elif path.exists() and not path.is_dir():
            problems.append(Problem(name, "", "is a file where tenantc keeps a folder",
                                    f"move or delete the file {name}, then compile again"))
    return problems


def tree_link_problems(out: Path, shown: str) -> list[Problem]:
    """Symlinks among rendered/'s cluster folders: the writer renames unit folders into a cluster
    folder, so through a symlink it would write, and move away, whatever lies where it leads.
    (A symlinked unit folder or file is only moved away as a link, and `check` reads none.)"""
    if not out.is_dir():
        return []
    with os.scandir(out) as tops:
        links = sorted(top.name for top in tops if top.is_symlink())
    return [Problem(f"{shown}/{name}", "", "is a symlink; tenantc writes the folders of rendered/ itself and "
                    "would write wherever it leads",
                    f"remove the link: rm {shown}/{name}; tenantc then writes a real folder there")
            for name in links]


def committed_cache_problems(root: Path, cache_dir: str) -> list[Problem]:
    """The cache must not come from the repository: git-tracked entries under `cache_dir` could
    be crafted in a pull request (unit output that check would take for compiled, CRDs that
    pass anything, review snapshots), so tenantc refuses to run rather than read them."""
    if not (root / cache_dir).exists() or shutil.which("git") is None:
        return []
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", cache_dir],
                                capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if listed.returncode != 0 or not listed.stdout:  # not a git repository, or nothing tracked
        return []
    return [Problem(f"{cache_dir}/", "", "is committed to git: the cache is per machine and never trusted from a "
                    "repository", f"git rm -r --cached {cache_dir} (it is in .gitignore), then run tenantc again")]


def _unit_under(path: str, base: str) -> str | None:
    """The unit folder ('cluster/tenant' or '_x') `path` names under `base`, or None."""
    if not path.startswith(base + os.sep):
        return None
    parts = path[len(base) + 1:].split(os.sep)
    ok = all(p and p not in (".", "..") for p in parts) and (
        len(parts) == 2 and not parts[0].startswith("_") or len(parts) == 1 and parts[0].startswith("_"))
    return "/".join(parts) if ok else None


def _symlink_on_the_way(path: str, stops: tuple[str, ...]) -> bool:
    """A symlink at `path` or a folder above it, up to one of `stops` (a renamed symlink would
    carry its target along)."""
    current = path
    while current not in stops:
        if os.path.islink(current):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent
    return os.path.islink(current)


def _entry_if_observed(key: str, recorded: object, state: FolderState | None) -> dict | None:
    """TreeWriter._entry_if_unchanged, decided from a FolderState taken earlier: the same key
    renders the same names, so a folder whose files (names, sizes, mtimes) are as recorded
    holds what `key` renders."""
    if not isinstance(recorded, dict) or recorded.get("key") != key or state is None:
        return None
    return _entry(key, state.files, state.stamp) if recorded.get("files") == state.files else None


def _entry(key: str, files: str, stamp: list[int]) -> dict:
    """A unit's manifest entry: its key, its files' stat digest and (when settled) its folder's stamp."""
    return {"key": key, "files": files, "folder": stamp} if stamp else {"key": key, "files": files}


@dataclass(frozen=True)
class FolderState:
    """A unit folder as the manifest records it, seen at one moment: its stamp and the stat
    digest of the files it holds (their names included)."""

    stamp: list[int]
    files: str


def _folder_state(folder: str) -> FolderState:
    """The folder's stamp and the stat digest of the files it holds now."""
    stamp = _folder_stamp(folder)  # before the listing: a file added meanwhile moves it
    return FolderState(stamp, _stat_digest(folder, sorted(os.listdir(folder))))


@dataclass
class WriteResult:
    """What a write did, unit by unit."""

    written_units: list[str] = field(default_factory=list)
    removed_units: list[str] = field(default_factory=list)
    unchanged_units: int = 0
    files_written: int = 0


@dataclass
class Staleness:
    """How rendered/ on disk differs from a compile: files missing, extra or different."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.missing or self.extra or self.differing)


def digest(content: bytes) -> str:
    return hashlib.blake2b(content, digest_size=16).hexdigest()


def _stat_digest(folder: str, names: list[str]) -> str:
    """Digest of the files `names` (sorted) in `folder`: names, sizes and modification times,
    what a unit's manifest entry records (a digest, not a list: the manifest of a big tree stays
    small). Raises FileNotFoundError when one is gone. Every compile runs this for every rendered
    file, so the bytes are hashed in one call per folder, not one per file."""
    stat = os.stat
    parts = []
    for name in names:
        st = stat(f"{folder}/{name}")
        parts.append(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0")
    return hashlib.blake2b("".join(parts).encode(), digest_size=16).hexdigest()


def _folder_stamp(folder: str) -> list[int]:
    """The folder's inode and mtime: they move when a file is created, removed or renamed in it
    (or the folder is replaced), so while they hold, its names are the ones last recorded.
    Empty (no stamp, the names are listed) while the mtime is recent: a file system stores
    times in steps (up to 2 s), and a change in the same step as the last would not move it."""
    st = os.stat(folder)
    return [st.st_ino, st.st_mtime_ns] if time.time_ns() - st.st_mtime_ns > STAMP_SETTLED_NS else []


def _content_keys(files: Mapping[str, bytes]) -> dict[str, tuple[str, list[str]]]:
    """Unit -> (digest of its files, file names) for a plain path -> bytes mapping."""
    keys = {}
    for unit, unit_files in units_of(files).items():
        hasher = hashlib.blake2b(digest_size=16)
        for name, content in sorted(unit_files.items()):
            hasher.update(name.encode() + b"\0" + content + b"\0")
        keys[unit] = ("content:" + hasher.hexdigest(), sorted(unit_files))
    return keys


def units_of(files: Mapping[str, bytes]) -> dict[str, dict[str, bytes]]:
    """Group rendered/ paths by unit folder: 'cluster/tenant/file.yaml' under 'cluster/tenant'."""
    units: dict[str, dict[str, bytes]] = {}
    for path, content in files.items():
        rendered = RenderedPath.parse(path)
        units.setdefault(rendered.folder, {})[rendered.file] = content
    return units


def unit_files(files: Mapping[str, bytes], unit: str, names: list[str]) -> dict[str, bytes]:
    """File name -> bytes of one unit folder of `files`: read at once from a compile's lazy
    view (compiler.render.units.UnitTree), looked up name by name in a plain mapping."""
    if hasattr(files, "unit_content"):
        return files.unit_content(unit)
    return {name: files[f"{unit}/{name}"] for name in names}


def _tree_listing(out: Path) -> tuple[set[str], set[str]]:
    """(unit folders, stray files) of the tree, from one listing of its two top levels with
    os.scandir, whose entries know their type without a stat on most file systems."""
    units: set[str] = set()
    strays: set[str] = set()
    if not out.is_dir():
        return units, strays
    with os.scandir(out) as tops:
        for top in tops:  # a symlinked cluster folder is not followed: its units are missing
            if not top.is_dir(follow_symlinks=False) or top.name.startswith("."):
                continue
            if top.name.startswith("_"):
                units.add(top.name)
                continue
            with os.scandir(top.path) as subs:
                for sub in subs:
                    if sub.is_dir():
                        if not sub.name.startswith("."):
                            units.add(unit_folder(top.name, sub.name))
                    elif sub.is_file():
                        strays.add(f"{top.name}/{sub.name}")
    return units, strays


def existing_units(out: Path) -> set[str]:
    """Unit folders on disk: 'cluster/tenant' folders and top-level '_' folders."""
    return _tree_listing(out)[0]


def _write_new(path: str, content: bytes) -> None:
    """Create a staged file with plain os calls: for tens of thousands of small files pathlib's
    overhead is a fifth of the write stage."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def stray_files(out: Path) -> set[str]:
    """Files lying directly in a cluster folder (rendered/<cluster>/x): nothing renders them
    there, so `check` calls them extra and `compile` removes them with the stale units."""
    return _tree_listing(out)[1]


class TreeWriter:
    """Writes `files` (path under out -> bytes) into `out` transactionally."""

    def __init__(self, out: Path, state_dir: Path):
        self.out = out
        self.state_dir = state_dir
        self.manifest_path = state_dir / f"manifest-{digest(str(out.resolve()).encode())}.json"

    # -- public -------------------------------------------------------------------------
    def observe(self) -> dict[str, FolderState] | None:
        """The state of every unit folder the manifest records (listed and stat'ed whole): what
        `write` would otherwise look at unit by unit. The compile command takes it in a forked
        child while it compiles, so that the stat of every rendered file (0.1-0.15 s for 29,000)
        overlaps the compile instead of following it. None, and nothing looked at, when a symlink
        stands for rendered/, the cache folder or a cluster folder: the compile refuses what
        leads out of the repository before anything else, and `write` looks for itself."""
        try:
            if self.out.is_symlink() or self.state_dir.is_symlink() or tree_link_problems(self.out, ""):
                return None
            manifest = self._load_manifest()
            on_disk = _tree_listing(self.out)[0]
        except OSError:  # e.g. the cache folder is a file: the compile reports it
            return None
        states = {}
        for unit in on_disk:  # never a path the (untrusted) manifest names
            if unit not in manifest:
                continue
            try:
                states[unit] = _folder_state(f"{self.out}/{unit}")
            except (FileNotFoundError, NotADirectoryError):
                continue
        return states

    def write(self, files: Mapping[str, bytes], fail_after: int | None = None,
              observed: dict[str, FolderState] | None = None) -> WriteResult:
        """Replace the tree with `files`. `fail_after` injects a failure after that many swap
        steps (tests use it to prove the rollback).

        A unit is identified by a key that determines its content: the compile's unit cache
        key when `files` offers `unit_keys()` (then unchanged units are never read), otherwise
        a digest of its files. `observed` (from `observe`, taken since the compile began) stands
        for looking at each unit folder now: a file edited by hand after it was taken is
        noticed by the next compile, as one edited after this write would be."""
        self.recover()
        links = tree_link_problems(self.out, self.out.name)
        if links:
            raise CompileError(links)
        desired = files.unit_keys() if hasattr(files, "unit_keys") else _content_keys(files)
        manifest = self._load_manifest()
        on_disk, strays = _tree_listing(self.out)
        kept = {}  # unit -> its manifest entry, for the units whose folder holds what they render
        for unit, (key, names) in desired.items():
            if unit not in on_disk:
                continue
            if observed is None:
                entry = self._entry_if_unchanged(unit, key, names, manifest.get(unit))
            else:
                entry = _entry_if_observed(key, manifest.get(unit), observed.get(unit))
            if entry is not None:
                kept[unit] = entry
        changed = sorted(set(desired) - set(kept))
        removed = sorted((on_disk - set(desired)) | strays)
        result = WriteResult(changed, removed, len(kept))
        if not changed and not removed:
            if kept != manifest:  # folder stamps taken or renewed: later compiles skip their listing
                self._save_manifest(kept)
            return result
        txn = self.state_dir / f"txn-{uuid.uuid4().hex[:12]}"
        staged = txn / "new"
        try:
            for unit in changed:  # one unit's YAML read (from the compile's store) at a time
                folder = staged / unit
                folder.mkdir(parents=True)
                base = str(folder)
                content = unit_files(files, unit, desired[unit][1])
                for name in desired[unit][1]:
                    _write_new(f"{base}/{name}", content[name])
                    result.files_written += 1
                del content
        except BaseException:
            shutil.rmtree(txn, ignore_errors=True)
            raise
        self._commit(txn, changed, removed, fail_after)
        for unit in changed:
            kept[unit] = self._record(unit, desired[unit][0])
        self._save_manifest(kept)
        shutil.rmtree(txn, ignore_errors=True)
        return result

    def compare(self, files: Mapping[str, bytes], units: set[str] | None = None) -> Staleness:
        """What differs between `files` and the tree on disk (reads every file: the truth, but
        never past a symlink or beyond the compile's own bytes: compiler.write.readback).
        With `units`, only those unit folders on disk are compared (`files` holds theirs).
        One unit folder at a time: its files on disk beside the compile's."""
        result = Staleness()
        desired = {u: names for u, (_, names) in files.unit_keys().items()} if hasattr(files, "unit_keys") \
            else {u: sorted(content) for u, content in units_of(files).items()}
        present, strays = _tree_listing(self.out)
        if units is not None:
            present &= units
        with contextlib.ExitStack() as stack:
            reader = stack.enter_context(TreeReader(self.out)) if present else None
            for unit in sorted(set(desired) | present):
                wanted = unit_files(files, unit, desired[unit]) if unit in desired else {}
                if reader is None or unit not in present:
                    result.missing += [f"{unit}/{name}" for name in wanted]
                    continue
                found = reader.compare_unit(unit, wanted)
                if found.not_a_folder and not wanted:
                    result.extra.append(unit)
                result.missing += [f"{unit}/{name}" for name in found.missing]
                result.differing += [f"{unit}/{name}" for name in found.differing]
                result.extra += [f"{unit}/{name}" for name in found.extra]
        result.extra = sorted(set(result.extra) | strays)
        result.missing.sort()
        result.differing.sort()
        return result

    def recover(self) -> bool:
        """Roll back a swap that a killed process left half done. True when it did.

        The journal lies in the repository and is untrusted: it is acted on only when every
        step is one this writer makes (a unit folder of the tree to or from the transaction's
        own folder, no symlinks on the way); anything else is refused before a single rename."""
        recovered = False
        if not self.state_dir.is_dir():
            return False
        for txn in sorted(self.state_dir.glob("txn-*")):
            if txn.is_symlink() or not txn.is_dir():
                raise _journal_error(txn, "is not a folder tenantc made")
            journal = txn / JOURNAL
            if journal.is_file() or journal.is_symlink():
                self._rollback(self._trusted_steps(txn, journal))
                recovered = True
            shutil.rmtree(txn, ignore_errors=True)
        if recovered:
            self.manifest_path.unlink(missing_ok=True)
        return recovered

    def _trusted_steps(self, txn: Path, journal: Path) -> list[list[str]]:
        if journal.is_symlink() or journal.stat().st_size > MAX_JOURNAL_BYTES:
            raise _journal_error(journal, f"is a symlink or larger than {MAX_JOURNAL_BYTES} bytes")
        try:
            steps = json.loads(journal.read_text())
        except (ValueError, UnicodeDecodeError):
            raise _journal_error(journal, "is damaged (not the JSON tenantc writes)") from None
        if not isinstance(steps, list):
            raise _journal_error(journal, "is damaged (not a list of renames)")
        for index, step in enumerate(steps):
            problem = self._step_problem(txn, step)
            if problem:
                raise _journal_error(journal, f"step {index}: {problem}")
        return steps

    def _step_problem(self, txn: Path, step: object) -> str:
        """Why a journal step is not one this writer would make ('' when it is)."""
        if not (isinstance(step, list) and len(step) == 2 and all(isinstance(p, str) for p in step)):
            return "not a [from, to] pair of paths"
        out, txn_dir = os.path.abspath(self.out), os.path.abspath(txn)
        src, dst = (os.path.abspath(p) for p in step)
        sides = sorted([_unit_under(src, out) is not None, _unit_under(dst, out) is not None])
        units = {_unit_under(p, out) or _unit_under(p, os.path.join(txn_dir, "old"))
                 or _unit_under(p, os.path.join(txn_dir, "new")) for p in (src, dst)}
        if sides != [False, True] or None in units or len(units) != 1:
            return f"renames {step[0]!r} to {step[1]!r}, not a unit folder of rendered/ to or from {txn.name}"
        if any(_symlink_on_the_way(p, (out, txn_dir)) for p in (src, dst)):
            return "a folder on its way is a symlink"
        return ""

    # -- swapping -------------------------------------------------------------------------
    def _commit(self, txn: Path, changed: list[str], removed: list[str], fail_after: int | None) -> None:
        steps: list[list[str]] = []  # [src, dst] renames, in order, absolute (recovery may run elsewhere)
        out, txn = Path(os.path.abspath(self.out)), Path(os.path.abspath(txn))
        for unit in changed:
            if (out / unit).exists():
                steps.append([str(out / unit), str(txn / "old" / unit)])
            steps.append([str(txn / "new" / unit), str(out / unit)])
        for unit in removed:
            steps.append([str(out / unit), str(txn / "old" / unit)])
        journal = txn / JOURNAL
        # The whole plan is journalled once, before the first rename (one write, not one per
        # step: on a slow disk that is seconds for a thousand tenants). Rollback undoes only the
        # steps whose effect it finds (dst there, src gone), so steps not yet done are skipped.
        txn.mkdir(parents=True, exist_ok=True)  # a write that only removes units staged nothing
        journal.write_text(json.dumps(steps))
        try:
            for done, (src, dst) in enumerate(steps):
                if fail_after is not None and done >= fail_after:
                    raise OSError("injected failure during swap")
                Path(dst).parent.mkdir(parents=True, exist_ok=True)
                if Path(dst).exists():
                    raise FileExistsError(f"{dst} exists; refusing to overwrite during swap")
                os.replace(src, dst)
        except BaseException:
            self._rollback(steps)
            shutil.rmtree(txn, ignore_errors=True)
            raise
        journal.unlink()
        self._remove_empty_cluster_dirs()

    def _rollback(self, steps: list[list[str]]) -> None:
        for src, dst in reversed(steps):
            if Path(dst).exists() and not Path(src).exists():
                Path(src).parent.mkdir(parents=True, exist_ok=True)
                os.replace(dst, src)
        self._remove_empty_cluster_dirs()

    def _remove_empty_cluster_dirs(self) -> None:
        if self.out.is_dir():
            for top in self.out.iterdir():
                if top.is_dir() and not any(top.iterdir()):
                    top.rmdir()

    # -- manifest -------------------------------------------------------------------------
    def _entry_if_unchanged(self, unit: str, key: str, names: list[str], recorded: object) -> dict | None:
        """The unit's manifest entry when its folder holds what `key` renders (same key last
        written, same file names, no file touched since: size and mtime as recorded), else
        None. The names (those `key` renders, so the ones recorded with it) are listed again
        only when the folder's stamp moved; the entry returned carries the stamp seen now."""
        if not isinstance(recorded, dict) or recorded.get("key") != key:
            return None
        folder = f"{self.out}/{unit}"
        try:
            stamp = _folder_stamp(folder)
            if recorded.get("folder") != stamp and set(os.listdir(folder)) != set(names):
                return None
            if recorded.get("files") != _stat_digest(folder, sorted(names)):
                return None
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _entry(key, recorded["files"], stamp)

    def _record(self, unit: str, key: str) -> dict:
        state = _folder_state(f"{self.out}/{unit}")
        return _entry(key, state.files, state.stamp)

    def _load_manifest(self) -> dict:
        """The manifest, or {} (every unit looked at anew) when it is missing or not the JSON
        object tenantc writes: it lies in the repository and is untrusted."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return manifest if isinstance(manifest, dict) else {}

    def _save_manifest(self, manifest: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, separators=(",", ":")))
        tmp.replace(self.manifest_path)
