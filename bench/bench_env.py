"""Separate virtual environments for the tools the benchmarks compare tenantc with.

A tool such as Kapitan pins its own dependency versions (pydantic, jsonschema, PyYAML ...), so it
never shares tenantc's environment: it gets a virtualenv of its own in the user cache, keyed by
its pinned version, `${XDG_CACHE_HOME:-~/.cache}/tenantc/bench/<name>-<version>/` (the same cache
root as the control plane binaries, tools/controlplane/build.sh). It is made once, by the
ordinary `pip` of the new environment with the machine's own pip configuration (no package
index is named here), under a lock so that concurrent benchmarks wait instead of racing.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

INSTALL_TIMEOUT = 1200  # seconds; a cold pip install of Kapitan's dependency tree takes a few minutes
MARKER = ".installed"


class ToolUnavailable(Exception):
    """The tool could not be installed; the message says why (pip's last lines)."""


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tenantc" / "bench"


def tool_home(name: str, version: str) -> Path:
    return cache_root() / f"{name}-{version}"


def ready(name: str, version: str) -> Path | None:
    """The environment's bin/ folder when the tool is installed there, else None."""
    home = tool_home(name, version)
    return home / "bin" if (home / MARKER).is_file() else None


def ensure_tool(name: str, version: str, python: str = sys.executable) -> Path:
    """Install `name==version` into its own environment once; its bin/ folder.

    Raises ToolUnavailable with pip's (or venv's) reason when that fails; a half-made
    environment is removed so that the next run starts over."""
    if (found := ready(name, version)) is not None:
        return found
    home = tool_home(name, version)
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (found := ready(name, version)) is not None:
            return found
        shutil.rmtree(home, ignore_errors=True)
        requirement = f"{name}=={version}"
        print(f"installing {requirement} into {home} (once) ...", file=sys.stderr, flush=True)
        steps = {"python -m venv": [python, "-m", "venv", str(home)],
                 f"pip install {requirement}": [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                                "--disable-pip-version-check", requirement]}
        for step, argv in steps.items():
            _run_step(step, argv, home)
        (home / MARKER).write_text(requirement + "\n")
    return home / "bin"


def _run_step(step: str, argv: list[str], home: Path) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise ToolUnavailable(f"{step}: {exc}") from exc
    if result.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        lines = [x.strip() for x in (result.stderr or result.stdout).splitlines() if x.strip()]
        raise ToolUnavailable(f"{step} exited {result.returncode}: {lines[-1] if lines else 'no output'}")
