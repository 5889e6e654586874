"""`tenantc-agent sidecar`: heartbeat Lease and status mirror for one job pod.

Runs as a native sidecar (an init container with restartPolicy Always), so it lives as long
as the pod's main containers and is stopped with SIGTERM after they exit. Two promises shape
the code:

* it never ends or slows the job: every API failure (unreachable server, 403, 5xx, ...) is
  logged once and retried with capped, jittered backoff, forever, on a worker thread;
* SIGTERM is always honoured within the shutdown budget: the main thread only waits for the
  signal (through a wakeup pipe, so no lock is touched in a signal handler), then writes the
  final status and exits 0, whether or not the API server answered.

What it writes: a `coordination.k8s.io/v1` Lease named after the pod (renewTime advanced every
interval), and the pod's own key `<pod>.json` of the ConfigMap `tenantc-status-<run>` by
server-side apply with a field manager of its own, so the pods of a job never overwrite
each other's entries.

Both are cleaned up by the garbage collector of kube-controller-manager, through
ownerReferences (https://kubernetes.io/docs/concepts/architecture/garbage-collection/): the
Lease is owned by the pod, and the ConfigMap by the pod's controller, the Volcano Job that
runs it (`<run>` is that Job's name). A schedule's runs are Volcano Jobs of their own, so
each run has its own ConfigMap, deleted with the run when the CronJob's history limits delete
it: no ConfigMap grows with the number of runs. The sidecar reads its own Pod once (the uid
and controller it needs) before writing either. A pod with no controller (made by hand) keeps
`tenantc-status-<job>` without an owner, as before.
"""
from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from compiler.agent import log
from compiler.agent.contract import (
    AGENT_MANAGED_BY_VALUE,
    JOB_LABEL,
    MANAGED_BY_LABEL,
    STATUS_CONFIGMAP_PREFIX,
    TASK_LABEL,
    TENANT_LABEL,
)
from compiler.agent.kubeapi import (
    ApiError,
    Backoff,
    ConfigError,
    KubeClient,
    KubeError,
    Unreachable,
    object_path,
    retry_transient,
)
from compiler.agent.status_file import StatusFileError, read_status_file

FIELD_MANAGER_PREFIX = "tenantc-agent-"
MAX_FIELD_MANAGER = 128  # the API server's limit
LEASE_DURATION_FACTOR = 3  # a holder that missed three renewals is gone


@dataclass(frozen=True)
class PodIdentity:
    """Who this sidecar speaks for, from the downward API environment of the pod."""

    pod: str
    namespace: str
    job: str
    task: str

    ENV = {"pod": "POD_NAME", "namespace": "POD_NAMESPACE", "job": "TENANTC_JOB", "task": "TENANTC_TASK"}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PodIdentity:
        env = os.environ if env is None else env
        missing = [var for var in cls.ENV.values() if not env.get(var)]
        if missing:
            raise ConfigError(
                "missing environment variable(s) " + ", ".join(missing)
                + " (set POD_NAME/POD_NAMESPACE from the downward API; tenantc renders them)"
            )
        return cls(**{key: env[var] for key, var in cls.ENV.items()})

    def labels(self, with_task: bool = True) -> dict:
        labels = {JOB_LABEL: self.job, TENANT_LABEL: self.namespace, MANAGED_BY_LABEL: AGENT_MANAGED_BY_VALUE}
        if with_task:
            labels[TASK_LABEL] = self.task
        return labels


def status_configmap_name(job: str) -> str:
    return STATUS_CONFIGMAP_PREFIX + job


def field_manager(pod: str) -> str:
    """`tenantc-agent-<pod>`, kept unique (crc32 suffix) when a long pod name must be cut."""
    name = FIELD_MANAGER_PREFIX + pod
    if len(name) <= MAX_FIELD_MANAGER:
        return name
    suffix = f"-{zlib.crc32(pod.encode()):08x}"
    return name[: MAX_FIELD_MANAGER - len(suffix)] + suffix


def micro_time(t: float) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((t - whole) * 1e6):06d}Z"


def lease_duration(interval: float) -> int:
    return max(1, math.ceil(LEASE_DURATION_FACTOR * interval))


