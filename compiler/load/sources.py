"""Find and read the spec files: tenants/platform.yaml and one file per tenant.

A tenant file is any `tenants/<name>.yaml|.yml|.jsonnet` other than platform.yaml; files in
sub-folders (Jsonnet libraries, for instance) are never tenants. The file stem is the tenant's
name. Reading never stops at the first bad file: every problem is collected.

Every entry of tenants/ is compiled or reported, never skipped without a word: a spec file
with a suffix tenantc does not read (`x.YAML`, `x.json`), a folder named like a spec file,
a FIFO or device (never opened: reading a FIFO would wait forever), a symlink to nothing or
out of the repository. Hidden entries, sub-folders (libraries) and `.libsonnet` libraries
are left alone. Each file is read within the caps of compiler.load.limits.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.errors import Problems
from compiler.load import jsonnet_engine, limits, yaml_io

PLATFORM_FILE = "platform.yaml"
TENANT_SUFFIXES = (".yaml", ".yml", ".jsonnet")
LIBRARY_SUFFIXES = (".libsonnet",)  # imported by Jsonnet tenants, never compiled on their own


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
    """What one read of tenants/ found: the platform file and the tenant files, as plain data."""

    platform: Source | None
    tenants: list[Source]
    # path -> the model another compile in this process validated from that very Source object,
    # without problems (review's and check --base's base revision shares the head's unchanged
    # files): the model stage takes it instead of validating and checking the same data again
    validated: dict[str, Any] = field(default_factory=dict)


def discover(root: Path, tenants_dir: str = "tenants", problems: Problems | None = None) -> list[str]:
    """Repo-relative paths of the platform file and tenant files, sorted; every other entry
    that looks like it was meant to be compiled is reported to `problems`."""
    problems = problems if problems is not None else Problems()
    folder = root / tenants_dir
    if folder.is_symlink() and not _inside(folder, root):
        problems.add(f"{tenants_dir}/", "", "is a symlink leading out of the repository",
                     "keep the specs in the repository")
        return []
    if not folder.exists():
        return []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.add(f"{tenants_dir}/", "", f"cannot be read: {exc.strerror or exc}",
                     "make it a folder tenantc may read")
        return []
    found = []
    for entry in entries:
        rel = f"{tenants_dir}/{entry.name}"
        problem = _entry_problem(entry, root)
        if problem == "spec":
            found.append(rel)
        elif problem:
            problems.add(rel, "", *problem)
    return found


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _entry_problem(entry: os.DirEntry, root: Path) -> tuple[str, str] | str | None:
    """'spec' for a file to compile, None for an entry left alone, else (message, hint)."""
    name = entry.name
    if name.startswith("."):
        return None
    suffix = os.path.splitext(name)[1]
    if entry.is_symlink():
        if not os.path.exists(entry.path):
            return "is a symlink to nothing", "remove it or point it at a file in the repository"
        if not _inside(Path(entry.path), root):
            return ("is a symlink leading out of the repository; tenantc reads nothing outside it",
                    "copy the file into the repository instead")
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}", "fix its permissions or remove it"
    if stat.S_ISDIR(mode):
        return ("is a folder named like a spec file", "rename it; folders in tenants/ hold libraries only") \
            if suffix in TENANT_SUFFIXES else None
    if not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device); it was not opened", "remove it"
    if suffix in TENANT_SUFFIXES:
        return "spec"
    if suffix in LIBRARY_SUFFIXES:
        return None
    if suffix.lower() in TENANT_SUFFIXES:
        return (f"the suffix '{suffix}' is not read (suffixes are lower case)",
                f"rename it to {name[:-len(suffix)]}{suffix.lower()}")
    if suffix.lower() == ".json":
        return ("JSON files are not read", f"rename it to {name[:-len(suffix)]}.yaml (JSON is YAML) or .jsonnet")
    return ("is not a spec file (.yaml, .yml, .jsonnet) or a Jsonnet library (.libsonnet)",
            "move it out of tenants/ or rename it")


PARSED_YAML_FILE = "parsed-yaml.marshal"  # in the cache folder
LEGACY_PARSED_YAML_FILE = "parsed-yaml.json"  # what tenantc kept before; removed when the new one is written


class ParsedYamlCache:
    """Parsed YAML by file digest, kept as one `marshal` file in the cache folder.

    PyYAML builds Python objects in pure Python (~0.5 ms for a tenant file); the stored data
    reads back many times faster, which matters when one tenant of a thousand changed. Only
    data that JSON gives back exactly is kept (string keys, str/int/float/bool/None): a YAML
    date or an integer key is parsed again each time. Stored with `marshal`, as the unit cache
    (compiler.render.unit_cache) and Python's __pycache__: for 1,000 tenant files it writes in
    1.3 ms and reads in 6.6 ms where JSON took 14 and 11, and reading it runs no code (never
    pickle). Like those, the file is the user's own: a cache folder committed to git is refused.
    """

    def __init__(self, folder: Path | None, prefetched: dict[str, Any] | None = None):
        self.path = folder / PARSED_YAML_FILE if folder else None
        self.version = f"{yaml_io.yaml.__version__}/{yaml_io.ENGINE}/marshal {marshal.version}"
        self.entries: dict[str, Any] = {}
        self.prefetched = prefetched or {}  # parsed by this same code in a child (compiler.load.prefetch)
        self.used: set[str] = set()
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                stored = marshal.loads(self.path.read_bytes())
                if isinstance(stored, dict) and stored.get("version") == self.version \
                        and isinstance(stored.get("entries"), dict):
                    self.entries = stored["entries"]
            except (ValueError, EOFError, TypeError, MemoryError, OSError):  # damaged (a list "of 2**31 items")
                self.entries = {}

    def load(self, raw: bytes, digest: str) -> tuple[Any, list[limits.LimitProblem]]:
        """The parsed data of `raw` and the caps it breaks (raises yaml_io.YAMLError like
        yaml_io.load). Only data within the caps is stored, so a hit is not walked again (that
        walk was most of a one-tenant change's load stage); the entry is found by the digest of
        the file's bytes, and whoever can rewrite the cache folder can rewrite units.sqlite too."""
        self.used.add(digest)
        if digest in self.entries:
            return self.entries[digest], []
        if digest in self.prefetched:  # within the caps, as every entry
            self.entries[digest] = data = self.prefetched[digest]
            self.dirty = True
            return data, []
        if len(raw) > limits.COUNT_FIRST_BYTES and yaml_io.more_nodes_than(raw, limits.MAX_VALUES):
            return None, [limits.LimitProblem("", f"holds more than {limits.MAX_VALUES} values (the cap)",
                                              "keep spec files small; tenant files are a few hundred lines")]
        data, shape = yaml_io.load_shaped(raw)
        inspection = limits.inspect_loaded(raw, data, shape)
        if inspection.json_exact:  # within the caps, and JSON gives the same data back
            self.entries[digest] = data
            self.dirty = True
        return data, inspection.problems

    def save(self) -> None:
        """Keep the entries of the files read this time; write only when something changed."""
        if not self.path or not (self.dirty or set(self.entries) - self.used):
            return
        entries = {d: v for d, v in self.entries.items() if d in self.used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps({"version": self.version, "entries": entries}))
            tmp.replace(self.path)
            self.path.with_name(LEGACY_PARSED_YAML_FILE).unlink(missing_ok=True)
        except OSError:  # a cache that cannot be written is only slower
            pass


def read_sources(root: Path, problems: Problems, paths: list[str] | None = None,
                 cache_dir: Path | None = None) -> Sources:
    """Evaluate every spec file under `root` into plain data; problems are collected, not raised.
    With `cache_dir`, parsed YAML is cached there by content digest."""
    paths = discover(root, problems=problems) if paths is None else paths
    platform: Source | None = None
    tenants: list[Source] = []
    from compiler.load import prefetch  # here: it imports this module

    cache = ParsedYamlCache(cache_dir, prefetch.taken())
    for rel in paths:
        source = _read_one(rel, root, problems, cache)
        if source is None:
            continue
        if Path(rel).name == PLATFORM_FILE:
            platform = source
        else:
            tenants.append(source)
    cache.save()
    if platform is None and not any(p.file.endswith(PLATFORM_FILE) or p.file == "tenants/" for p in problems.items):
        problems.add("tenants/platform.yaml", "", "the platform file is missing",
                     "create it with the clusters, defaults and shared settings (see README)")
    if not tenants and not [p for p in problems.items if p.file != "tenants/platform.yaml"]:
        problems.add("tenants/", "", "no tenant files found",
                     "add tenants/<name>.yaml or tenants/<name>.jsonnet, one per tenant")
    return Sources(platform, tenants)


def read_capped(path: Path, root: Path) -> bytes:
    """A spec file's bytes: a regular file inside the repository, at most MAX_FILE_BYTES
    (raises OSError with what is wrong; a FIFO is never waited on)."""
    if path.is_symlink() and not _inside(path, root):  # discover() saw the folder; a file may be a link
        raise OSError("it leads out of the repository (a symlink); tenantc reads nothing outside it")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("it is not a regular file")
        raw = limits.read_at_most(fd, limits.MAX_FILE_BYTES + 1, info.st_size)
    finally:
        os.close(fd)
    if len(raw) > limits.MAX_FILE_BYTES:
        raise OSError(f"it is larger than {limits.MAX_FILE_BYTES} bytes (the cap of a spec file)")
    return raw


def _read_one(rel: str, root: Path, problems: Problems, cache: ParsedYamlCache) -> Source | None:
    try:
        raw = read_capped(root / rel, root)
    except OSError as exc:
        problems.add(rel, "", f"cannot read: {exc.strerror or exc}",
                     "keep spec files small, plain and in the repository")
        return None
    digest = hashlib.sha256(raw).hexdigest()
    data = _evaluate(rel, root, raw, digest, problems, cache)
    if data is _NOT_READ:
        return None
    if not isinstance(data, dict):
        problems.add(rel, "", f"expected a mapping at the top level, got {type(data).__name__}",
                     "a spec file holds one object with fields such as name, owner, quota")
        return None
    return Source(rel, data, digest)


_NOT_READ = object()  # evaluated data can be None (an empty YAML file): this marks "reported"


def _evaluate(rel: str, root: Path, raw: bytes, digest: str, problems: Problems, cache: ParsedYamlCache) -> Any:
    """The file's data, or _NOT_READ after reporting why there is none."""
    if rel.endswith(".jsonnet"):
        try:
            data = jsonnet_engine.evaluate_file(root / rel, root)
        except jsonnet_engine.JsonnetError as exc:
            problems.add(rel, "", f"Jsonnet error: {exc}", "fix the Jsonnet; imports must stay inside the repository")
            return _NOT_READ
        broken = limits.check_data(data)
    else:
        try:
            data, broken = cache.load(raw, digest)
        except yaml_io.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problems.add(rel, "", f"YAML syntax error: {where}{getattr(exc, 'problem', None) or exc}",
                         "fix the YAML syntax")
            return _NOT_READ
        except (ValueError, RecursionError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
            text = str(exc)
            if "integer string conversion" in text:  # Python's own cap, not one the user can raise
                text = f"an integer of more than {sys.get_int_max_str_digits()} digits (numbers are 64-bit)"
            problems.add(rel, "", f"YAML value cannot be read: {text}", "write plain, reasonably sized values")
            return _NOT_READ
    for problem in broken:
        problems.add(rel, problem.path, problem.message, problem.hint)
    return _NOT_READ if broken else data
