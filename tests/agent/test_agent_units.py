"""Pure unit tests of the agent: status file, percentages, durations, backoff, object bodies.

Nothing here talks to an API server; the live behaviour is in test_agent_live.py.
"""
from __future__ import annotations

import ast
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.agent import permissions, sidecar
from compiler.agent.kubeapi import (
    ApiError,
    Backoff,
    Unreachable,
    is_transient,
    object_path,
    retry_transient,
)
from compiler.agent.scale_runtime import parse_target
from compiler.agent.status_file import (
    MAX_BYTES,
    StatusFileError,
    parse_status,
    read_status_file,
)
from compiler.agent.wait_dataset import (
    DatasetError,
    cached_percent,
    parse_duration,
    parse_percentage,
)

AGENT_DIR = Path(sidecar.__file__).parent


# --------------------------------------------------------------------------- status file


def test_status_keeps_known_fields_and_drops_the_rest():
    doc = {"phase": " Running ", "progress": 0.25, "message": "epoch 1", "metrics": {"loss": 1.5, "step": 10,
           "stage": "warmup"}, "secretThing": "x", "pod": "spoofed"}
    assert parse_status(json.dumps(doc)) == {
        "phase": "Running", "progress": 0.25, "message": "epoch 1",
        "metrics": {"loss": 1.5, "step": 10, "stage": "warmup"},
    }


def test_status_fields_are_all_optional():
    assert parse_status(b"{}") == {}
    assert parse_status('{"phase": null, "progress": null}') == {}


@pytest.mark.parametrize("text, complaint", [
    ("[1, 2]", "JSON object"),
    ('{"phase": ', "not valid JSON"),
    (b'{"phase": "\xff"}', "not valid JSON"),
    ('{"phase": ""}', "phase"),
    ('{"phase": 3}', "phase"),
    ('{"phase": "%s"}' % ("x" * 65), "phase"),
    ('{"progress": 1.5}', "progress"),
    ('{"progress": -0.1}', "progress"),
    ('{"progress": true}', "progress"),
    ('{"progress": "50%"}', "progress"),
    ('{"progress": NaN}', "not valid JSON"),
    ('{"metrics": {"loss": Infinity}}', "not valid JSON"),
    ('{"metrics": [1]}', "metrics"),
    ('{"metrics": {"loss": [1]}}', "loss"),
    ('{"metrics": {"": 1}}', "metric name"),
    ('{"message": 5}', "message"),
])
def test_status_rejects_what_could_not_be_mirrored_faithfully(text, complaint):
    with pytest.raises(StatusFileError, match=complaint):
        parse_status(text)


def test_status_bounds_message_and_metric_count():
    assert len(parse_status(json.dumps({"message": "m" * 5000}))["message"]) == 256
    with pytest.raises(StatusFileError, match="at most 20"):
        parse_status(json.dumps({"metrics": {f"m{i}": i for i in range(21)}}))


def test_status_file_missing_big_and_present(tmp_path):
    path = tmp_path / "status.json"
    assert read_status_file(str(path)) is None
    path.write_text(json.dumps({"phase": "Running", "message": "x" * MAX_BYTES}))
    with pytest.raises(StatusFileError, match="larger than"):
        read_status_file(str(path))
    path.write_text('{"phase": "Succeeded", "progress": 1}')
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert read_status_file(str(path)) == ({"phase": "Succeeded", "progress": 1}, 1_700_000_000)


# --------------------------------------------------------------------------- percentages


@pytest.mark.parametrize("text, value", [("95.0%", 95.0), ("0.00 %", 0.0), ("100%", 100.0), ("42", 42.0),
                                         (" 7.5 % ", 7.5), (".5%", 0.5)])
def test_percentages_as_fluid_writes_them(text, value):
    assert parse_percentage(text) == value


@pytest.mark.parametrize("text", ["", "-", "N/A", "95%%", "abc", "-5%", "101%", "1e2%"])
def test_percentages_that_are_not(text):
    with pytest.raises(ValueError):
        parse_percentage(text)


def _dataset(states):
    return {"metadata": {"name": "imagenet"}, **({"status": {"cacheStates": states}} if states is not None else {})}


