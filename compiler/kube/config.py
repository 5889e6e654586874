"""Which clusters a command talks to, through which kubeconfig context, and the client for each.

The one place contexts are resolved, for diff, apply, status and review. The platform file
names each cluster's context. By default every platform cluster whose context the kubeconfig
has is a target, so one kubeconfig with all contexts drives a whole fleet and a laptop with
one context touches only that cluster. Naming clusters narrows the set; an explicit context
overrides the context of the one cluster chosen. When a single named cluster's context is
absent, the kubeconfig's current context is used and the target carries a note saying so,
printed by every command.

Files are read and merged as kubectl does (compiler/kube/kubeconfig.py); a context's user
becomes Credentials (compiler/kube/credentials.py: token, tokenFile, exec plugins, client
certificates, basic auth), and its cluster an Endpoint for the standard-library transport.
A context that yields no credential is a ConfigError naming it, never an anonymous client.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from compiler.agent.retry import RetryPolicy
from compiler.errors import UserError
from compiler.kube import kubeconfig as files
from compiler.kube.client import KubeClient
from compiler.kube.credentials import credentials_for
from compiler.kube.errors import ConfigError
from compiler.kube.kubeconfig import DEFAULT_KUBECONFIG as DEFAULT_KUBECONFIG
from compiler.kube.transport import Endpoint, HttpsTransport


@dataclass(frozen=True)
class Target:
    """One platform cluster and the kubeconfig context used to reach it."""

    cluster: str  # platform cluster name
    context: str  # kubeconfig context used to reach it
    note: str = ""  # said to the user when the context is not the platform's


@dataclass(frozen=True)
class Kubeconfig:
    """The contexts of a kubeconfig (one file or a KUBECONFIG-style list) and its current one."""

    path: str
    contexts: tuple[str, ...]
    current: str | None
    merged: files.MergedConfig | None = field(default=None, compare=False, repr=False)


def read_kubeconfig(path: str | None) -> Kubeconfig:
    """`path` (one file or an os.pathsep list), else $KUBECONFIG, else ~/.kube/config, merged as
    kubectl merges them; ConfigError when they cannot be read."""
    merged = files.load(path)
    return Kubeconfig(os.pathsep.join(merged.files), tuple(merged.contexts), merged.current, merged)


def select_targets(clusters: Mapping[str, str], kubeconfig: Kubeconfig, context: str | None = None,
                   names: Iterable[str] | None = None) -> list[Target]:
    """`clusters` maps platform cluster name -> its context; returns the clusters to act on."""
    wanted = list(dict.fromkeys(names or []))
    unknown = [n for n in wanted if n not in clusters]
    if unknown:
        raise UserError(f"unknown cluster(s) {', '.join(unknown)}; the platform has: {', '.join(clusters)}")
    if context is not None:
        return [_target_for_context(clusters, kubeconfig, context, wanted)]
    if len(wanted) == 1 and clusters[wanted[0]] not in kubeconfig.contexts:
        return [_current_context_target(clusters, kubeconfig, wanted[0])]
    chosen = wanted or list(clusters)
    missing = [n for n in chosen if clusters[n] not in kubeconfig.contexts]
    if wanted and missing:
        raise UserError(f"no kubeconfig context for cluster(s) {', '.join(missing)} (contexts: "
                        f"{_list(kubeconfig.contexts)}); name one --cluster to use the current context")
    targets = [Target(n, clusters[n]) for n in chosen if n not in missing]
    if not targets:
        raise UserError(f"none of the platform's contexts ({_list(clusters.values())}) is in the kubeconfig "
                        f"(contexts: {_list(kubeconfig.contexts)}); pass --cluster NAME to use the current "
                        "context, or --context")
    return targets


def _target_for_context(clusters: Mapping[str, str], kubeconfig: Kubeconfig, context: str,
                        names: list[str]) -> Target:
    """The one cluster an explicit context is for."""
    if context not in kubeconfig.contexts:
        raise UserError(f"context '{context}' is not in the kubeconfig (contexts: {_list(kubeconfig.contexts)})")
    if len(names) > 1:
        raise UserError("--context applies to one cluster; name exactly one --cluster with it")
    if names:
        return Target(names[0], context)
    matching = [n for n, c in clusters.items() if c == context]
    if len(matching) == 1:
        return Target(matching[0], context)
    if len(clusters) == 1:
        only = next(iter(clusters))
        return Target(only, context, f"cluster {only}: using context '{context}' instead of "
                                     f"'{clusters[only]}' (--context)")
    raise UserError(f"no single platform cluster uses context '{context}'; say which with --cluster NAME")


def _current_context_target(clusters: Mapping[str, str], kubeconfig: Kubeconfig, name: str) -> Target:
    """A named cluster whose context is absent: the current context, with a note."""
    if not kubeconfig.current:
        raise UserError(f"cluster {name}: context '{clusters[name]}' is not in the kubeconfig and it has "
                        "no current context; pass --context")
    return Target(name, kubeconfig.current, f"cluster {name}: context '{clusters[name]}' is not in the "
                                            f"kubeconfig; using the current context '{kubeconfig.current}'")


def connect(target: Target, kubeconfig: Kubeconfig, *, concurrency: int = 8, retry_for: float = 60.0,
            timeout: float = 60.0) -> KubeClient:
    """A client for the target's context (ConfigError naming the cluster and context when the
    context cannot be used). `concurrency` is how many threads the caller runs: each gets its own
    kept-alive connection, so it needs no setting here."""
    del concurrency
    try:
        settings = files.resolve(kubeconfig.merged or files.load(kubeconfig.path), target.context)
        credentials = credentials_for(settings)
        cluster = settings.cluster
        endpoint = Endpoint(cluster.server, ca_file=cluster.ca_file, ca_data=cluster.ca_data, insecure=cluster.insecure,
                            tls_server_name=cluster.tls_server_name, proxy=cluster.proxy)
        transport = HttpsTransport(endpoint, credentials, label=f"context '{target.context}'")
    except ConfigError as exc:
        raise ConfigError(f"cluster {target.cluster}: {exc}") from None
    return KubeClient(transport, retry=RetryPolicy(budget=retry_for), timeout=timeout)


def _list(values: Iterable[str]) -> str:
    values = list(values)
    return ", ".join(values) if values else "none"
