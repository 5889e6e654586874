"""Rendered units and lazy views over them.

A unit is one folder of rendered/ ('cluster/tenant', 'cluster/_platform', '_argocd'). A compile
renders, validates and serializes one unit at a time and hands it to a store (the unit cache,
or a temporary spill file when there is no cache), keeping only its key and file names: its
objects and YAML are read back from the store when someone asks, one unit at a time, so a
compile's memory does not grow with the objects it renders, and a compile that changes one
tenant never touches the other units' content.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Reads one part of a stored unit: loader("objects") -> file name -> object,
# loader("files") -> file name -> YAML bytes.
Loader = Callable[[str], dict[str, Any]]
PARTS = ("objects", "files")


@dataclass(slots=True)
class Unit:
    """One rendered folder: its key and file names; its content is read from its store on
    demand and not kept (a unit's content is as large as the unit, its names are not)."""

    path: str  # 'cluster/tenant'
    key: str  # content-determining key (the unit cache key)
    names: list[str]  # file names, sorted
    loader: Loader  # reads the objects or the YAML of the unit from where it is stored

    @property
    def objects(self) -> dict[str, dict]:
        return self.loader("objects")

    @property
    def files(self) -> dict[str, bytes]:
        return self.loader("files")


class UnitTree(Mapping[str, Any]):
    """'cluster/tenant/file.yaml' -> object (what='objects') or YAML bytes (what='files'),
    in sorted path order. A unit's content is loaded on first access and kept until another
    unit's is asked for: reading in path order (a unit's paths are adjacent) loads each unit
    once, and holds one at a time."""

    def __init__(self, units: dict[str, Unit], what: str):
        assert what in PARTS
        self.units = units
        self._what = what
        self._last: tuple[str, dict[str, Any]] | None = None

    def paths(self) -> Iterator[str]:
        """Every path in sorted order, made as it is asked for (a list of them all would be a
        string per object kept): units ordered by 'folder/', since '-' sorts before '/'
        ('a-x/f' < 'a/f'), then each unit's names, which are sorted."""
        for folder in sorted(self.units, key=lambda folder: folder + "/"):
            head = folder + "/"
            for name in self.units[folder].names:
                yield head + name

    def unit_content(self, unit: str) -> dict[str, Any]:
        """File name -> object or bytes of one unit folder."""
        if self._last is None or self._last[0] != unit:
            self._last = None  # the previous unit's content is dropped before the next is read
            self._last = (unit, getattr(self.units[unit], self._what))
        return self._last[1]

    def __getitem__(self, path: str) -> Any:
        unit, _, name = path.rpartition("/")
        if unit not in self.units or name not in self.units[unit].names:
            raise KeyError(path)
        return self.unit_content(unit)[name]

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        unit, _, name = path.rpartition("/")
        return unit in self.units and name in self.units[unit].names

    def __iter__(self) -> Iterator[str]:
        return self.paths()

    def __len__(self) -> int:
        return sum(len(u.names) for u in self.units.values())

    def unit_sizes(self) -> dict[str, int]:
        """Unit folder -> number of files, without reading any unit."""
        return {path: len(u.names) for path, u in self.units.items()}

    def unit_keys(self) -> dict[str, tuple[str, list[str]]]:
        """Unit -> (key, file names): what the writer needs to skip unchanged units unread."""
        return {path: (u.key, u.names) for path, u in self.units.items()}
