"""One function run in a forked child while this process goes on with other work.

Review compiles its base revision this way, and `check --base` plans it: the two revisions are
independent, and a CI runner has more than one core. The result comes back pickled through a
file in a private temporary folder; our own child wrote it, so unpickling it is safe. A child
that crashes, or a system without fork, costs nothing but the time: `join` then runs the
function here.
"""
from __future__ import annotations

import os
import pickle
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """`fn()` running in a forked child. `fn` should return its outcome rather than raise: an
    exception in the child counts as a crash, and `join` runs `fn` again here."""

    def __init__(self, fn: Callable[[], T]):
        self.fn = fn
        self.pid = 0
        self.folder: Path | None = None
        if not hasattr(os, "fork"):
            return
        self.folder = Path(tempfile.mkdtemp(prefix="tenantc-fork-"))
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: run, write, and leave without the parent's exit handlers
            code = 1
            try:
                payload = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                (self.folder / "result.pickle").write_bytes(payload)
                code = 0
            finally:
                os._exit(code)

    def join(self) -> T:
        """The child's result, or `fn()` run here when the child did not deliver one."""
        if self.pid:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.pid = 0
                if status == 0 and self.folder is not None:
                    return pickle.loads((self.folder / "result.pickle").read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError):
                pass
            finally:
                self.kill()
        return self.fn()

    def kill(self) -> None:
        """Stop the child if it still runs (the parent failed or was interrupted)."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
