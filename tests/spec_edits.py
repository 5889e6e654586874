"""Edits of a copied example repository, as data: what every bad-input case and every
`TempRepo` in the workload tests apply before compiling.

An edit is a tuple whose first item names the operation:
  ("text", file, old, new)     replace text that occurs exactly once in tenants/<file>
  ("set", file, path, value)   set a field of the parsed YAML ('jobs[0].roles[1].image')
  ("delete", file, path)       delete a field
  ("append", file, path, value) append to a list (created when missing)
  ("call", function)           anything else: function(root)
and, for hostile input, on paths relative to the repository root ('{outside}' in a path or a
link target is the folder beside the repository that no command may touch):
  ("write", path, text|bytes)  create or replace a file
  ("append-text", file, text)  append text to tenants/<file>
  ("symlink", path, target)    a symlink at path pointing at target
  ("mkdir", path) / ("fifo", path) / ("remove", path)
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """'jobs[0].roles[1].image' -> ['jobs', 0, 'roles', 1, 'image']."""
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def walk(data: Any, path: str) -> tuple[Any, str | int]:
    """The container holding the last step of `path`, and that step."""
    *parents, last = steps(path)
    for step in parents:
        data = data[step]
    return data, last


def edit_yaml(root: Path, file: str, change: Callable[[Any], Any]) -> None:
    """Apply `change` to the parsed tenants/<file> and write it back."""
    path = root / "tenants" / file
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a file in place; the text to replace must be there exactly once (so a changed
    example file fails loudly here instead of silently testing nothing)."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new))


def _set(data: Any, path: str, value: Any) -> None:
    parent, key = walk(data, path)
    parent[key] = copy.deepcopy(value)


def _delete(data: Any, path: str) -> None:
    parent, key = walk(data, path)
    del parent[key]


def _append(data: Any, path: str, value: Any) -> None:
    parent, key = walk(data, path)
    parent.setdefault(key, []).append(copy.deepcopy(value))


def _at(root: Path, path: str) -> Path:
    return Path(path.replace("{outside}", str(root.parent / "outside"))) if "{outside}" in path else root / path


def _write(root: Path, path: str, content: str | bytes) -> None:
    target = _at(root, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)


def _remove(root: Path, path: str) -> None:
    target = _at(root, path)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink()


_FILE_OPS = {
    "write": _write,
    "append-text": lambda root, file, text: _write(root, f"tenants/{file}",
                                                   (root / "tenants" / file).read_text() + text),
    "symlink": lambda root, path, target: _at(root, path).symlink_to(
        target.replace("{outside}", str(root.parent / "outside"))),
    "mkdir": lambda root, path: _at(root, path).mkdir(parents=True),
    "fifo": lambda root, path: os.mkfifo(_at(root, path)),
    "remove": _remove,
}


def apply_edit(root: Path, edit: tuple) -> None:
    op, *args = edit
    if op in _FILE_OPS:
        _FILE_OPS[op](root, *args)
    elif op == "text":
        file, old, new = args
        replace_once(root / "tenants" / file, old, new)
    elif op == "set":
        file, path, value = args
        edit_yaml(root, file, lambda data: _set(data, path, value))
    elif op == "delete":
        file, path = args
        edit_yaml(root, file, lambda data: _delete(data, path))
    elif op == "append":
        file, path, value = args
        edit_yaml(root, file, lambda data: _append(data, path, value))
    elif op == "call":
        args[0](root)
    else:
        raise ValueError(f"unknown edit {op!r}")


def apply_edits(root: Path, edits: Iterable[tuple]) -> None:
    for edit in edits:
        apply_edit(root, edit)


def small_tenant(name: str, cpu: int) -> str:
    """A minimal valid tenant file on cpu-west that no other tenant names: what random-edit
    tests add."""
    return f"""name: {name}
displayName: New team {name}
owner: new@example.com
members: [{{user: new@example.com, role: admin}}]
quota: {{cpu: "{cpu}", memory: 64Gi, pods: 100, pvcs: 2, storage: 1Ti}}
placement: {{cpu-west: {{weight: 1}}}}
queue: {{weight: 1}}
"""
