"""Throttling by the real API server (issue 15, "Throttling"): tenantc's apply and diff back off,
honour Retry-After and converge; kubectl under the same limit is the outside comparison.

What the Kubernetes documentation says, and what the tests set up from it:
  - API Priority and Fairness (concepts/cluster-administration/flow-control): a FlowSchema
    assigns requests (here: those of one user) to a PriorityLevelConfiguration; the server's
    total concurrency limit is "distributed among the existing PriorityLevelConfigurations in
    proportion with these shares", and with `limitResponse` type `Reject` "excess traffic will
    immediately be rejected with an HTTP 429 (Too Many Requests) error". Responses carry
    `X-Kubernetes-PF-PriorityLevel-UID`; `apiserver_flowcontrol_rejected_requests_total`
    counts rejections by priority level, FlowSchema and reason (`concurrency-limit` for
    Reject), `apiserver_flowcontrol_nominal_limit_seats` the level's seats. Requests of the
    group system:masters (the admin's certificate) are exempt, so tenantc acts as another user.
  - The API's Status reason TooManyRequests (API reference, Status): "the client should wait
    at least the number of seconds specified by the retryAfterSeconds field"; the API server
    sends it as the HTTP Retry-After header (delta-seconds, RFC 9110 section 10.2.3).

The level gets 1 nominal concurrency share next to a ballast level of 2,000 shares that nothing
uses, so its nominal concurrency is one seat, the least a Limited level has. All of it is on the
live tests' private control plane: shrinking every other level would disturb other tests.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_support import SESSION, SHARED_CRDS, client_for, fresh, user_kubeconfig, write_repo, write_tree

from compiler.cli import main
from compiler.kinds import stage_of
from compiler.pipeline import compile_repo

pytestmark = pytest.mark.cluster

FLOWCONTROL = "/apis/flowcontrol.apiserver.k8s.io/v1"
BALLAST_SHARES = 2000


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange as the transport saw it."""

    thread: int
    sent: float  # monotonic seconds
    answered: float
    method: str
    target: str
    status: int
    retry_after: str | None
    priority_level: str | None
    body: bytes = b""


class Recorder:
    """Wraps a client's transport and records every attempt (the client's retries included)."""

    def __init__(self, inner, attempts: list[Attempt]):
        self.inner, self.attempts, self.host = inner, attempts, inner.host
        self._lock = threading.Lock()

    def send(self, method, target, body, headers, timeout):
        sent = time.monotonic()
        response = self.inner.send(method, target, body, headers, timeout)
        attempt = Attempt(threading.get_ident(), sent, time.monotonic(), method, target, response.status,
                          response.headers.get("Retry-After"),
                          response.headers.get("X-Kubernetes-PF-PriorityLevel-UID"),
                          response.data[:300] if response.status == 429 else b"")
        with self._lock:
            self.attempts.append(attempt)
        return response

    def __getattr__(self, name):
        return getattr(self.inner, name)


@dataclass
class Throttled:
    """The private plane with tenantc's user throttled to one seat."""

    plane: object
    kubeconfig: Path
    user: str
    level: str
    level_uid: str

    def metrics(self) -> str:
        client = client_for(self.plane)
        try:
            return client.get_text("/metrics")
        finally:
            client.close()

    def rejected(self) -> float:
        return metric(self.metrics(), "apiserver_flowcontrol_rejected_requests_total", priority_level=self.level,
                      reason="concurrency-limit")


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match[1] for k, v in labels.items()):
            total += float(match[2])
    return total


