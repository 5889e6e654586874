"""Which clusters a command talks to, and through which kubeconfig context.

The platform file names each cluster's context. By default every platform cluster whose
context the kubeconfig has is a target, so one kubeconfig with all contexts drives a whole
fleet and a laptop with one context touches only that cluster. `--cluster` narrows the set;
`--context` overrides the context of the one cluster chosen. When `--cluster` names a
single cluster whose context is absent, the kubeconfig's current context is used and the
target carries a note saying so, printed by every command.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from compiler.errors import Problems, UserError
from compiler.live.client import KubeClient

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class Target:
    cluster: str  # platform cluster name
    context: str  # kubeconfig context used to reach it
    note: str = ""  # said to the user when the context is not the platform's


@dataclass(frozen=True)
class Kubeconfig:
    path: str  # one file or a KUBECONFIG-style list
    contexts: tuple[str, ...]
    current: str | None


def add_access_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster access")
    group.add_argument("--kubeconfig", metavar="PATH",
                       help=f"kubeconfig file(s) (default: $KUBECONFIG or {DEFAULT_KUBECONFIG})")
    group.add_argument("--context", metavar="NAME",
                       help="kubeconfig context to use instead of the platform's for the chosen cluster")
    group.add_argument("--cluster", metavar="NAME", action="append", default=[],
                       help="platform cluster to act on; repeatable (default: every platform cluster "
                            "whose context is in the kubeconfig)")


def read_kubeconfig(path: str | None) -> Kubeconfig:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import list_kube_config_contexts

    path = path or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    expanded = os.pathsep.join(str(Path(p).expanduser()) for p in path.split(os.pathsep) if p)
    try:
        contexts, current = list_kube_config_contexts(config_file=expanded)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise UserError(f"cannot read kubeconfig {path}: {exc}") from None
    return Kubeconfig(expanded, tuple(c["name"] for c in contexts or []), (current or {}).get("name"))


def select_targets(clusters: dict[str, str], kubeconfig: Kubeconfig, context: str | None = None,
                   names: list[str] | None = None) -> list[Target]:
    """`clusters` maps platform cluster name -> its context; returns the clusters to act on."""
    names = list(dict.fromkeys(names or []))
    unknown = [n for n in names if n not in clusters]
    if unknown:
        raise UserError(f"unknown cluster(s) {', '.join(unknown)}; the platform has: {', '.join(clusters)}")
    if context is not None and context not in kubeconfig.contexts:
        raise UserError(f"context '{context}' is not in the kubeconfig (contexts: {_list(kubeconfig.contexts)})")
    if context is not None:
        if len(names) > 1:
            raise UserError("--context applies to one cluster; name exactly one --cluster with it")
        if names:
            return [Target(names[0], context)]
        matching = [n for n, c in clusters.items() if c == context]
        if len(matching) == 1:
            return [Target(matching[0], context)]
        if len(clusters) == 1:
            only = next(iter(clusters))
            return [Target(only, context, f"cluster {only}: using context '{context}' instead of "
                                          f"'{clusters[only]}' (--context)")]
        raise UserError(f"no single platform cluster uses context '{context}'; say which with --cluster NAME")
    if len(names) == 1 and clusters[names[0]] not in kubeconfig.contexts:
        name = names[0]
        if not kubeconfig.current:
            raise UserError(f"cluster {name}: context '{clusters[name]}' is not in the kubeconfig and it has "
                            "no current context; pass --context")
        return [Target(name, kubeconfig.current,
                       f"cluster {name}: context '{clusters[name]}' is not in the kubeconfig; using the "
                       f"current context '{kubeconfig.current}'")]
    chosen = names or list(clusters)
    missing = [n for n in chosen if clusters[n] not in kubeconfig.contexts]
    if names and missing:
        raise UserError(f"no kubeconfig context for cluster(s) {', '.join(missing)} (contexts: "
                        f"{_list(kubeconfig.contexts)}); name one --cluster to use the current context")
    targets = [Target(n, clusters[n]) for n in chosen if n not in missing]
    if not targets:
        raise UserError(f"none of the platform's contexts ({_list(clusters.values())}) is in the kubeconfig "
                        f"(contexts: {_list(kubeconfig.contexts)}); pass --cluster NAME to use the current "
                        "context, or --context")
    return targets


def connect(target: Target, kubeconfig: Kubeconfig, *, concurrency: int = 8, retry_for: float = 60.0,
            timeout: float = 60.0) -> KubeClient:
    """A client for the target's context, using the kubernetes package's credential handling."""
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import load_kube_config

    configuration = Configuration()
    try:
        load_kube_config(config_file=kubeconfig.path, context=target.context,
                         client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise UserError(f"cluster {target.cluster}: cannot use context '{target.context}': {exc}") from None
    return KubeClient(configuration, pool_size=concurrency, retry_for=retry_for, timeout=timeout)


def load_platform(root: Path):
    """The platform file alone (status needs no compile, and no tenant file must block it)."""
    from compiler.load.sources import PLATFORM_FILE, read_sources
    from compiler.model import validate_model
    from compiler.model.platform import Platform

    problems = Problems()
    sources = read_sources(root, problems, [f"tenants/{PLATFORM_FILE}"])
    platform = validate_model(Platform, sources.platform, problems) if sources.platform else None
    if platform is None:
        detail = "; ".join(str(p) for p in problems.items) or f"no tenants/{PLATFORM_FILE} under {root}"
        raise UserError(f"cannot read the platform file: {detail}")
    return platform


def cluster_contexts(platform) -> dict[str, str]:
    return {c.name: c.context for c in platform.clusters}


def _list(values) -> str:
    values = list(values)
    return ", ".join(values) if values else "none"
