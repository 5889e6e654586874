"""Parsing a fresh clone's YAML spec files on another core while the command imports tenantc.

In a fresh clone (CI, a pull request's check) there is no parsed-YAML cache, and parsing
1,000 tenant files takes 0.1-0.15 s, while importing the compiler (pydantic building its
models) takes 0.2-0.3 s on one core and leaves the other idle. So `tenantc compile`, `check`
and `review` fork a child before those imports that parses every YAML spec file of the
repository as ParsedYamlCache would (the same caps); the load stage takes its entries, by the
digest of the bytes it reads itself, instead of parsing those files again. Only where it can
gain: two cores or more, and no parsed-YAML cache in the repository yet. The child reads and
writes nothing else, and any file it cannot read or parse it leaves to the load stage, which
reports it as ever.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from compiler.forked import Forked
from compiler.kinds import CACHE_DIR
from compiler.load.sources import PARSED_YAML_FILE, ParsedYamlCache, discover, read_capped

_parsing: Forked[dict[str, Any]] | None = None
_parsed: dict[str, Any] = {}  # what the child gave, for every read of this process (keyed by digest)


def start(root: Path) -> bool:
    """Parse the YAML spec files under `root` in a forked child, when that can gain (see the
    module's docstring); True when started."""
    global _parsing
    if _parsing is not None or len(os.sched_getaffinity(0)) < 2 or (root / CACHE_DIR / PARSED_YAML_FILE).exists():
        return False
    _parsing = Forked(lambda: parse_specs(root))
    return True


def taken() -> dict[str, Any]:
    """What the child parsed (file digest -> data), once it is done; {} when none was started.
    The first call waits for it; later ones (another revision's read) get the same entries."""
    global _parsing, _parsed
    if _parsing is not None:
        parsing, _parsing = _parsing, None
        _parsed = parsing.join()
    return _parsed


def stop() -> None:
    """The command is over: end a child whose result no one took, and drop what it gave."""
    global _parsing, _parsed
    if _parsing is not None:
        _parsing.kill()
        _parsing = None
    _parsed = {}


def parse_specs(root: Path) -> dict[str, Any]:
    """File digest -> parsed data of every YAML spec file under `root` within the caps."""
    cache = ParsedYamlCache(None)
    for rel in discover(root):
        if rel.endswith(".jsonnet"):
            continue
        try:
            raw = read_capped(root / rel, root)
            cache.load(raw, hashlib.sha256(raw).hexdigest())
        except Exception:  # noqa: BLE001 - the load stage reads it again and says what is wrong
            continue
    return cache.entries
