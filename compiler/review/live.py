"""What tenants use now: ResourceQuota status.used read from live clusters (--kubeconfig).

Optional and read-only: one GET per lowered quota, through the kubernetes client, using the
kubeconfig context the platform file names for each cluster. An unreachable cluster is a
warning in the report, never a failed review: the offline review is still right.
"""
from __future__ import annotations

from pathlib import Path

TIMEOUT_SECONDS = 10


class LiveQuotaUsage:
    """A `UsageReader`: (cluster, namespace, quota name) -> status.used, or None."""

    def __init__(self, kubeconfig: Path, contexts: dict[str, str]):
        self.kubeconfig = kubeconfig
        self.contexts = contexts
        self.warnings: list[str] = []
        self._apis: dict[str, object] = {}
        self._failed: set[str] = set()

    def __call__(self, cluster: str, namespace: str, name: str) -> dict[str, str] | None:
        api = self._api(cluster)
        if api is None:
            return None
        from kubernetes.client.exceptions import ApiException

        try:
            quota = api.read_namespaced_resource_quota(name, namespace, _request_timeout=TIMEOUT_SECONDS)
        except ApiException as exc:
            if exc.status == 404:  # not applied yet: nothing in use
                return None
            self._warn(cluster, f"reading ResourceQuota {namespace}/{name}: HTTP {exc.status} {exc.reason}")
            return None
        except Exception as exc:  # connection refused, TLS, timeouts: the review goes on offline
            self._warn(cluster, f"reading ResourceQuota {namespace}/{name}: {type(exc).__name__}: {exc}")
            return None
        return dict((quota.status.used if quota.status else None) or {})

    def _api(self, cluster: str):
        if cluster in self._apis or cluster in self._failed:
            return self._apis.get(cluster)
        context = self.contexts.get(cluster, cluster)
        try:
            from kubernetes import client, config

            api_client = config.new_client_from_config(config_file=str(self.kubeconfig), context=context)
        except Exception as exc:  # missing file, unknown context
            self._failed.add(cluster)
            self._warn(cluster, f"kubeconfig {self.kubeconfig}, context {context}: {exc}")
            return None
        self._apis[cluster] = client.CoreV1Api(api_client)
        return self._apis[cluster]

    def _warn(self, cluster: str, message: str) -> None:
        self.warnings.append(f"live usage on cluster {cluster} not checked: {message}")
