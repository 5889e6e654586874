"""A reader that goes away ends the CLI quietly; calling `main()` in a process never changes
how that process treats SIGPIPE (a library call must not make a dropped socket fatal)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from helpers import REPO, copy_repo

from compiler.cli import BROKEN_PIPE_EXIT, main


def test_stdout_closed_by_its_reader_ends_quietly(tmp_path):
    root = copy_repo(tmp_path / "repo")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "compiler.cli", "compile", "--root", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before the first line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == BROKEN_PIPE_EXIT, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_main_leaves_the_sigpipe_disposition_alone(capsys):
    before = signal.getsignal(signal.SIGPIPE)
    assert before == signal.SIG_IGN  # Python's own setting: a dropped socket raises, never kills
    with pytest.raises(SystemExit):  # argparse ends --help with SystemExit(0)
        main(["--help"])
    assert "usage: tenantc" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGPIPE) == before