@pytest.fixture(scope="module")
def throttled(private_control_plane, tmp_path_factory):
    plane = private_control_plane
    user, level = f"{SESSION}-deployer", f"{SESSION}-tiny"
    kubeconfig = user_kubeconfig(plane, user, tmp_path_factory.mktemp("throttled"))
    admin = client_for(plane)
    binding = f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{level}"
    admin.apply(binding, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                          "metadata": {"name": level},
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                      "name": "cluster-admin"},
                          "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    objects = {
        f"{FLOWCONTROL}/prioritylevelconfigurations/{level}": {
            "kind": "PriorityLevelConfiguration", "spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": 1, "lendablePercent": 0, "borrowingLimitPercent": 0,
                "limitResponse": {"type": "Reject"}}}},
        f"{FLOWCONTROL}/prioritylevelconfigurations/{level}-ballast": {
            "kind": "PriorityLevelConfiguration", "spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": BALLAST_SHARES, "lendablePercent": 100,
                "limitResponse": {"type": "Reject"}}}},
        f"{FLOWCONTROL}/flowschemas/{level}": {
            "kind": "FlowSchema", "spec": {
                "priorityLevelConfiguration": {"name": level}, "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [{"kind": "User", "user": {"name": user}}],
                           "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                              "namespaces": ["*"], "clusterScope": True}],
                           "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}},
    }
    for path, body in objects.items():
        admin.apply(path, {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "metadata": {"name": path.rsplit("/")[-1]},
                           **body})
    level_uid = admin.get(f"{FLOWCONTROL}/prioritylevelconfigurations/{level}")["metadata"]["uid"]
    state = Throttled(plane, kubeconfig, user, level, level_uid)
    deadline = time.monotonic() + 30
    while metric(state.metrics(), "apiserver_flowcontrol_nominal_limit_seats", priority_level=level) != 1:
        assert time.monotonic() < deadline, "the priority level never got its one seat"
        time.sleep(0.5)
    yield state
    for path in [*objects, binding]:
        admin.delete(path)
    admin.close()


def repo_for(tmp_path: Path, plane, stem: str, tenants: int = 4) -> tuple[Path, str]:
    cluster = fresh(stem)
    root = write_repo(tmp_path / stem, cluster, plane.name, [f"{cluster}-{i}" for i in range(tenants)],
                      f"{cluster}-q")
    return root, cluster


def cli(capsys, command: str, root: Path, kubeconfig: Path, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([command, "--root", str(root), "--crd-dir", str(SHARED_CRDS), "--kubeconfig", str(kubeconfig), *extra])
    return code, capsys.readouterr().out


def recording(monkeypatch) -> list[Attempt]:
    """Every attempt of the clients the commands connect from now on."""
    from compiler.live import workflow

    attempts: list[Attempt] = []
    real = workflow.connect

    def connect(*args, **kwargs):
        client = real(*args, **kwargs)
        client.transport = Recorder(client.transport, attempts)
        return client

    monkeypatch.setattr(workflow, "connect", connect)
    return attempts


def retry_after_honoured(attempts: list[Attempt]) -> list[float]:
    """For each 429 with Retry-After, how long its thread waited before the next attempt
    (the retry of the same request: the client retries in the caller's thread)."""
    waits = []
    by_thread: dict[int, list[Attempt]] = {}
    for attempt in sorted(attempts, key=lambda a: a.sent):
        by_thread.setdefault(attempt.thread, []).append(attempt)
    for sequence in by_thread.values():
        for this, following in zip(sequence, sequence[1:], strict=False):
            if this.status == 429 and this.retry_after is not None:
                waited = following.sent - this.answered
                assert waited >= float(this.retry_after) - 0.01, (this, following)
                waits.append(waited)
    return waits


def test_apply_and_diff_back_off_honour_retry_after_and_converge(throttled, tmp_path, monkeypatch, capsys):
    """`tenantc apply` and `tenantc diff` as tenantc's throttled user: every 429 is one the
    priority level rejected (its UID, the server's rejection counter), every retry waits at
    least the Retry-After, the client lowers its requests in flight, and both commands
    converge: apply succeeds, diff then finds no difference."""
    root, cluster = repo_for(tmp_path, throttled.plane, "throttle")
    assert main(["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]) == 0
    rejected_before = throttled.rejected()
    attempts = recording(monkeypatch)
    started = time.monotonic()
    code, out = cli(capsys, "apply", root, throttled.kubeconfig, "-o", "json")
    apply_seconds = time.monotonic() - started
    assert code == 0, out
    report = json.loads(out)
    applied = list(attempts)
    attempts.clear()
    started = time.monotonic()
    code, out = cli(capsys, "diff", root, throttled.kubeconfig)
    diff_seconds = time.monotonic() - started
    assert code == 0 and "no differences" in out, out

    requests = report["clusters"][0]["requests"]
    apply_429 = [a for a in applied if a.status == 429]
    diff_429 = [a for a in attempts if a.status == 429]
    assert apply_429, "the priority level never rejected a request: nothing was proven"
    assert all(a.priority_level == throttled.level_uid for a in apply_429 + diff_429)  # APF's, not another 429
    # The level's rejections are plain text; a resource whose watch cache is (re)initializing
    # (custom kinds, the first LIST after the CRD is served) answers 429 too, as a Status.
    rejected = [a for a in apply_429 + diff_429 if not a.body.startswith(b"{")]
    assert rejected and throttled.rejected() - rejected_before == len(rejected)  # what the server counted
    waits = retry_after_honoured(applied + attempts)
    assert len(waits) == len(apply_429) + len(diff_429)  # every 429 was retried, none given up
    assert requests["retried"] == {"429": len(apply_429)}
    assert requests["waitedSeconds"] >= sum(float(a.retry_after or 0) for a in apply_429) - 0.01
    assert requests["lowestConcurrency"] < 8  # backed off from --concurrency 8
    objects = sum(1 for a in applied if a.method == "PATCH" and a.status in (200, 201))
    assert report["summary"]["applied"] == objects and report["summary"]["failed"] == 0
    print(f"\ntenantc under 1 seat: apply {objects} objects in {apply_seconds:.1f} s, {len(applied)} attempts, "
          f"{len(apply_429)} x 429 (Retry-After {sorted(Counter(a.retry_after for a in apply_429).items())}), "
          f"waited {requests['waitedSeconds']:.1f} s in all, in flight lowered to {requests['lowestConcurrency']}; "
          f"diff in {diff_seconds:.1f} s, {len(attempts)} attempts, {len(diff_429)} x 429")


def test_kubectl_under_the_same_limit(throttled, tmp_path, kubectl, monkeypatch, capsys):
    """The outside comparison: kubectl (client-go) as the same user under the same level.
    `kubectl apply --server-side` sends one request at a time; `kubectl diff --server-side
    --concurrency 8` eight. client-go retries a 429 after its Retry-After (up to 10 times).
    Both converge here, and tenantc diff agrees with what kubectl applied."""
    root, cluster = repo_for(tmp_path, throttled.plane, "kubectl-throttle")
    objects = compile_repo(root, [SHARED_CRDS]).objects
    files = write_tree({p: o for p, o in objects.items() if p.startswith(f"{cluster}/")}, tmp_path / "tree")
    ordered = sorted((p for p in objects if p.startswith(f"{cluster}/")), key=lambda p: (stage_of(objects[p]), p))
    flags = [x for p in ordered for x in ("-f", str(files / p))]
    kube = str(throttled.kubeconfig)
    results = {}
    for name, args in (("apply", ["apply", "--server-side", "--field-manager=tenantc", *flags]),
                       ("diff --concurrency 8", ["diff", "--server-side", "--field-manager=tenantc",
                                                 "--concurrency", "8", *flags])):
        rejected_before = throttled.rejected()
        started = time.monotonic()
        run = kubectl(*args, "-v=6", kubeconfig=kube, check=False, timeout=600)
        seconds = time.monotonic() - started
        statuses = Counter(re.findall(r'status="(\d{3})', run.stderr))
        retries = re.findall(r'"Got a Retry-After response" delay="([^"]+)"', run.stderr)
        results[name] = (run.returncode, seconds, statuses, retries, throttled.rejected() - rejected_before)
        assert run.returncode == 0, run.stderr[-2000:]  # diff: 0 = no differences
        assert statuses["429"] == len(retries) == results[name][4]  # each 429 retried after its Retry-After
    # what kubectl applied is what tenantc would: no difference, through the same limit
    assert main(["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]) == 0
    attempts = recording(monkeypatch)
    code, out = cli(capsys, "diff", root, throttled.kubeconfig)
    assert code == 0 and "no differences" in out, out
    retry_after_honoured(attempts)
    print()
    for name, (code, seconds, statuses, retries, rejected) in results.items():
        print(f"kubectl {name} under 1 seat: exit {code} in {seconds:.1f} s, {sum(statuses.values())} requests, "
              f"{statuses['429']} x 429 (server: {rejected:.0f} rejected), retried after "
              f"{sorted(Counter(retries).items())}")
    print(f"tenantc diff of kubectl's objects: {len(attempts)} attempts, "
          f"{sum(a.status == 429 for a in attempts)} x 429")
