"""What the `tenantc` process does around its command.

The CLI leaves pydantic's plugins off (they are found by reading the entry points of every
installed distribution, and tenantc has no use for them), unless the user says otherwise with
PYDANTIC_DISABLE_PLUGINS. A real plugin, installed as a distribution with a `pydantic` entry
point (https://docs.pydantic.dev/latest/concepts/plugins/), records whether pydantic loaded it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI's main (so its settings apply), then builds the spec models as a compile does.
SCRIPT = """
import contextlib, io, sys
from compiler.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["--version"])
import compiler.model
"""


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """A folder on PYTHONPATH holding one pydantic plugin distribution that leaves a marker file."""
    site = tmp_path / "site"
    (site / "marker_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "marker_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: marker-plugin\nVersion: 1.0\n")
    (site / "marker_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[pydantic]\nmarker = marker_plugin:plugin\n")
    (site / "marker_plugin.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['MARKER']).write_text('loaded')\n"
        "class _Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = _Plugin()\n")
    return site


def _run(site: Path, marker: Path, **env: str) -> None:
    base = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    path = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, timeout=120,
                   env={**base, "PYTHONPATH": path, "MARKER": str(marker), **env})


def test_the_cli_does_not_load_pydantic_plugins(plugin_site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _run(plugin_site, marker)
    assert not marker.exists()


def test_a_user_can_turn_pydantic_plugins_back_on(plugin_site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _run(plugin_site, marker, PYDANTIC_DISABLE_PLUGINS="")
    assert marker.read_text() == "loaded"


def test_the_console_command_passes_main_s_exit_code_and_skips_the_teardown(tmp_path: Path) -> None:
    """`tenantc` (console_main) passes main's exit code on. Compile, check and review end the
    process themselves, as a normal exit but for the interpreter's teardown: exit handlers run
    and buffered output is written, but no module global is freed (compiler.exiting). Any other
    command returns with every object frozen out of the collector's reach, and the teardown
    (which the probe object shows it sees) follows."""
    # The probe lives in a module of its own, freed when the teardown empties sys.modules: a
    # global of __main__ is freed only if __main__ outlives that step, which depends on what
    # else refers to it (it did not once the modules came from byte code, as after `make bench`).
    code = ("import atexit, gc, os, sys, types; from compiler.cli import console_main\n"
            "sys.argv = ['tenantc'] + sys.argv[1:]\n"
            "class Probe:\n    def __del__(self, write=os.write): write(2, b'torn down\\n')\n"
            "holder = types.ModuleType('teardown_probe'); holder.probe = Probe()\n"
            "sys.modules['teardown_probe'] = holder; del holder\n"
            "atexit.register(lambda: sys.stderr.write('exit handler\\n'))\n"
            "print('buffered', end='')\n"
            "status = console_main(); print('frozen', gc.get_freeze_count() > 0, file=sys.stderr); sys.exit(status)")
    for args, status, ends_itself in ((["init", str(tmp_path / "new")], 0, False),
                                      (["compile", "--root", str(tmp_path / "none")], 2, True)):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert run.returncode == status and run.stdout.startswith("buffered"), (args, run.stderr[-500:])
        assert "exit handler" in run.stderr, (args, run.stderr[-500:])
        assert ("frozen True" in run.stderr) != ends_itself, (args, run.stderr[-500:])
        assert ("torn down" in run.stderr) != ends_itself, (args, run.stderr[-500:])