@dataclass(frozen=True)
class Owners:
    """What the sidecar's objects are owned by: its pod (the Lease) and the pod's controller,
    the Volcano Job run (the status ConfigMap), None when the pod has none."""

    pod: dict | None  # None: the Pod object is not there (so nothing to own the Lease)
    run: dict | None

    @classmethod
    def of(cls, pod: dict) -> Owners:
        meta = pod.get("metadata") or {}
        own = owner_reference("v1", "Pod", meta.get("name", ""), meta.get("uid", ""))
        controller = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        run = None if controller is None else owner_reference(
            controller.get("apiVersion", ""), controller.get("kind", ""), controller.get("name", ""),
            controller.get("uid", ""))
        return cls(own, run)

    def configmap_name(self, ident: PodIdentity) -> str:
        return status_configmap_name(self.run["name"] if self.run else ident.job)


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> dict:
    """A plain ownerReference: no controller, no blockOwnerDeletion (which would need the
    delete permission on the owner); the garbage collector deletes the dependent after its owner."""
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}


def new_lease(ident: PodIdentity, interval: float, now: float, owner: dict | None = None) -> dict:
    stamp = micro_time(now)
    meta: dict = {"name": ident.pod, "namespace": ident.namespace, "labels": ident.labels()}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": ident.pod,
            "leaseDurationSeconds": lease_duration(interval),
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }


def renewed_lease(lease: dict, ident: PodIdentity, interval: float, now: float, owner: dict | None = None) -> dict:
    """The stored Lease with our labels, holder, owner and a fresh renewTime; resourceVersion
    kept so a concurrent writer makes the update fail (409) instead of being overwritten."""
    body = dict(lease)
    meta = body["metadata"] = dict(lease.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), **ident.labels()}
    refs = list(meta.get("ownerReferences") or [])
    if owner is not None and not any(r.get("uid") == owner["uid"] for r in refs):
        meta["ownerReferences"] = [*refs, owner]
    spec = body["spec"] = dict(lease.get("spec") or {})
    stamp = micro_time(now)
    if spec.get("holderIdentity") != ident.pod or not spec.get("acquireTime"):
        spec["acquireTime"] = stamp
    spec.update(holderIdentity=ident.pod, leaseDurationSeconds=lease_duration(interval), renewTime=stamp)
    return body


def status_entry(ident: PodIdentity, status: dict | None, mtime: float | None, *,
                 final: bool = False, containers: dict | None = None,
                 error: str | None = None) -> dict:
    """The JSON value of this pod's key in the job's status ConfigMap."""
    entry = {"pod": ident.pod, "task": ident.task, **(status or {}), "final": final}
    if mtime is not None:
        entry["updatedAt"] = micro_time(mtime)
    if containers is not None:
        entry["containers"] = containers
    if error:
        entry["statusFileError"] = error
    return entry


def status_configmap(ident: PodIdentity, entry: dict, owners: Owners | None = None) -> dict:
    """The apply configuration: only our labels, the run as owner and our own key, nothing
    another pod owns (ownerReferences is a map keyed by uid under server-side apply, so the
    pods of a run share the one entry)."""
    meta: dict = {
        "name": owners.configmap_name(ident) if owners else status_configmap_name(ident.job),
        "namespace": ident.namespace,
        "labels": ident.labels(with_task=False),
    }
    if owners is not None and owners.run is not None:
        meta["ownerReferences"] = [owners.run]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {f"{ident.pod}.json": json.dumps(entry, sort_keys=True, separators=(",", ":"))},
    }


def container_states(pod: dict) -> dict:
    """Each regular container's state from a Pod (native sidecars are init containers)."""
    out = {}
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state:
            term = state["terminated"] or {}
            out[cs.get("name")] = {"state": "terminated", "exitCode": term.get("exitCode"),
                                   **({"reason": term["reason"]} if term.get("reason") else {})}
        elif "running" in state:
            out[cs.get("name")] = {"state": "running"}
        else:
            reason = (state.get("waiting") or {}).get("reason")
            out[cs.get("name")] = {"state": "waiting", **({"reason": reason} if reason else {})}
    return out


