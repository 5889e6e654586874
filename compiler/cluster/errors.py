"""Errors of the local control plane, shown to users without a traceback (they are UserErrors)."""
from __future__ import annotations

from compiler.errors import UserError


class ClusterError(UserError):
    """The control plane could not be started, stopped or found (binaries, state dir, CRDs)."""


class ComponentError(ClusterError):
    """One component failed to start: names it and shows the end of its log, the usual clue."""

    def __init__(self, component: str, problem: str, log: str, tail: str, exited: bool = False):
        self.component = component
        self.exited = exited  # the process died (as opposed to: still not ready at the timeout)
        super().__init__(f"{component} {problem}; last lines of {log}:\n{tail}")
