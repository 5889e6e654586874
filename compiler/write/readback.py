"""Reading rendered/ back to compare it with a compile: bounded, and never outside the tree.

`check`, and diff and apply (which insist on an up-to-date tree), compare the files of a
pull request's rendered/ with what its specs compile to, so rendered/ is hostile input: a unit
folder or a file may be a symlink to anywhere on the machine, a FIFO, or gigabytes long. A
unit folder is opened one component at a time below rendered/ with O_NOFOLLOW, a file only
when the listing says it is a regular file (and then O_NOFOLLOW and O_NONBLOCK, in case it was
swapped since), and no file is read past one byte more than the compile's own version of it.
Whatever is not a plain folder or file differs; memory stays bounded by the compile's output.

Opening relative to the folder's descriptor also spares the path lookups of whole paths (and
pathlib's objects): at 29,000 files, about a third of the time `Path.read_bytes` took.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compiler.load.limits import read_at_most

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


@dataclass
class UnitDifference:
    """How one unit folder on disk differs from the compile's files for it (file names)."""

    missing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    not_a_folder: bool = False  # the unit's path is a symlink (or no longer a folder): nothing in it was read


class TreeReader:
    """rendered/ opened once, its unit folders below it without following any symlink."""

    def __init__(self, out: Path):
        self._root = os.open(out, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)  # rendered/ itself: see folder_problems
        self._clusters: dict[str, int | None] = {}

    def __enter__(self) -> TreeReader:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self._clusters.values():
            if fd is not None:
                os.close(fd)
        os.close(self._root)

    def compare_unit(self, unit: str, wanted: Mapping[str, bytes]) -> UnitDifference:
        """Unit folder `unit` ('cluster/tenant' or '_argocd') against `wanted` (name -> bytes)."""
        found = UnitDifference()
        fd = self._open_unit(unit)
        if fd is None:
            found.not_a_folder = True
            found.differing = sorted(wanted)
            return found
        try:
            seen = set()
            with os.scandir(fd) as entries:
                for entry in entries:
                    seen.add(entry.name)
                    want = wanted.get(entry.name)
                    if want is None:
                        found.extra.append(entry.name)
                    elif not entry.is_file(follow_symlinks=False) or not _holds(fd, entry.name, want):
                        found.differing.append(entry.name)
            found.missing = [name for name in wanted if name not in seen]
        finally:
            os.close(fd)
        return found

    def _open_unit(self, unit: str) -> int | None:
        cluster, _, tenant = unit.partition("/")
        if not tenant:
            return _open_folder(self._root, cluster)
        if cluster not in self._clusters:
            self._clusters[cluster] = _open_folder(self._root, cluster)
        parent = self._clusters[cluster]
        return _open_folder(parent, tenant) if parent is not None else None


def _open_folder(parent: int, name: str) -> int | None:
    try:
        return os.open(name, _FOLDER, dir_fd=parent)
    except OSError:  # a symlink (ELOOP), not a folder (ENOTDIR), gone since it was listed
        return None


def _holds(folder: int, name: str, want: bytes) -> bool:
    """Whether file `name` in `folder` holds exactly `want`, reading at most one byte more."""
    try:
        fd = os.open(name, _FILE, dir_fd=folder)
    except OSError:
        return False
    try:
        return read_at_most(fd, len(want) + 1, len(want)) == want
    except OSError:  # a FIFO with no writer (EAGAIN), a folder (EISDIR): not the file wanted
        return False
    finally:
        os.close(fd)
