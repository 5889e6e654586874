"""`tenantc-agent --version`: its version and what it talks to the API server with.

The agent runs in a slim image with the standard library only (docker/agent.Dockerfile), so
this module imports nothing of the compiler and nothing outside the standard library; it
reports what a bug report needs: the tenantc release the agent comes from, the Python it runs
on, its HTTP client, and whether it can read a kubeconfig (PyYAML, only needed outside a pod).
Computed only when `--version` is given.
"""
from __future__ import annotations

import argparse
import sys


class AgentVersionAction(argparse.Action):
    """`--version`: print `self.text()` and exit 0 (computed only when asked; argparse's own
    action needs the text up front). tenantc's `--version` is the same action with its own text."""

    HELP = "show the agent's version and what it uses, then exit"

    @staticmethod
    def text() -> str:
        return version_text()

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help or self.HELP)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(self.text())
        parser.exit()


def version_text() -> str:
    from importlib.util import find_spec

    from compiler import __version__

    if find_spec("yaml") is None:
        kubeconfig = "in-pod service account only (PyYAML not installed, so no --kubeconfig)"
    else:
        kubeconfig = f"service account in a pod; --kubeconfig with PyYAML {_distribution_version('PyYAML')}"
    rows = [("python", f"{sys.version.split()[0]} ({sys.implementation.name})"),
            ("kubernetes api", "standard-library HTTP client (http.client), no client package"),
            ("credentials", kubeconfig)]
    width = max(len(label) for label, _ in rows) + 1
    return f"tenantc-agent {__version__}\n" + "".join(f"  {label + ':':<{width}} {value}\n" for label, value in rows)


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:  # importable but not installed as a distribution (e.g. copied in)
        return "(version unknown)"