@pytest.mark.parametrize("states", [None, {}, {"cachedPercentage": ""}, {"cached": "0B"}])
def test_nothing_reported_yet_counts_as_zero(states):
    assert cached_percent(_dataset(states)) == 0.0


def test_cached_percent_reads_fluids_string():
    assert cached_percent(_dataset({"cachedPercentage": "95.0%", "cached": "1GiB"})) == 95.0


@pytest.mark.parametrize("value, hint", [("-", "does not report"), ("lots", "imagenet"), (95, "not a string")])
def test_unparsable_percentage_is_a_dataset_error_naming_it(value, hint):
    with pytest.raises(DatasetError, match=hint) as info:
        cached_percent(_dataset({"cachedPercentage": value}))
    assert "imagenet" in str(info.value)


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("1.5m", 90), ("2h", 7200), ("0", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5d", "-1", "m", "1 m s"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# --------------------------------------------------------------------------- backoff


def test_backoff_doubles_up_to_the_cap_without_jitter_draw():
    backoff = Backoff(base=0.5, cap=8, rng=lambda: 0.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next() == 0.5


def test_backoff_jitter_only_shortens_and_stays_within_its_share():
    lowest = Backoff(base=1, cap=10, jitter=0.5, rng=lambda: 1.0)
    assert [lowest.next() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    rng = iter([0.9, 0.1, 0.5, 0.3] * 50).__next__
    backoff = Backoff(base=0.2, cap=3, jitter=0.4, rng=rng)
    for attempt in range(200):
        delay = backoff.next()
        assert backoff.ceiling(attempt) * 0.6 <= delay <= backoff.ceiling(attempt) <= 3


def test_backoff_with_real_randomness_spreads_and_respects_cap():
    backoff = Backoff(base=30, cap=30)
    delays = {backoff.next() for _ in range(50)}
    assert len(delays) > 40 and max(delays) <= 30 and min(delays) >= 15


def test_backoff_rejects_nonsense():
    with pytest.raises(ValueError):
        Backoff(base=5, cap=1)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


class _FakeTime:
    """A clock that moves only when the code under test waits."""

    def __init__(self):
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self):
        return self.now

    def wait(self, seconds):
        self.waits.append(seconds)
        self.now += seconds


def test_retry_transient_retries_until_success():
    clock, outcomes = _FakeTime(), [Unreachable("refused"), ApiError(503, "GET", "/x", "unavailable"), {"ok": 1}]

    def call():
        result = outcomes.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    assert retry_transient(call, 10, Backoff(rng=lambda: 0), wait=clock.wait, clock=clock.clock) == {"ok": 1}
    assert clock.waits == [0.5, 1.0]


def test_retry_transient_gives_up_at_the_deadline_and_on_permanent_errors():
    clock = _FakeTime()

    def down():
        raise Unreachable("refused")

    with pytest.raises(Unreachable):
        retry_transient(down, 5, Backoff(rng=lambda: 0), wait=clock.wait, clock=clock.clock)
    assert math.isclose(clock.now, 5) and max(clock.waits) <= 5

    calls = []

    def forbidden():
        calls.append(1)
        raise ApiError(403, "GET", "/x", "forbidden")

    with pytest.raises(ApiError):
        retry_transient(forbidden, 100, wait=clock.wait, clock=clock.clock)
    assert len(calls) == 1


@pytest.mark.parametrize("status, transient", [(429, True), (500, True), (503, True), (504, True),
                                               (400, False), (403, False), (404, False), (409, False)])
def test_which_statuses_are_transient(status, transient):
    assert is_transient(ApiError(status, "GET", "/", "m")) is transient


def test_object_paths():
    assert object_path("", "v1", "configmaps", "tenant-a", "tenantc-status-j") == \
        "/api/v1/namespaces/tenant-a/configmaps/tenantc-status-j"
    assert object_path("coordination.k8s.io", "v1", "leases", "ns") == \
        "/apis/coordination.k8s.io/v1/namespaces/ns/leases"


# --------------------------------------------------------------------------- sidecar bodies

IDENT = sidecar.PodIdentity(pod="train-worker-0", namespace="tenant-a", job="train", task="worker")


def test_identity_from_env_names_every_missing_variable():
    env = {"POD_NAME": "p", "TENANTC_TASK": "t"}
    with pytest.raises(sidecar.ConfigError) as info:
        sidecar.PodIdentity.from_env(env)
    assert "POD_NAMESPACE" in str(info.value) and "TENANTC_JOB" in str(info.value)
    full = {"POD_NAME": "p", "POD_NAMESPACE": "n", "TENANTC_JOB": "j", "TENANTC_TASK": "t"}
    assert sidecar.PodIdentity.from_env(full) == sidecar.PodIdentity("p", "n", "j", "t")


def test_labels_never_say_managed_by_tenantc():
    labels = IDENT.labels()
    assert labels["app.kubernetes.io/managed-by"] == "tenantc-agent"
    assert labels == {"tenantc.io/job": "train", "tenantc.io/task": "worker", "tenantc.io/tenant": "tenant-a",
                      "app.kubernetes.io/managed-by": "tenantc-agent"}


def test_new_lease_and_its_renewal():
    lease = sidecar.new_lease(IDENT, interval=10, now=1_700_000_000.25)
    assert lease["spec"] == {"holderIdentity": "train-worker-0", "leaseDurationSeconds": 30,
                             "acquireTime": "2023-11-14T22:13:20.250000Z",
                             "renewTime": "2023-11-14T22:13:20.250000Z"}
    stored = {**lease, "metadata": {**lease["metadata"], "resourceVersion": "42", "labels": {"keep": "me"}}}
    renewed = sidecar.renewed_lease(stored, IDENT, interval=0.5, now=1_700_000_005.5)
    assert renewed["metadata"]["resourceVersion"] == "42"
    assert renewed["metadata"]["labels"] == {"keep": "me", **IDENT.labels()}
    assert renewed["spec"]["acquireTime"] == lease["spec"]["acquireTime"]
    assert renewed["spec"]["renewTime"] == "2023-11-14T22:13:25.500000Z"
    assert renewed["spec"]["leaseDurationSeconds"] == 2
    assert stored["spec"]["renewTime"] == lease["spec"]["renewTime"], "the stored copy is not mutated"
    taken = sidecar.renewed_lease({"metadata": {}, "spec": {"holderIdentity": "someone-else"}}, IDENT, 10, 5.0)
    assert taken["spec"]["acquireTime"] == taken["spec"]["renewTime"]


def test_field_manager_is_per_pod_and_within_the_limit():
    assert sidecar.field_manager("p-0") == "tenantc-agent-p-0"
    long_a, long_b = "a" * 200 + "-0", "a" * 200 + "-1"
    managers = {sidecar.field_manager(long_a), sidecar.field_manager(long_b)}
    assert len(managers) == 2 and all(len(m) == 128 for m in managers)


def test_status_configmap_carries_only_this_pods_key():
    entry = sidecar.status_entry(IDENT, {"phase": "Running", "progress": 0.5}, 1_700_000_000.0)
    body = sidecar.status_configmap(IDENT, entry)
    assert body["metadata"]["name"] == "tenantc-status-train"
    assert list(body["data"]) == ["train-worker-0.json"]
    assert json.loads(body["data"]["train-worker-0.json"]) == {
        "pod": "train-worker-0", "task": "worker", "phase": "Running", "progress": 0.5,
        "final": False, "updatedAt": "2023-11-14T22:13:20.000000Z"}
    assert "tenantc.io/task" not in body["metadata"]["labels"], "pods of several tasks share the ConfigMap"


def test_owners_put_the_lease_under_the_pod_and_the_status_under_the_run():
    """A pod of a scheduled run: the ConfigMap is named after and owned by the run (the pod's
    controller), not the schedule, so each run's status goes with the run."""
    pod = {"metadata": {"name": "train-worker-0", "uid": "u-pod", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-a-controller", "uid": "u-cm"},
        {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": "train-1700000000", "uid": "u-run",
         "controller": True, "blockOwnerDeletion": True}]}}
    owners = sidecar.Owners.of(pod)
    assert owners.pod == {"apiVersion": "v1", "kind": "Pod", "name": "train-worker-0", "uid": "u-pod"}
    assert owners.run == {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": "train-1700000000",
                          "uid": "u-run"}  # no blockOwnerDeletion: it would need delete on the Job
    body = sidecar.status_configmap(IDENT, sidecar.status_entry(IDENT, None, None), owners)
    assert body["metadata"]["name"] == "tenantc-status-train-1700000000"
    assert body["metadata"]["ownerReferences"] == [owners.run]
    assert body["metadata"]["labels"]["tenantc.io/job"] == "train"
    lease = sidecar.new_lease(IDENT, 10, 1.0, owners.pod)
    assert lease["metadata"]["ownerReferences"] == [owners.pod]
    renewed = sidecar.renewed_lease({"metadata": {"name": "train-worker-0"}, "spec": {}}, IDENT, 10, 2.0, owners.pod)
    assert renewed["metadata"]["ownerReferences"] == [owners.pod]
    again = sidecar.renewed_lease(renewed, IDENT, 10, 3.0, owners.pod)
    assert again["metadata"]["ownerReferences"] == [owners.pod]  # added once
    bare = sidecar.Owners.of({"metadata": {"name": "by-hand", "uid": "u"}})
    assert bare.run is None and bare.configmap_name(IDENT) == "tenantc-status-train"


def test_final_entry_has_container_states_and_file_error():
    entry = sidecar.status_entry(IDENT, None, None, final=True, containers={"main": {"state": "running"}},
                                 error="not valid JSON")
    assert entry == {"pod": "train-worker-0", "task": "worker", "final": True,
                     "containers": {"main": {"state": "running"}}, "statusFileError": "not valid JSON"}


def test_container_states_from_a_pod():
    pod = {"status": {"containerStatuses": [
        {"name": "main", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}},
        {"name": "helper", "state": {"running": {"startedAt": "x"}}},
        {"name": "late", "state": {"waiting": {"reason": "ContainerCreating"}}},
    ], "initContainerStatuses": [{"name": "tenantc-agent", "state": {"running": {}}}]}}
    assert sidecar.container_states(pod) == {
        "main": {"state": "terminated", "exitCode": 137, "reason": "OOMKilled"},
        "helper": {"state": "running"},
        "late": {"state": "waiting", "reason": "ContainerCreating"},
    }
    assert sidecar.container_states({"status": {}}) == {}