class Sidecar:
    """The heartbeat/status loop of one pod and its final write on shutdown."""

    def __init__(self, client: KubeClient, ident: PodIdentity, *, interval: float = 10.0,
                 status_path: str, max_backoff: float = 30.0, shutdown_timeout: float = 3.0):
        self.client = client
        self.ident = ident
        self.interval = interval
        self.status_path = status_path
        # Retries back off from 0.5 s, but never wait longer than one interval: once the API server
        # is back, the next heartbeat follows within one interval (--max-backoff caps it further).
        base = min(0.5, interval)
        self.backoff = Backoff(base=base, cap=max(min(max_backoff, interval), base))
        self.shutdown_timeout = shutdown_timeout
        self.stop = threading.Event()
        ns = ident.namespace
        self.leases_path = object_path("coordination.k8s.io", "v1", "leases", ns)
        self.lease_path = object_path("coordination.k8s.io", "v1", "leases", ns, ident.pod)
        self.pod_path = object_path("", "v1", "pods", ns, ident.pod)
        self.manager = field_manager(ident.pod)
        self._lease: dict | None = None
        self._owners: Owners | None = None
        self._status: tuple[dict, float] | None = None  # last good status file content
        self._mirrored: str | None = None  # last entry the API server accepted
        self._troubles: dict[str, str] = {}
        self._io = threading.Lock()  # held around each worker request; taken for good at shutdown
        self._started = time.monotonic()
        self._heartbeats = 0

    # -- one round
    def owners(self, client: KubeClient | None = None, timeout: float | None = None) -> Owners:
        """Our pod's uid and controller, read once (an API failure is retried by the caller)."""
        if self._owners is None:
            try:
                self._owners = Owners.of((client or self.client).get(self.pod_path, timeout=timeout))
            except ApiError as exc:
                if exc.status != 404:
                    raise
                self._owners = Owners(None, None)  # no Pod object (a pod made by hand and deleted, a test)
        return self._owners

    def configmap_path(self, owners: Owners) -> str:
        return object_path("", "v1", "configmaps", self.ident.namespace, owners.configmap_name(self.ident))

    def renew_lease(self) -> None:
        """GET the Lease once (create it when missing), then PUT a fresh renewTime each round."""
        owner = self.owners().pod
        for attempt in (1, 2):
            try:
                if self._lease is None:
                    try:
                        self._lease = self.client.get(self.lease_path)
                    except ApiError as exc:
                        if exc.status != 404:
                            raise
                        self._lease = self.client.create(
                            self.leases_path, new_lease(self.ident, self.interval, time.time(), owner))
                        break
                self._lease = self.client.replace(
                    self.lease_path, renewed_lease(self._lease, self.ident, self.interval, time.time(), owner))
                break
            except ApiError as exc:
                if exc.status not in (404, 409) or attempt == 2:
                    raise
                self._lease = None  # changed or deleted behind our back: read it again
        self._heartbeats += 1
        if self._heartbeats == 1:
            log.info(
                f"first heartbeat: lease {self.ident.namespace}/{self.ident.pod} renewed "
                f"{(time.monotonic() - self._started) * 1000:.0f} ms after start"
            )

    def read_status(self) -> tuple[dict | None, float | None, str | None]:
        """(status, mtime, error): a bad file keeps the last good status and reports why."""
        try:
            found = read_status_file(self.status_path)
        except StatusFileError as exc:
            self._trouble("status file", str(exc), "keeping the last good status")
            last = self._status or (None, None)
            return last[0], last[1], str(exc)
        self._recovered("status file")
        if found is not None:
            self._status = found
        last = self._status or (None, None)
        return last[0], last[1], None

    def mirror_status(self, client: KubeClient | None = None, *, final: bool = False,
                      containers: dict | None = None, timeout: float | None = None) -> None:
        """Apply this pod's entry when it changed since the last accepted one (always if final)."""
        status, mtime, error = self.read_status()
        entry = status_entry(self.ident, status, mtime, final=final, containers=containers, error=error)
        owners = self.owners(client, timeout)
        body = status_configmap(self.ident, entry, owners)
        text = next(iter(body["data"].values()))
        if text == self._mirrored and not final:
            return
        (client or self.client).apply(self.configmap_path(owners), body, self.manager, timeout=timeout)
        self._mirrored = text

    def step(self) -> bool:
        """One round of heartbeat and status; False when any API call failed."""
        ok = True
        for what, action in (("lease", self.renew_lease), ("status", self.mirror_status)):
            with self._io:
                if self.stop.is_set():
                    return ok
                try:
                    action()
                except KubeError as exc:
                    ok = False
                    self._trouble(what, str(exc))
                    if isinstance(exc, Unreachable):
                        return ok  # the server is gone: no point in the rest of the round
                except Exception as exc:  # a bug must not end the heartbeats either
                    ok = False
                    self._trouble(what, f"unexpected {type(exc).__name__}: {exc}")
                else:
                    self._recovered(what)
        return ok

    def run(self) -> None:
        """The worker loop: a round each interval, backoff while rounds fail, until stopped."""
        while not self.stop.is_set():
            if self.step():
                self.backoff.reset()
                delay = self.interval
            else:
                delay = self.backoff.next()
            self.stop.wait(delay)

    # -- shutdown
    def finish(self) -> None:
        """Final status within the shutdown budget: main containers' exit state when the pod
        is readable, then an apply marked final. At the deadline it gives up and logs why."""
        deadline = time.monotonic() + self.shutdown_timeout
        self.stop.set()
        # Wait briefly for a worker request in flight, so ours is the last write.
        if not self._io.acquire(timeout=min(1.0, self.shutdown_timeout / 3)):
            log.warn("a heartbeat request is still pending; writing the final status anyway")
        client = self.client.clone()
        containers = self._final_containers(client, time.monotonic() + self.shutdown_timeout * 0.4)
        try:
            retry_transient(
                lambda: self.mirror_status(client, final=True, containers=containers,
                                           timeout=_left(deadline)),
                deadline, Backoff(base=0.2, cap=1.0), wait=time.sleep,
            )
            name = self._owners.configmap_name(self.ident) if self._owners else status_configmap_name(self.ident.job)
            log.info(f"final status written to configmap {self.ident.namespace}/{name}")
        except KubeError as exc:
            log.warn(f"final status not written: {exc}")
        finally:
            client.close()

    def _final_containers(self, client: KubeClient, deadline: float) -> dict | None:
        """Read our own Pod; a 403/404 or an unreachable server just means no exit state.
        While a container still shows running, re-read: the kubelet may not have posted yet."""
        containers = None
        while True:
            try:
                pod = client.get(self.pod_path, timeout=_left(deadline))
            except KubeError as exc:
                if containers is None:
                    log.warn(f"main container state unknown: {exc}")
                return containers
            containers = container_states(pod)
            done = all(c["state"] == "terminated" for c in containers.values())
            if done or _left(deadline) < 0.6:
                return containers
            time.sleep(0.5)

    def _trouble(self, what: str, message: str,
                 consequence: str = "retrying with backoff; the job is not affected") -> None:
        """Log a problem once per distinct message, not once per round."""
        if self._troubles.get(what) != message:
            self._troubles[what] = message
            log.warn(f"{what}: {message} ({consequence})")

    def _recovered(self, what: str) -> None:
        if self._troubles.pop(what, None) is not None:
            log.info(f"{what}: working again")


