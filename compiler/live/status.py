"""`tenantc status`: what each tenant has and uses on a cluster, read in one LIST per kind.

Per tenant: ResourceQuota used/hard, the Volcano Queue's state and allocation, Fluid
Datasets with phase and cached percentage, Volcano Jobs with phase, and tenantc-agent
heartbeats (Leases labelled by the agent) with their age. Namespaces labelled by tenantc
map namespaces to tenants. A kind the cluster does not serve (a CRD not installed) gives
None in the report, shown as n/a, and a list of what was unavailable; never a crash.

Through an API server restart: status first waits (within the client's retry budget) until
/readyz answers ok, because a restarting API server answers before it is ready and its
discovery then lacks the CRD groups, which would show as a silent n/a. A LIST refused with
403 or 404 while the server turns out not to be ready (it restarted meanwhile: RBAC and CRDs
not loaded yet) is sent again once it is. A server that does not answer or does not get
ready within the budget is an error that says so, with the server and the last reason.

With a member's own rights: a member may read only their tenant's namespace (the
tenantc-member-* roles grant nothing cluster-scoped). When tenants are named (`--tenant`)
and the credentials cannot list Namespaces, status reads each named tenant's namespace
alone, with namespace-scoped LISTs only; the cluster-scoped Queue then shows as n/a.

Each job carries what its pods' tenantc-agent sidecars report (the status ConfigMap
`tenantc-status-<job>`: phase, progress, message, metrics, final) with the age of each
pod's heartbeat Lease.

JSON shape (stable): {"apiVersion", "kind": "StatusReport", "clusters": [{"cluster",
"context", "server", "note", "unavailable": [...], "errors": [...], "tenants": [{"tenant",
"namespaces", "quota": [...]|null, "queue": {...}|{}|null, "datasets": [...]|null,
"jobs": [{"name", "namespace", "phase", "pods": [{"pod", "task", "phase", "progress",
"message", "metrics", "final", "updatedAt", "heartbeatAgeSeconds"}]}]|null,
"agents": [...]|null}]}]}. {} means no queue; null means n/a.
"""
from __future__ import annotations

import datetime
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from compiler.agent.contract import STATUS_CONFIGMAP_PREFIX
from compiler.agent.retry import NO_RETRY, next_wait
from compiler.kinds import (
    AGENT_MANAGED_BY_VALUE,
    JOB_LABEL,
    MANAGED_BY_LABEL,
    PLATFORM_TENANT,
    REPORT_API_VERSION,
    TASK_LABEL,
    TENANT_LABEL,
)
from compiler.kube.client import KubeClient
from compiler.kube.config import Target
from compiler.kube.discovery import discover, kind_label
from compiler.kube.errors import ApiError, KubeError, Unreachable
from compiler.live.read import OWNED_SELECTOR

AGENT_SELECTOR = f"{MANAGED_BY_LABEL}={AGENT_MANAGED_BY_VALUE}"
READYZ_TIMEOUT = 10.0  # per /readyz attempt: a restarting server answers in well under that

# what status reads: name -> (group, kind, label selector or None for all)
SOURCES = {
    "namespaces": ("", "Namespace", OWNED_SELECTOR),
    "quota": ("", "ResourceQuota", OWNED_SELECTOR),
    "queue": ("scheduling.volcano.sh", "Queue", OWNED_SELECTOR),
    "datasets": ("data.fluid.io", "Dataset", None),
    "jobs": ("batch.volcano.sh", "Job", None),
    "agents": ("coordination.k8s.io", "Lease", AGENT_SELECTOR),
    "statuses": ("", "ConfigMap", AGENT_SELECTOR),
}
NAMESPACED_SOURCES = [name for name in SOURCES if name not in ("namespaces", "queue")]
STATUS_FIELDS = ("phase", "progress", "message", "metrics", "final", "updatedAt")


class NotReady(KubeError):
    """The API server answered but did not become ready (/readyz) within the client's budget."""


def cluster_status(client: KubeClient, target: Target, tenants: list[str] | None = None,
                   now: datetime.datetime | None = None, concurrency: int = 6) -> dict:
    """The cluster's StatusReport entry; KubeError when the cluster cannot be read at all."""
    wait_until_ready(client)
    now = now or datetime.datetime.now(datetime.UTC)
    report = failed_cluster(target, client.host, [])
    if tenants and not _may_list_namespaces(client):
        return _member_status(client, report, tenants, now, concurrency)
    found = _read_sources(client, report, concurrency)
    tenant_of_ns: dict[str, str] = {}
    for ns in found["namespaces"] or []:
        tenant = _labels(ns).get(TENANT_LABEL)
        if tenant and tenant != PLATFORM_TENANT:
            tenant_of_ns[ns["metadata"]["name"]] = tenant
    names = sorted(set(tenant_of_ns.values()))
    if tenants:
        names = [t for t in names if t in tenants]
    for tenant in names:
        namespaces = sorted(ns for ns, t in tenant_of_ns.items() if t == tenant)
        report["tenants"].append(_tenant(tenant, namespaces, found, now))
    return report