# --------------------------------------------------------------------------- scale-runtime


@pytest.mark.parametrize("text, plural", [
    ("jindoruntime/c", "jindoruntimes"), ("JindoRuntime/c", "jindoruntimes"), ("AlluxioRuntime/c", "alluxioruntimes"),
    ("juicefsruntime/c", "juicefsruntimes"), ("ThinRuntime/c", "thinruntimes"), ("thinruntimes/c", "thinruntimes"),
])
def test_runtime_targets(text, plural):
    assert parse_target(text) == (plural, "c")


@pytest.mark.parametrize("text", ["jindoruntime", "/c", "jindoruntime/", "Deployment/c", "jindoruntime/a/b"])
def test_bad_runtime_targets(text):
    with pytest.raises(ValueError):
        parse_target(text)


# --------------------------------------------------------------------------- permissions & hygiene


def test_permissions_module_is_import_free():
    tree = ast.parse((AGENT_DIR / "permissions.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_rules_for_returns_copies_and_covers_every_command():
    rules = permissions.rules_for()
    rules[0]["verbs"].append("delete")
    assert "delete" not in permissions.AGENT_PERMISSIONS["sidecar"][0]["verbs"]
    assert permissions.permission_set(permissions.rules_for("wait-dataset")) == {("data.fluid.io", "datasets", "get")}
    every = permissions.permission_set(permissions.rules_for())
    assert every == set().union(*(permissions.permission_set(permissions.rules_for(c))
                                  for c in permissions.AGENT_PERMISSIONS))
    assert not any(verb in {"*", "watch", "deletecollection"} for _, _, verb in every)
    # Only run-flow lists and deletes, and only JobFlows (its own runs: compiler/agent/run_flow.py).
    broad = {(g, r, v) for g, r, v in every if v in ("list", "delete")}
    assert broad == {("flow.volcano.sh", "jobflows", "list"), ("flow.volcano.sh", "jobflows", "delete")}
    assert broad <= permissions.permission_set(permissions.rules_for("run-flow"))


def test_agent_imports_nothing_of_the_compiler_nor_heavy_packages():
    """What a pod pays at start: only compiler.agent.* and the standard library."""
    code = ("import sys, compiler.agent.main as m, compiler.agent.sidecar, compiler.agent.wait_dataset, "
            "compiler.agent.scale_runtime, compiler.agent.permissions; "
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in loaded if m.split(".")[0] == "compiler"]
    assert ours and all(m == "compiler" or m.startswith("compiler.agent") for m in ours), ours
    heavy = {"kubernetes", "yaml", "pydantic", "rich", "urllib3", "requests", "logging", "asyncio"}
    assert not heavy & {m.split(".")[0] for m in loaded}


def test_a_broken_status_file_keeps_the_last_good_status(tmp_path):
    """Programs that write in place get caught mid-write; the mirror must not flap."""
    from compiler.agent.kubeapi import ClusterConfig, KubeClient

    path = tmp_path / "status.json"
    car = sidecar.Sidecar(KubeClient(ClusterConfig(host="127.0.0.1", port=1, insecure=True)), IDENT,
                          status_path=str(path))
    assert car.read_status() == (None, None, None)
    path.write_text('{"phase": "Running", "progress": 0.5}')
    good, mtime, error = car.read_status()
    assert good == {"phase": "Running", "progress": 0.5} and mtime and error is None
    path.write_text('{"phase": "Running", "progr')
    assert car.read_status()[:2] == (good, mtime) and "not valid JSON" in car.read_status()[2]
    path.unlink()
    assert car.read_status() == (good, mtime, None)


def test_sidecar_never_waits_longer_than_one_interval_between_failed_rounds():
    """Renewal resumes within one interval of the API server's return: retries back off, but the
    wait is capped at the interval (and at --max-backoff when that is smaller)."""
    from compiler.agent.sidecar import PodIdentity, Sidecar

    ident = PodIdentity("p", "ns", "job", "task")
    for interval, max_backoff, cap in ((2.0, 30.0, 2.0), (10.0, 3.0, 3.0), (0.2, 30.0, 0.2)):
        sidecar = Sidecar(None, ident, interval=interval, status_path="/nonexistent", max_backoff=max_backoff)
        sidecar.backoff.rng = lambda: 0.0
        delays = [sidecar.backoff.next() for _ in range(12)]
        assert max(delays) == cap and delays[0] == min(0.5, interval)


# --------------------------------------------------------------------------- run-flow


class _FakeFlows:
    """The JobFlow collection of one namespace, as run-flow sees it through KubeClient."""

    def __init__(self, runs: list[dict]):
        self.runs = {r["metadata"]["name"]: r for r in runs}
        self.calls: list[tuple[str, str]] = []

    def list_items(self, path, label_selector=None, timeout=None):
        self.calls.append(("list", label_selector))
        wanted = dict(term.split("=") for term in label_selector.split(","))
        return [r for r in self.runs.values()
                if all(r["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]

    def create(self, path, obj, timeout=None):
        self.calls.append(("create", obj["metadata"]["name"]))
        if obj["metadata"]["name"] in self.runs:
            raise ApiError(409, "POST", path, "already exists")
        self.runs[obj["metadata"]["name"]] = obj
        return obj

    def delete(self, path, propagation="Background", timeout=None):
        name = path.rsplit("/", 1)[1]
        self.calls.append(("delete", name))
        self.runs.pop(name)
        return {}


def _run(name: str, phase: str, minute: int, pipeline: str = "daily") -> dict:
    return {"metadata": {"name": name, "creationTimestamp": f"2026-11-23T03:{minute:02d}:00Z",
                         "labels": {"tenantc.io/pipeline": pipeline, "app.kubernetes.io/managed-by": "tenantc-agent"}},
            "status": {"state": {"phase": phase}} if phase else {}}


FLOWS = [("daily-prep", []), ("daily-train", ["daily-prep"])]


def _start(fake, policy="Forbid", run="daily-29000100", keep=(3, 1)):
    from compiler.agent.run_flow import run as run_flow

    out = io.StringIO()
    code = run_flow(fake, "vision", "daily", run, FLOWS, policy, keep[0], keep[1], timeout=5, out=out)
    return code, out.getvalue()


def test_run_flow_creates_the_run_as_a_jobflow_of_the_templates():
    fake = _FakeFlows([_run("other-1", "", 1, pipeline="other")])
    code, said = _start(fake)
    assert code == 0 and "started run vision/daily-29000100" in said
    made = fake.runs["daily-29000100"]
    assert made["spec"] == {"jobRetainPolicy": "retain", "flows": [
        {"name": "daily-prep"}, {"name": "daily-train", "dependsOn": {"targets": ["daily-prep"]}}]}
    assert made["metadata"]["labels"] == {"tenantc.io/pipeline": "daily", "tenantc.io/tenant": "vision",
                                          "app.kubernetes.io/managed-by": "tenantc-agent"}
    assert fake.calls == [("list", "tenantc.io/pipeline=daily,app.kubernetes.io/managed-by=tenantc-agent"),
                          ("create", "daily-29000100")]


def test_run_flow_never_touches_a_jobflow_tenantc_rendered():
    rendered = _run("daily", "Succeed", 0)
    rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "tenantc"
    fake = _FakeFlows([rendered, _run("daily-28998660", "Running", 1)])
    fake.runs["daily-28998660"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "tenantc"
    code, _ = _start(fake, "Replace", keep=(0, 0))
    assert code == 0 and {"daily", "daily-28998660", "daily-29000100"} == set(fake.runs)


def test_run_flow_is_idempotent_for_a_retried_pod():
    fake = _FakeFlows([_run("daily-29000100", "Running", 0)])
    code, said = _start(fake)
    assert code == 0 and "exists already" in said
    assert ("create", "daily-29000100") not in fake.calls


@pytest.mark.parametrize("phase", ["", "Pending", "Running"])
def test_run_flow_forbid_skips_while_an_earlier_run_is_unfinished(phase):
    fake = _FakeFlows([_run("daily-28998660", phase, 0)])
    code, said = _start(fake, "Forbid")
    assert code == 0 and "skipped" in said and "daily-28998660" in said
    assert set(fake.runs) == {"daily-28998660"}


def test_run_flow_replace_deletes_unfinished_runs_first_and_allow_keeps_them():
    fake = _FakeFlows([_run("daily-28998660", "Running", 0), _run("daily-28997220", "Succeed", 1)])
    assert _start(fake, "Replace")[0] == 0
    assert fake.calls[1:] == [("delete", "daily-28998660"), ("create", "daily-29000100")]
    fake = _FakeFlows([_run("daily-28998660", "Running", 0)])
    assert _start(fake, "Allow")[0] == 0
    assert set(fake.runs) == {"daily-28998660", "daily-29000100"}


def test_run_flow_deletes_the_oldest_finished_runs_beyond_the_history():
    runs = [_run(f"daily-s{i}", "Succeed", i) for i in range(5)] + [_run(f"daily-f{i}", "Failed", 10 + i)
                                                                      for i in range(3)]
    fake = _FakeFlows(runs)
    code, _ = _start(fake, keep=(2, 1))
    assert code == 0
    assert set(fake.runs) == {"daily-s3", "daily-s4", "daily-f2", "daily-29000100"}


@pytest.mark.parametrize("flows, complaint", [
    ([("a", []), ("a", [])], "given twice"),
    ([("a", ["b"])], "not a flow of this run"),
    ([("a", ["b"]), ("b", ["a"])], "cycle: a -> b -> a"),
    ([("x" * 60, [])], "longer than 63"),
])
def test_run_flow_refuses_flows_volcano_would_not_run(flows, complaint):
    from compiler.agent.run_flow import FlowError, check_flows

    with pytest.raises(FlowError, match=complaint):
        check_flows("daily-29000100", flows)