def _left(deadline: float) -> float:
    return max(0.05, deadline - time.monotonic())


class SignalWaiter:
    """Blocks the main thread until SIGTERM/SIGINT without a lock in the signal handler.

    The C-level handler writes the signal number to a pipe (signal.set_wakeup_fd); the main
    thread reads it. Installed before anything else, so an early SIGTERM is not lost.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self._read, write = os.pipe()
        os.set_blocking(write, False)
        self._write = write
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        for sig in self.SIGNALS:
            signal.signal(sig, lambda *_: None)

    def wait(self) -> int:
        while True:
            data = os.read(self._read, 1)
            if data and data[0] in {int(s) for s in self.SIGNALS}:
                return data[0]


def serve(client: KubeClient, ident: PodIdentity, waiter: SignalWaiter, **options) -> int:
    """Start the heartbeat worker, wait for the signal, write the final status, return 0."""
    sidecar = Sidecar(client, ident, **options)
    log.info(
        f"sidecar for pod {ident.namespace}/{ident.pod} (job {ident.job}, task {ident.task}): "
        f"interval {sidecar.interval:g}s, status file {sidecar.status_path}"
    )
    threading.Thread(target=sidecar.run, name="heartbeat", daemon=True).start()
    signum = waiter.wait()
    log.info(f"{signal.Signals(signum).name} received: writing the final status")
    sidecar.finish()
    return 0
