"""What tenants use now: ResourceQuota status.used read from live clusters (--kubeconfig).

Optional and read-only: one GET per lowered quota, through compiler.kube (the client and the
context resolution diff, apply and status use), with the kubeconfig context the platform file
names for each cluster. An unreachable cluster is a warning in the report, never a failed
review: the offline review is still right.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from compiler.kube.client import KubeClient
from compiler.kube.config import Kubeconfig, Target, connect, read_kubeconfig
from compiler.kube.errors import ApiError, ConfigError, KubeError

TIMEOUT_SECONDS = 10  # per request, and the retry budget of each: a review must not hang on a cluster


class LiveQuotaUsage:
    """A `UsageReader`: (cluster, namespace, quota name) -> status.used, or None."""

    def __init__(self, kubeconfig: Path, contexts: dict[str, str]):
        self.kubeconfig = kubeconfig
        self.contexts = contexts
        self.warnings: list[str] = []
        self._clients: dict[str, KubeClient] = {}
        self._failed: set[str] = set()
        self._config: Kubeconfig | None = None

    def __call__(self, cluster: str, namespace: str, name: str) -> dict[str, str] | None:
        client = self._client(cluster)
        if client is None:
            return None
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/resourcequotas/{quote(name, safe='')}"
        try:
            quota = client.get(path)
        except ApiError as exc:
            if exc.not_found:  # not applied yet: nothing in use
                return None
            self._warn(cluster, f"reading ResourceQuota {namespace}/{name}: HTTP {exc.status} {exc.reason}")
            return None
        except KubeError as exc:  # connection refused, TLS, timeouts: the review goes on offline
            self._warn(cluster, f"reading ResourceQuota {namespace}/{name}: {exc}")
            return None
        return dict((quota.get("status") or {}).get("used") or {})

    def _client(self, cluster: str) -> KubeClient | None:
        if cluster in self._clients or cluster in self._failed:
            return self._clients.get(cluster)
        context = self.contexts.get(cluster, cluster)
        try:
            if self._config is None:
                self._config = read_kubeconfig(str(self.kubeconfig))
            client = connect(Target(cluster, context), self._config, concurrency=1, retry_for=TIMEOUT_SECONDS,
                             timeout=TIMEOUT_SECONDS)
        except ConfigError as exc:  # missing file, unknown context
            self._failed.add(cluster)
            self._warn(cluster, f"kubeconfig {self.kubeconfig}, context {context}: {exc}")
            return None
        self._clients[cluster] = client
        return client

    def _warn(self, cluster: str, message: str) -> None:
        self.warnings.append(f"live usage on cluster {cluster} not checked: {message}")
