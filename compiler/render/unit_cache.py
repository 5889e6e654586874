"""A content-addressed cache of rendered units (one tenant on one cluster), so a one-tenant
change in a thousand-tenant repository renders, validates and serializes one tenant.

A unit's key hashes everything its objects can depend on: tenantc's own code and the
libraries that shape output or verdicts, the platform, the tenant's spec, the specs of the
tenants it imports datasets from, the cluster, and the schemas it was validated against.
Only units that rendered and validated cleanly are stored, so a hit is a unit known good.

Storage is one SQLite file (standard library; one file instead of thousands, transactional):
`meta` is small JSON read for every unit (file names, what Argo CD needs, kinds not
validated); `objects` and `files` (the YAML bytes) are read only when someone asks for them,
each on its own (the writer reads only the YAML). They are `marshal`ed, the format of Python's
own __pycache__ (7x faster to write than JSON, and these are plain dicts, lists and strings);
the key includes the Python version, and like __pycache__ the file is trusted as the user's own.

The cache is also where a compile puts each unit as soon as it is rendered, validated and
serialized, so that the unit's objects need not stay in memory (compiler.render.units): units
are written in batches of a few megabytes. Units that cannot go to the file (no cache, an
unusable one, or Argo CD's, which has no key of its own) go to a `SpillStore` instead.
"""
from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA = 3  # PRAGMA user_version of the file; a file of another layout is emptied
UNIT_CACHE_FILE = "units.sqlite"  # in the cache folder
# Libraries whose version can change rendered bytes or validation verdicts.
LIBRARIES = ("pydantic", "PyYAML", "jsonschema-rs", "jsonschema", "kubernetes-validate")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Digest of tenantc's sources and the versions of the libraries that shape its output."""
    package = Path(__file__).resolve().parents[1]
    hasher = hashlib.sha256(f"schema {SCHEMA} python {sys.version}".encode())
    for path in sorted(package.rglob("*.py")):
        hasher.update(str(path.relative_to(package)).encode())
        hasher.update(path.read_bytes())
    for name in LIBRARIES:
        try:
            hasher.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            hasher.update(f"{name} absent".encode())
    return hasher.hexdigest()


def unit_key(*parts: str) -> str:
    hasher = hashlib.sha256(code_fingerprint().encode())
    for part in parts:
        hasher.update(b"\0" + part.encode())
    return hasher.hexdigest()


PARTS = ("objects", "files")  # what a stored unit holds, each read on its own
FLUSH_BYTES = 16 << 20  # units queued for the cache file are written once they reach this size
Reader = Callable[[str], "dict[str, Any] | None"]  # reads a stored unit's objects or files; None: damaged
_FILE_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.yaml"  # what renderers name files
# Whole names, newline-separated (no name can hold one): `$` would let "x.yaml\n" through.
_FILE_NAMES = re.compile(rf"{_FILE_NAME}(?:\n{_FILE_NAME})*")


def safe_file_names(names: object) -> bool:
    """A list of plain file names, as renderers name files. The cache is untrusted and holds one
    name per rendered file (about 30 per tenant), so they are matched in one pass."""
    if not isinstance(names, list):
        return False
    try:
        joined = "\n".join(names)
    except TypeError:  # not all strings
        return False
    return not names or _FILE_NAMES.fullmatch(joined) is not None


@dataclass
class UnitMeta:
    """What is known of a unit without reading its content."""

    names: list[str]  # file names in the unit folder, sorted
    summary: dict[str, Any]  # tenant, namespaces, namespaced kinds, cluster-scoped objects
    unchecked: list[list[str]] = field(default_factory=list)  # [apiVersion, kind] per object not validated

    def to_json(self) -> str:
        return json.dumps({"names": self.names, "summary": self.summary, "unchecked": self.unchecked},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UnitMeta:
        """The stored metadata; the cache is untrusted, so anything but plain file names and the
        shapes this class writes raises ValueError (and the cache is treated as empty)."""
        data = json.loads(text)
        names, summary, unchecked = data["names"], data["summary"], data.get("unchecked", [])
        if not (safe_file_names(names)
                and isinstance(summary, dict) and isinstance(unchecked, list)):
            raise ValueError("a cached unit with file names or data tenantc does not write")
        return cls(names, summary, unchecked)


class SpillStore:
    """Units kept out of memory in an anonymous temporary file (deleted when closed, readable
    by this user only) when they have no cache to go to: the objects and the YAML of each
    unit, marshalled one after the other, read back by offset."""

    def __init__(self) -> None:
        self._file: Any = None
        self._end = 0

    def put(self, objects: dict[str, dict], files: dict[str, bytes]) -> Reader:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="tenantc-units-")
        spans: list[int] = []  # offset and size of the objects, then of the files (a unit keeps this)
        for blob in (marshal.dumps(objects), marshal.dumps(files)):
            view, offset = memoryview(blob), self._end
            while view:
                view = view[os.pwrite(self._file.fileno(), view, offset + len(blob) - len(view)):]
            spans += (offset, len(blob))
            self._end += len(blob)
        return partial(self._read, tuple(spans))

    def _read(self, spans: tuple[int, ...], what: str) -> dict[str, Any]:
        offset, size = spans[2 * PARTS.index(what):][:2]
        chunks, got = [], 0
        while got < size:
            chunk = os.pread(self._file.fileno(), size - got, offset + got)
            if not chunk:
                raise OSError(f"the temporary file of rendered units ends at {offset + got}, before {offset + size}")
            chunks.append(chunk)
            got += len(chunk)
        return marshal.loads(b"".join(chunks))


