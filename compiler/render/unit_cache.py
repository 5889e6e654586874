"""A content-addressed cache of rendered units (one tenant on one cluster), so a one-tenant
change in a thousand-tenant repository renders, validates and serializes one tenant.

A unit's key hashes everything its objects can depend on: tenantc's own code and the
libraries that shape output or verdicts, the platform, the tenant's spec, the specs of the
tenants it imports datasets from, the cluster, and the schemas it was validated against.
Only units that rendered and validated cleanly are stored, so a hit is a unit known good.

Storage is one SQLite file (standard library; one file instead of thousands, transactional):
`meta` is small JSON read for every unit (file names, what Argo CD needs, kinds not
validated); `payload` (objects and YAML bytes) is read only when someone asks for the content.
Payloads are `marshal`ed, the format of Python's own __pycache__ (7x faster to write than
JSON, and these are plain dicts, lists and strings); the key includes the Python version, and
like __pycache__ the file is trusted as the user's own.
"""
from __future__ import annotations

import hashlib
import json
import marshal
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

SCHEMA = 2
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


SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.yaml$")  # what renderers name files


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
        if not (isinstance(names, list) and all(isinstance(n, str) and SAFE_FILE_NAME.match(n) for n in names)
                and isinstance(summary, dict) and isinstance(unchecked, list)):
            raise ValueError("a cached unit with file names or data tenantc does not write")
        return cls(names, summary, unchecked)


class UnitCache:
    """get/put of unit metadata and payloads by key; a missing or broken file is an empty cache."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str, bytes]] = []

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS units (key TEXT PRIMARY KEY, meta TEXT, payload BLOB)")
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

    def payload(self, key: str) -> tuple[dict[str, dict], dict[str, bytes]] | None:
        """(file name -> object, file name -> YAML bytes) of a stored unit; None when it is
        gone or is not what `put` stores (the cache is untrusted)."""
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT payload FROM units WHERE key = ?", (key,)).fetchone()
            payload = marshal.loads(row[0]) if row is not None and isinstance(row[0], bytes) else None
        except (sqlite3.Error, ValueError, EOFError, TypeError):
            return None
        if not (isinstance(payload, tuple) and len(payload) == 2 and isinstance(payload[0], dict)
                and isinstance(payload[1], dict) and set(payload[0]) == set(payload[1])
                and all(isinstance(n, str) and SAFE_FILE_NAME.match(n) and isinstance(b, bytes)
                        for n, b in payload[1].items())):
            return None
        return payload

    def put(self, key: str, meta: UnitMeta, objects: dict[str, dict], files: dict[str, bytes]) -> None:
        """Queued; `flush` stores every queued unit in one transaction. A cache without a
        file (use_cache=False) keeps nothing, and spends nothing on encoding it."""
        if self.path is None:
            return
        self._pending.append((key, meta.to_json(), marshal.dumps((objects, files))))

    def flush(self) -> None:
        db = self._connect()
        pending, self._pending = self._pending, []
        if db is None or not pending:
            return
        try:
            with db:
                db.execute("BEGIN")
                db.executemany("INSERT OR REPLACE INTO units (key, meta, payload) VALUES (?, ?, ?)", pending)
        except sqlite3.Error:
            pass  # a cache that cannot be written costs speed next time, nothing else
