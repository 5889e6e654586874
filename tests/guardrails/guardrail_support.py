"""Helpers of the guardrail tests that are not fixtures."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/helpers.py

from helpers import copy_repo, crd_dirs  # noqa: E402


def compile_variant(tmp_path: Path, edit) -> object:
    """The example with `edit(platform: dict)` applied to tenants/platform.yaml, compiled."""
    from compiler.pipeline import compile_repo

    root = copy_repo(tmp_path / "repo")
    platform = yaml.safe_load((root / "tenants" / "platform.yaml").read_text())
    edit(platform)
    (root / "tenants" / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    return compile_repo(root, crd_dirs(), serialize=False)