class UnitCache:
    """Unit metadata and content by key; a missing or broken file is an empty cache."""

    def __init__(self, path: Path | None, keep_in_memory: bool = False):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[str, bytes, bytes]] = {}  # key -> (meta JSON, objects, files)
        self._pending_bytes = 0
        self._spilled: dict[str, Reader] = {}  # key -> where a unit the file could not take went
        self.spill = SpillStore()
        self.keep_in_memory = keep_in_memory  # units that do not go to the file stay as they are

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                    with self._db:
                        self._db.execute("BEGIN IMMEDIATE")
                        self._db.execute("DROP TABLE IF EXISTS units")
                        self._db.execute(f"PRAGMA user_version = {SCHEMA}")
                self._db.execute("CREATE TABLE IF NOT EXISTS units "
                                 "(key TEXT PRIMARY KEY, meta TEXT, objects BLOB, files BLOB)")
            except sqlite3.Error:
                self.path, self._db = None, None  # an unusable cache never fails a compile
        return self._db

    def metas(self, keys: list[str]) -> dict[str, UnitMeta]:
        db = self._connect()
        if db is None or not keys:
            return {}
        found: dict[str, UnitMeta] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = db.execute(f"SELECT key, meta FROM units WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                found.update((key, UnitMeta.from_json(meta)) for key, meta in rows)
        except (sqlite3.Error, ValueError, KeyError):
            return {}
        return found

    def content(self, key: str, names: list[str], what: str) -> dict[str, Any] | None:
        """File name -> object (what='objects') or YAML bytes (what='files') of a stored unit
        with the file names `names`; None when it is gone or is not what `put` stores (the
        cache is untrusted)."""
        if key in self._spilled:
            return self._spilled[key](what)
        part = PARTS.index(what)
        if key in self._pending:
            blob: object = self._pending[key][1 + part]
        else:
            db = self._connect()
            if db is None:
                return None
            try:
                row = db.execute(f"SELECT {PARTS[part]} FROM units WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None
            blob = row[0] if row is not None else None
        try:
            content = marshal.loads(blob) if isinstance(blob, bytes) else None
        except (ValueError, EOFError, TypeError):
            return None
        return content if _plausible(content, names, dict if what == "objects" else bytes) else None

    def put(self, key: str, meta: UnitMeta, objects: dict[str, dict], files: dict[str, bytes],
            cacheable: bool = True) -> Reader:
        """Store a unit that rendered and validated cleanly, and say how to read it back.
        `cacheable` units are queued for the file (written in batches, and at `flush`); the
        others, and every unit when there is no usable file, go to the spill store."""
        if not cacheable or self._connect() is None:
            return partial(_held, objects, files) if self.keep_in_memory else self.spill.put(objects, files)
        entry = (meta.to_json(), marshal.dumps(objects), marshal.dumps(files))
        self._pending[key] = entry
        self._pending_bytes += len(entry[1]) + len(entry[2])
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()
        return partial(self.content, key, list(meta.names))

    def flush(self) -> None:
        """Write the queued units in one transaction. When the file cannot take them they go to
        the spill store, so that this compile can still read them."""
        db = self._connect()
        pending, self._pending, self._pending_bytes = self._pending, {}, 0
        if not pending:
            return
        try:
            if db is None:
                raise sqlite3.OperationalError("no cache file")
            with db:
                db.execute("BEGIN")
                db.executemany("INSERT OR REPLACE INTO units (key, meta, objects, files) VALUES (?, ?, ?, ?)",
                               [(key, *entry) for key, entry in pending.items()])
        except sqlite3.Error:  # a cache that cannot be written costs speed next time, nothing else
            for key, (_, objects, files) in pending.items():
                self._spilled[key] = self.spill.put(marshal.loads(objects), marshal.loads(files))


def _held(objects: dict[str, dict], files: dict[str, bytes], what: str) -> dict[str, Any]:
    return objects if what == "objects" else files


def _plausible(content: object, names: list[str], value_type: type) -> bool:
    """A stored unit's objects or files as `put` stores them: the unit's file names (plain
    ones) to objects or bytes."""
    return (isinstance(content, dict) and len(content) == len(names) and set(content) == set(names)
            and safe_file_names(list(content)) and all(isinstance(v, value_type) for v in content.values()))
