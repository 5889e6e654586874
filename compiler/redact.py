"""The one place that hides Secret values from everything tenantc prints.

tenantc renders no Secrets, but diff and review show live objects and other revisions, which
may hold them. Values are replaced by markers that still say whether a value changed, so a
reviewer sees that a key changed without seeing either value.
"""
from __future__ import annotations

import copy

MASK = "***"
SECRET_SECTIONS = ("data", "stringData")


def is_secret(obj: dict | None) -> bool:
    """A core v1 Secret (other kinds named Secret are not the built-in one)."""
    return bool(obj) and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"  # type: ignore[union-attr]


def mask_pair(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Copies of two versions of an object with Secret values replaced: `***` where a value is
    the same in both, `*** (before)` / `*** (after)` where it changed. Other kinds pass as they are."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    before, after = copy.deepcopy(before), copy.deepcopy(after)
    for section in SECRET_SECTIONS:
        old = (before or {}).get(section) or {}
        new = (after or {}).get(section) or {}
        for key in set(old) | set(new):
            same = key in old and key in new and old[key] == new[key]
            if key in old:
                old[key] = MASK if same else f"{MASK} (before)"
            if key in new:
                new[key] = MASK if same else f"{MASK} (after)"
    return before, after