def _may_list_namespaces(client: KubeClient) -> bool:
    """Whether these credentials may list Namespaces (a member's may not)."""
    try:
        client.request("GET", "/api/v1/namespaces", {"limit": "1"})
    except ApiError as exc:
        if exc.status in (401, 403):
            return False
        raise
    return True


def _member_status(client: KubeClient, report: dict[str, Any], tenants: list[str], now: datetime.datetime,
                   concurrency: int) -> dict:
    """Each named tenant from its own namespace, namespace-scoped reads only (a member's rights)."""
    resources = discover(client)

    def read(tenant: str, name: str) -> list[dict] | None:
        group, kind, selector = SOURCES[name]
        resource = resources.find(group, kind)
        if resource is None:
            report["unavailable"].append(kind_label(group, kind))
            return None
        try:
            return client.list(resource.path(tenant), selector)
        except ApiError as exc:
            report["errors"].append(f"cannot list {kind} in {tenant}: {exc.message}")
            return None

    group, kind, _ = SOURCES["queue"]
    report["unavailable"].append(f"{kind_label(group, kind)}: cluster-scoped, not readable with these credentials")
    for tenant in sorted(set(tenants)):
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            lists = list(pool.map(lambda name, t=tenant: read(t, name), NAMESPACED_SOURCES))
        found: dict[str, list[dict] | None] = dict(zip(NAMESPACED_SOURCES, lists, strict=True))
        entry = _tenant(tenant, [tenant], {**found, "queue": None}, now)
        report["tenants"].append(entry)
    report["unavailable"] = sorted(set(report["unavailable"]))
    return report


def failed_cluster(target: Target, server: str, errors: list[str]) -> dict[str, Any]:
    """A cluster's entry before (or instead of) reading it."""
    return {"cluster": target.cluster, "context": target.context, "server": server, "note": target.note,
            "unavailable": [], "errors": errors, "tenants": []}


def wait_until_ready(client: KubeClient) -> bool:
    """Wait until /readyz answers ok, within the client's retry budget and with its backoff; True when
    the server was not ready (or not answering) at first. A server that does not let this user
    read /readyz (401, 403, 404) is taken as it is."""
    probe = KubeClient(client.transport, retry=NO_RETRY, timeout=min(client.timeout, READYZ_TIMEOUT))
    budget, started = client.retry.budget, time.monotonic()
    backoff = client.retry.backoff()
    waited = False
    while True:
        try:
            if probe.get_text("/readyz").strip() == "ok":
                return waited
            last = "/readyz did not say ok"
        except Unreachable as exc:
            last = f"no answer: {str(exc).rsplit('attempt(s): ', 1)[-1]}"
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                return waited
            if not exc.transient:
                raise
            failing = [line[3:].split(" ")[0] for line in exc.message.splitlines() if line.startswith("[-]")]
            last = f"not ready (failing: {', '.join(failing[:4])})" if failing else f"HTTP {exc.status}"
        waited = True
        delay = next_wait(backoff, budget - (time.monotonic() - started))
        if delay is None:
            error = Unreachable if last.startswith("no answer") else NotReady
            raise error(f"the API server at {client.host} was not ready within {budget:g}s ({last}); "
                        "is it running? `--retry-for` waits longer")
        time.sleep(delay)


def _read_sources(client: KubeClient, report: dict[str, Any], concurrency: int) -> dict[str, list[dict] | None]:
    """One LIST per source, in parallel; None for a kind not served or not readable."""
    resources = discover(client)

    def read(name: str) -> list[dict] | None:
        group, kind, selector = SOURCES[name]
        resource = resources.find(group, kind)
        if resource is None:
            report["unavailable"].append(kind_label(group, kind))
            return None
        for attempt in (1, 2):
            try:
                return client.list(resource.path(), selector)
            except ApiError as exc:
                # Refused, or not found although discovery listed it: the server may have restarted
                # since and not be ready yet (RBAC, CRDs). Once it is, ask again.
                if attempt == 1 and exc.status in (403, 404) and wait_until_ready(client):
                    continue
                report["errors"].append(f"cannot list {kind}: {exc.message}")
                return None
        return None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return dict(zip(SOURCES, pool.map(read, SOURCES), strict=True))


