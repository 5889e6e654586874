"""Rendered units and lazy views over them.

A unit is one folder of rendered/ ('cluster/tenant', 'cluster/_platform', '_argocd'). A unit
may come fresh from the renderers or from the unit cache; either way its file names and key
are known up front and its objects and YAML are only read when someone asks, so a compile
that changes one tenant never touches the other units' content.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Loader = Callable[[], tuple[dict[str, dict], dict[str, bytes]]]


@dataclass
class Unit:
    """One rendered folder: its key and file names, its content held or loaded on demand."""

    path: str  # 'cluster/tenant'
    key: str  # content-determining key (the unit cache key)
    names: list[str]  # file names, sorted
    loader: Loader | None = None  # reads (objects, files) when they are not held
    _objects: dict[str, dict] | None = field(default=None, repr=False)
    _files: dict[str, bytes] | None = field(default=None, repr=False)

    def _load(self) -> None:
        if self._objects is None or self._files is None:
            assert self.loader is not None, f"unit {self.path} has neither content nor loader"
            self._objects, self._files = self.loader()

    @property
    def objects(self) -> dict[str, dict]:
        self._load()
        return self._objects  # type: ignore[return-value]

    @property
    def files(self) -> dict[str, bytes]:
        self._load()
        return self._files  # type: ignore[return-value]


class UnitTree(Mapping[str, Any]):
    """'cluster/tenant/file.yaml' -> object (what='objects') or YAML bytes (what='files'),
    in sorted path order, loading a unit's content on first access."""

    def __init__(self, units: dict[str, Unit], what: str):
        self.units = units
        self._what = what
        self._paths: list[str] | None = None

    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = sorted(f"{u.path}/{n}" for u in self.units.values() for n in u.names)
        return self._paths

    def __getitem__(self, path: str) -> Any:
        unit, _, name = path.rpartition("/")
        if unit not in self.units or name not in self.units[unit].names:
            raise KeyError(path)
        return getattr(self.units[unit], self._what)[name]

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        unit, _, name = path.rpartition("/")
        return unit in self.units and name in self.units[unit].names

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths())

    def __len__(self) -> int:
        return sum(len(u.names) for u in self.units.values())

    def unit_sizes(self) -> dict[str, int]:
        """Unit folder -> number of files, without reading any unit."""
        return {path: len(u.names) for path, u in self.units.items()}

    def unit_keys(self) -> dict[str, tuple[str, list[str]]]:
        """Unit -> (key, file names): what the writer needs to skip unchanged units unread."""
        return {path: (u.key, u.names) for path, u in self.units.items()}