def _tenant(tenant: str, namespaces: list[str], found: dict[str, list[dict] | None], now: datetime.datetime) -> dict:
    def mine(items: list[dict] | None, by_label: bool = False) -> list[dict] | None:
        if items is None:
            return None
        if by_label:
            return [i for i in items if _labels(i).get(TENANT_LABEL) == tenant]
        return [i for i in items if i["metadata"].get("namespace") in namespaces]

    agents = _map(mine(found["agents"]), lambda lease: _agent(lease, now))
    statuses = {(cm["metadata"].get("namespace", ""), cm["metadata"]["name"]): cm
                for cm in mine(found["statuses"]) or []}
    ages = {(a["namespace"], a["name"]): a["ageSeconds"] for a in agents or []}
    return {
        "tenant": tenant,
        "namespaces": namespaces,
        "quota": _map(mine(found["quota"], by_label=True), _quota),
        "queue": _queue(mine(found["queue"], by_label=True)),
        "datasets": _map(mine(found["datasets"]), _dataset),
        "jobs": _map(mine(found["jobs"]), lambda job: _job(job, statuses, ages)),
        "agents": agents,
    }


def status_report(clusters: list[dict]) -> dict:
    return {"apiVersion": REPORT_API_VERSION, "kind": "StatusReport", "clusters": clusters}


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _map(items: list[dict] | None, fn) -> list[dict] | None:
    return None if items is None else sorted((fn(i) for i in items), key=lambda d: (d.get("namespace", ""), d["name"]))


def _quota(quota: dict) -> dict:
    status = quota.get("status") or {}
    hard, used = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}, status.get("used") or {}
    return {"name": quota["metadata"]["name"], "namespace": quota["metadata"].get("namespace", ""),
            "resources": {r: {"hard": hard.get(r), "used": used.get(r)} for r in sorted(set(hard) | set(used))}}


def _queue(queues: list[dict] | None) -> dict | None:
    if queues is None:
        return None
    if not queues:
        return {}
    queue = sorted(queues, key=lambda q: q["metadata"]["name"])[0]
    status = queue.get("status") or {}
    return {"name": queue["metadata"]["name"], "state": status.get("state"),
            "allocated": status.get("allocated") or {},
            "podGroups": {k: status.get(k, 0) for k in ("pending", "inqueue", "running", "completed", "unknown")}}


def _dataset(dataset: dict) -> dict:
    status = dataset.get("status") or {}
    return {"name": dataset["metadata"]["name"], "namespace": dataset["metadata"].get("namespace", ""),
            "phase": status.get("phase"), "cachedPercentage": (status.get("cacheStates") or {}).get("cachedPercentage")}


def _job(job: dict, statuses: dict[tuple[str, str], dict], ages: dict[tuple[str, str], float | None]) -> dict:
    state = (job.get("status") or {}).get("state") or {}
    namespace, name = job["metadata"].get("namespace", ""), job["metadata"]["name"]
    return {"name": name, "namespace": namespace, "phase": state.get("phase"),
            "pods": _pod_statuses(statuses.get((namespace, STATUS_CONFIGMAP_PREFIX + name)), namespace, ages)}


def _pod_statuses(configmap: dict | None, namespace: str, ages: dict[tuple[str, str], float | None]) -> list[dict]:
    """What the job's sidecars mirrored, one entry per pod, with its heartbeat's age."""
    out = []
    for key, text in sorted(((configmap or {}).get("data") or {}).items()):
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        pod = str(entry.get("pod") or key.removesuffix(".json"))
        out.append({"pod": pod, "task": entry.get("task"), **{f: entry.get(f) for f in STATUS_FIELDS},
                    "heartbeatAgeSeconds": ages.get((namespace, pod))})
    return out


def _agent(lease: dict, now: datetime.datetime) -> dict:
    labels, spec = _labels(lease), lease.get("spec") or {}
    renew = spec.get("renewTime")
    age = None
    if renew:
        try:
            age = max(0.0, (now - datetime.datetime.fromisoformat(renew.replace("Z", "+00:00"))).total_seconds())
        except ValueError:
            age = None
    return {"name": lease["metadata"]["name"], "namespace": lease["metadata"].get("namespace", ""),
            "job": labels.get(JOB_LABEL, ""), "task": labels.get(TASK_LABEL, ""), "holder": spec.get("holderIdentity"),
            "renewTime": renew, "ageSeconds": None if age is None else round(age, 1)}
