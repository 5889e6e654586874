"""`tenantc-agent` against the real local API server, as the ServiceAccount a pod would have.

Setup goes through the admin kubeconfig with the `kubernetes` client (namespaces, the
ServiceAccount `agent` in tenant-a, its Role rendered from compiler.agent.permissions, a
token from TokenRequest); the agent itself runs as a subprocess with only server + CA and
that token. Nothing that talks to the API is mocked. No kubelet runs, so Pod objects are
stored but never started: the tests set a Pod's status themselves, as the kubelet would.

The last test reads the API server's audit log and requires the permissions the agent used
to equal the ones permissions.py declares.
"""
from __future__ import annotations

import base64
import datetime
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path

import kubernetes
import pytest
import yaml
from agent_helpers import (
    AgentProcess,
    agent_env,
    eventually,
    run_agent,
    write_kubeconfig,
    write_status,
)
from kubernetes.client.rest import ApiException

from compiler.agent.permissions import AGENT_PERMISSIONS, permission_set, rules_for

pytestmark = pytest.mark.cluster

TENANT, OTHER = "tenant-a", "tenant-b"
SA = "agent"
SA_USER = f"system:serviceaccount:{TENANT}:{SA}"
FLUID = ("data.fluid.io", "v1alpha1")
FLUID_CRDS = ("datasets", "jindoruntimes", "alluxioruntimes", "juicefsruntimes", "thinruntimes")
FLOW = ("flow.volcano.sh", "v1alpha1")
MINE = {"tenantc.io/test": "agent"}  # on what the tests create, so teardown finds it
SHARED_CRDS = Path(__file__).resolve().parents[3] / "shared" / "crds"
SHARED_FLUID_CRDS = SHARED_CRDS / "fluid"


def _uid() -> str:
    return uuid.uuid4().hex[:6]


class Live:
    """Admin API handles plus what the agent subprocesses need (kubeconfig, token file)."""

    def __init__(self, control_plane, workdir: Path):
        self.cp = control_plane
        self.api = kubernetes.config.new_client_from_config(config_file=control_plane.kubeconfig_path)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.rbac = kubernetes.client.RbacAuthorizationV1Api(self.api)
        self.coord = kubernetes.client.CoordinationV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.ext = kubernetes.client.ApiextensionsV1Api(self.api)
        self.authz = kubernetes.client.AuthorizationV1Api(self.api)
        self.workdir = workdir
        self.audit_log = Path(control_plane.audit_log_path)
        self.audit_start = self.audit_log.stat().st_size if self.audit_log.exists() else 0

    # -- setup
    def ensure_namespace(self, name: str) -> None:
        def absent_or_active():
            try:
                ns = self.core.read_namespace(name)
            except ApiException as exc:
                if exc.status == 404:
                    return "absent"
                raise
            return ns.status.phase == "Active" and "active"

        if eventually(absent_or_active, 120, 0.5, f"namespace {name} not terminating") == "absent":
            self.core.create_namespace({"metadata": {"name": name}})

    def ensure_fluid_crds(self) -> None:
        missing = [p for p in FLUID_CRDS if not self._crd_established(f"{p}.{FLUID[0]}")]
        if not missing:
            return
        if not SHARED_FLUID_CRDS.is_dir():
            pytest.skip(f"Fluid CRDs not installed and no {SHARED_FLUID_CRDS.name}/ CRD folder beside the checkout")
        for plural in missing:
            crd = yaml.safe_load((SHARED_FLUID_CRDS / f"{FLUID[0]}_{plural}.yaml").read_text())
            try:
                self.ext.create_custom_resource_definition(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        for plural in missing:
            eventually(lambda plural=plural: self._crd_established(f"{plural}.{FLUID[0]}"), 60, 0.5,
                       f"CRD {plural} established")

    def ensure_jobflow_crd(self) -> None:
        """Volcano's JobFlow CRD, as run-flow needs it (the control plane installs ../shared/crds)."""
        if self._crd_established(f"jobflows.{FLOW[0]}"):
            return
        path = SHARED_CRDS / "volcano" / f"{FLOW[0]}_jobflows.yaml"
        if not path.is_file():
            pytest.skip(f"Volcano's JobFlow CRD not installed and no {path.name} beside the checkout")
        try:
            self.ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        except ApiException as exc:
            if exc.status != 409:
                raise
        eventually(lambda: self._crd_established(f"jobflows.{FLOW[0]}"), 60, 0.5, "CRD jobflows established")

    def jobflows(self, pipeline: str) -> dict[str, dict]:
        found = self.custom.list_namespaced_custom_object(*FLOW, TENANT, "jobflows",
                                                          label_selector=f"tenantc.io/pipeline={pipeline}")
        return {item["metadata"]["name"]: item for item in found["items"]}

    def set_jobflow_phase(self, name: str, phase: str) -> None:
        """What Volcano's JobFlow controller writes when a run ends (status.state.phase)."""
        self.custom.patch_namespaced_custom_object_status(*FLOW, TENANT, "jobflows", name,
                                                          {"status": {"state": {"phase": phase}}})

    def _crd_established(self, name: str) -> bool:
        try:
            crd = self.ext.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    def grant_agent_role(self) -> None:
        """ServiceAccount + Role from permissions.py + RoleBinding, then wait until RBAC says yes
        (asked as admin through SubjectAccessReview, so no agent request is spent on it)."""
        self._create_or_replace(self.core.create_namespaced_service_account, None, {"metadata": {"name": SA}})
        role = {"metadata": {"name": "tenantc-agent"}, "rules": rules_for()}
        self._create_or_replace(self.rbac.create_namespaced_role, self.rbac.replace_namespaced_role, role)
        binding = {
            "metadata": {"name": "tenantc-agent"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenantc-agent"},
            "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": TENANT}],
        }
        self._create_or_replace(self.rbac.create_namespaced_role_binding, None, binding)
        for group, resource, verb in sorted(permission_set(rules_for())):
            eventually(lambda g=group, r=resource, v=verb: self.allowed(TENANT, g, r, v), 30, 0.2,
                       f"RBAC allows {verb} {resource}")

    def _create_or_replace(self, create, replace, body: dict) -> None:
        try:
            create(TENANT, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            if replace:
                replace(body["metadata"]["name"], TENANT, body)

    def allowed(self, namespace: str, group: str, resource: str, verb: str) -> bool:
        review = self.authz.create_subject_access_review({"spec": {
            "user": SA_USER, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{TENANT}"],
            "resourceAttributes": {"namespace": namespace, "group": group, "resource": resource, "verb": verb},
        }})
        return bool(review.status.allowed)

    def issue_token(self) -> Path:
        token = self.core.create_namespaced_service_account_token(
            SA, TENANT, {"spec": {"expirationSeconds": 3600}}).status.token
        path = self.workdir / "token"
        path.touch(mode=0o600)
        path.write_text(token)
        return path

    def agent_kubeconfig(self) -> Path:
        """Server and CA of the admin kubeconfig, no credential: the token comes separately."""
        admin = yaml.safe_load(Path(self.cp.kubeconfig_path).read_text())
        cluster = admin["clusters"][0]["cluster"]
        ca = cluster.get("certificate-authority-data") or base64.b64encode(
            Path(cluster["certificate-authority"]).read_bytes()).decode()
        return write_kubeconfig(self.workdir / "agent.kubeconfig", cluster["server"], ca_data=ca)

    def clean_up(self) -> None:
        """Remove what this module made, leaving the shared namespaces to other tests."""
        agent_made = "app.kubernetes.io/managed-by=tenantc-agent"
        test_made = ",".join(f"{k}={v}" for k, v in MINE.items())
        steps = [
            lambda: self.coord.delete_collection_namespaced_lease(TENANT, label_selector=agent_made),
            lambda: self.core.delete_collection_namespaced_config_map(TENANT, label_selector=agent_made),
            lambda: self.core.delete_collection_namespaced_pod(TENANT, label_selector=test_made),
            lambda: self.custom.delete_collection_namespaced_custom_object(*FLOW, TENANT, "jobflows",
                                                                           label_selector=agent_made),
            *(lambda p=p: self.custom.delete_collection_namespaced_custom_object(*FLUID, TENANT, p,
                                                                                label_selector=test_made)
              for p in FLUID_CRDS),
            lambda: self.rbac.delete_namespaced_role_binding("tenantc-agent", TENANT),
            lambda: self.rbac.delete_namespaced_role("tenantc-agent", TENANT),
            lambda: self.core.delete_namespaced_service_account(SA, TENANT),
        ]
        for step in steps:
            try:
                step()
            except ApiException:
                pass  # already gone; teardown must not mask a test's own failure

    # -- reading what the agent did
    def lease(self, namespace: str, name: str):
        try:
            return self.coord.read_namespaced_lease(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def status_entries(self, job: str, namespace: str = TENANT) -> dict:
        try:
            cm = self.core.read_namespaced_config_map(f"tenantc-status-{job}", namespace)
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise
        return {key: json.loads(value) for key, value in (cm.data or {}).items()}

    def dataset(self, name: str, percent: str | None = None, create: bool = False) -> None:
        """Create a Dataset and/or write its cache status through /status, as Fluid would."""
        if create:
            body = {"apiVersion": "/".join(FLUID), "kind": "Dataset", "metadata": {"name": name, "labels": MINE},
                    "spec": {"mounts": [{"name": "data", "mountPoint": "https://example.invalid/data/"}]}}
            self.custom.create_namespaced_custom_object(*FLUID, TENANT, "datasets", body)
        if percent is not None:
            status = {"conditions": [], "phase": "Bound",
                      "cacheStates": {"cachedPercentage": percent, "cacheCapacity": "10.00GiB"}}
            self.custom.patch_namespaced_custom_object_status(*FLUID, TENANT, "datasets", name, {"status": status})

    def create_pod(self, name: str, exit_code: int | None = None) -> None:
        """A stored Pod named like the sidecar's; with `exit_code`, its main container is shown
        terminated, which is what the kubelet posts before it stops the native sidecar."""
        body = {"metadata": {"name": name, "labels": MINE}, "spec": {
            "serviceAccountName": SA, "automountServiceAccountToken": False,
            "containers": [{"name": "main", "image": "example.invalid/train:1"}]}}
        self.core.create_namespaced_pod(TENANT, body)
        if exit_code is not None:
            state = {"terminated": {"exitCode": exit_code, "reason": "Error" if exit_code else "Completed"}}
            status = {"containerStatuses": [{"name": "main", "ready": False, "restartCount": 0,
                                             "image": "example.invalid/train:1", "imageID": "", "state": state}]}
            self.core.patch_namespaced_pod_status(name, TENANT, {"status": status})

    def audit_events(self, since: int) -> list[dict]:
        """ResponseComplete events of the agent's ServiceAccount written after byte `since`."""
        with open(self.audit_log, "rb") as fh:
            fh.seek(since)
            lines = fh.read().splitlines()
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:  # a line still being written
                continue
            if event.get("stage") == "ResponseComplete" and event.get("user", {}).get("username") == SA_USER:
                events.append(event)
        return events


@pytest.fixture(scope="module")
def live(control_plane, tmp_path_factory):
    env = Live(control_plane, tmp_path_factory.mktemp("agent-live"))
    for namespace in (TENANT, OTHER):
        env.ensure_namespace(namespace)
    env.ensure_fluid_crds()
    env.ensure_jobflow_crd()
    env.grant_agent_role()
    env.token_file = env.issue_token()
    env.kubeconfig = env.agent_kubeconfig()
    env.agent_args = ["--kubeconfig", str(env.kubeconfig), "--token-file", str(env.token_file)]
    yield env
    env.clean_up()


def sidecar(live: Live, pod: str, job: str, status_file: Path, namespace: str = TENANT,
            interval: str = "0.5") -> AgentProcess:
    env = agent_env(POD_NAME=pod, POD_NAMESPACE=namespace, TENANTC_JOB=job, TENANTC_TASK="worker")
    return AgentProcess("sidecar", "--interval", interval, "--max-backoff", "1", "--shutdown-timeout", "3",
                        "--status-file", str(status_file), *live.agent_args, env=env)


def renew_time(live: Live, pod: str, namespace: str = TENANT):
    lease = live.lease(namespace, pod)
    return lease.spec.renew_time if lease else None


def wait_renewed_after(live: Live, pod: str, after, timeout: float = 30.0):
    return eventually(lambda: (t := renew_time(live, pod)) and t > after and t, timeout, 0.2,
                      f"lease {pod} renewed after {after}")


# --------------------------------------------------------------------------- sidecar


def test_two_sidecars_heartbeat_and_merge_their_status_then_finish_on_sigterm(live, tmp_path):
    job = f"train-{_uid()}"
    pods = [f"{job}-worker-0", f"{job}-worker-1"]
    files = [tmp_path / "status-0.json", tmp_path / "status-1.json"]
    write_status(files[0], {"phase": "Running", "progress": 0.25, "metrics": {"loss": 1.25}})
    write_status(files[1], {"phase": "Running", "progress": 0.5, "message": "epoch 2"})
    live.create_pod(pods[0], exit_code=3)  # worker-1 has no Pod object: its final GET is a 404
    with sidecar(live, pods[0], job, files[0]) as first, sidecar(live, pods[1], job, files[1]) as second:
        first_renew = eventually(lambda: renew_time(live, pods[0]), 30, 0.2, "lease created")
        wait_renewed_after(live, pods[0], first_renew)
        lease = live.lease(TENANT, pods[0])
        assert lease.spec.holder_identity == pods[0] and lease.spec.lease_duration_seconds == 2
        assert lease.metadata.labels == {"tenantc.io/job": job, "tenantc.io/task": "worker",
                                         "tenantc.io/tenant": TENANT, "app.kubernetes.io/managed-by": "tenantc-agent"}

        entries = eventually(lambda: len(e := live.status_entries(job)) == 2 and e, 30, 0.2, "both status keys")
        assert entries[f"{pods[0]}.json"]["metrics"] == {"loss": 1.25}
        assert entries[f"{pods[1]}.json"]["message"] == "epoch 2"
        cm = live.core.read_namespaced_config_map(f"tenantc-status-{job}", TENANT)
        managers = {f.manager for f in cm.metadata.managed_fields if f.operation == "Apply"}
        assert managers == {f"tenantc-agent-{p}" for p in pods}
        assert cm.metadata.labels["app.kubernetes.io/managed-by"] == "tenantc-agent"

        # One pod's update leaves the other's key as it was.
        write_status(files[0], {"phase": "Running", "progress": 0.9, "metrics": {"loss": 0.5}})
        eventually(lambda: live.status_entries(job)[f"{pods[0]}.json"]["progress"] == 0.9, 30, 0.2, "update")
        assert live.status_entries(job)[f"{pods[1]}.json"] == entries[f"{pods[1]}.json"]

        write_status(files[0], {"phase": "Failed", "progress": 0.9})
        for agent in (first, second):
            code, elapsed = agent.terminate()
            assert code == 0 and elapsed < 5, (code, elapsed, agent.output)

    final = live.status_entries(job)
    assert final[f"{pods[0]}.json"]["final"] is True and final[f"{pods[0]}.json"]["phase"] == "Failed"
    assert final[f"{pods[0]}.json"]["containers"] == {"main": {"state": "terminated", "exitCode": 3,
                                                               "reason": "Error"}}
    assert final[f"{pods[1]}.json"]["final"] is True and "containers" not in final[f"{pods[1]}.json"]
    assert "main container state unknown" in second.output and "HTTP 404" in second.output
    token = live.token_file.read_text()
    assert token not in first.output + second.output


VOLCANO_JOB = ("batch.volcano.sh", "v1alpha1", "jobs")


def _gone(read) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def test_leases_and_status_configmaps_go_with_their_pod_and_run(live, tmp_path):
    """Issue 16: the Lease is owned by its pod and the status ConfigMap by the pod's controller,
    the Volcano Job run; kube-controller-manager's garbage collector (running in this control
    plane) deletes them after their owner (https://kubernetes.io/docs/concepts/architecture/
    garbage-collection/). A schedule's runs (Volcano Jobs made by its CronJob, deleted by its
    history limits) each get their own ConfigMap, so none grows with the number of runs."""
    schedule = f"nightly-{_uid()}"
    runs = [f"{schedule}-{n}" for n in (1, 2)]
    for run in runs:  # what Volcano's CronJob controller makes at each scheduled time
        job = live.custom.create_namespaced_custom_object(*VOLCANO_JOB[:2], TENANT, VOLCANO_JOB[2], {
            "apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": run, "labels": MINE},
            "spec": {"tasks": [{"name": "worker", "replicas": 1, "template": {"spec": {
                "containers": [{"name": "main", "image": "example.invalid/train:1"}]}}}]}})
        pod = f"{run}-worker-0"
        live.core.create_namespaced_pod(TENANT, {"metadata": {
            "name": pod, "labels": MINE, "ownerReferences": [{
                "apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": run,
                "uid": job["metadata"]["uid"], "controller": True}]},
            "spec": {"serviceAccountName": SA, "automountServiceAccountToken": False,
                     "containers": [{"name": "main", "image": "example.invalid/train:1"}]}})
        status = tmp_path / f"{run}.json"
        write_status(status, {"phase": "Running", "progress": 0.5})
        with sidecar(live, pod, schedule, status) as agent:
            eventually(lambda run=run: live.status_entries(run), 30, 0.2, f"status of {run}")
            eventually(lambda pod=pod: renew_time(live, pod), 30, 0.2, "lease created")
            code, _ = agent.terminate()
            assert code == 0, agent.output
    assert live.status_entries(schedule) == {}, "no ConfigMap of the schedule itself, shared by its runs"
    first_pod = live.core.read_namespaced_pod(f"{runs[0]}-worker-0", TENANT)
    lease = live.lease(TENANT, first_pod.metadata.name)
    assert [(r.kind, r.name, r.uid) for r in lease.metadata.owner_references] == \
        [("Pod", first_pod.metadata.name, first_pod.metadata.uid)]
    cm = live.core.read_namespaced_config_map(f"tenantc-status-{runs[0]}", TENANT)
    assert [(r.kind, r.name) for r in cm.metadata.owner_references] == [("Job", runs[0])]
    assert cm.metadata.labels["tenantc.io/job"] == schedule  # status finds a schedule's runs by it

    live.core.delete_namespaced_pod(first_pod.metadata.name, TENANT)
    eventually(lambda: _gone(lambda: live.coord.read_namespaced_lease(first_pod.metadata.name, TENANT)), 90, 0.5,
               "the garbage collector deleted the pod's Lease")
    live.custom.delete_namespaced_custom_object(*VOLCANO_JOB[:2], TENANT, VOLCANO_JOB[2], runs[0])
    eventually(lambda: _gone(lambda: live.core.read_namespaced_config_map(f"tenantc-status-{runs[0]}", TENANT)),
               90, 0.5, "the garbage collector deleted the run's status ConfigMap")
    assert live.status_entries(runs[1]), "the other run's status is untouched"
    live.custom.delete_namespaced_custom_object(*VOLCANO_JOB[:2], TENANT, VOLCANO_JOB[2], runs[1])
    eventually(lambda: live.lease(TENANT, f"{runs[1]}-worker-0") is None, 90, 0.5,
               "deleting a run deletes its pod, and so the pod's Lease")


def test_sidecar_rides_out_an_api_server_restart(live, tmp_path):
    job = f"restart-{_uid()}"
    pod = f"{job}-worker-0"
    status = tmp_path / "status.json"
    write_status(status, {"phase": "Running", "progress": 0.1})
    with sidecar(live, pod, job, status) as agent:
        agent.wait_for("first heartbeat")
        before = eventually(lambda: renew_time(live, pod), 30, 0.2, "lease created")
        mark = len(agent.lines)
        live.cp.stop_component("kube-apiserver")
        try:
            agent.wait_for("retrying with backoff", timeout=30, start=mark)
            write_status(status, {"phase": "Running", "progress": 0.6})  # while the API is away
            time.sleep(3)
            assert agent.proc.poll() is None, agent.output
        finally:
            live.cp.start_component("kube-apiserver")
        wait_renewed_after(live, pod, before, timeout=60)
        agent.wait_for("working again", timeout=30, start=mark)
        eventually(lambda: live.status_entries(job).get(f"{pod}.json", {}).get("progress") == 0.6, 30, 0.2,
                   "status written while the API was away reaches it")
        code, elapsed = agent.terminate()
    assert code == 0 and elapsed < 5, (code, elapsed, agent.output)


def test_lease_renewal_resumes_within_one_interval_of_the_server_returning(live, tmp_path):
    """The API server crashes (SIGKILL) under a sidecar with a 2 s interval and the default
    --max-backoff (30 s), stays away long enough for an uncapped backoff to outgrow the interval,
    and is restarted: the next renewTime follows its readiness (/readyz ok) within one interval."""
    interval = 2.0
    job = f"resume-{_uid()}"
    pod = f"{job}-worker-0"
    env = agent_env(POD_NAME=pod, POD_NAMESPACE=TENANT, TENANTC_JOB=job, TENANTC_TASK="worker")
    with AgentProcess("sidecar", "--interval", str(interval), "--status-file", str(tmp_path / "status.json"),
                      *live.agent_args, env=env) as agent:
        first = eventually(lambda: renew_time(live, pod), 30, 0.2, "lease created")
        before = wait_renewed_after(live, pod, first)
        mark = len(agent.lines)
        status = live.cp.status()["components"]["kube-apiserver"]
        os.kill(status["pid"], signal.SIGKILL)
        try:
            agent.wait_for("retrying with backoff", timeout=30, start=mark)
            # 0.5+1+2+4+8 s of backoff and more: uncapped, the wait the server returns into is 16-30 s.
            time.sleep(16)
            assert agent.proc.poll() is None, agent.output
        finally:
            live.cp.start_component("kube-apiserver")  # returns once /readyz answers ok
        ready = datetime.datetime.now(datetime.UTC)
        renewed = wait_renewed_after(live, pod, before, timeout=60)
        agent.wait_for("working again", timeout=30, start=mark)
        code, _ = agent.terminate()
    late = (renewed - ready).total_seconds()
    print(f"\nlease renewed {late:+.2f}s after the API server was ready again (interval {interval:g}s)")
    assert late <= interval + 1.0, f"renewal resumed {late:.2f}s after the server was ready\n{agent.output}"
    assert code == 0


def test_the_same_token_is_forbidden_in_another_tenant(live, tmp_path):
    since = live.audit_log.stat().st_size
    job = f"intruder-{_uid()}"
    pod = f"{job}-worker-0"
    with sidecar(live, pod, job, tmp_path / "status.json", namespace=OTHER) as agent:
        agent.wait_for("HTTP 403")
        time.sleep(2)  # more backoff rounds: still running, never crashed
        assert agent.proc.poll() is None, agent.output
        code, elapsed = agent.terminate()
    assert code == 0 and elapsed < 5, (code, elapsed, agent.output)
    assert "Traceback" not in agent.output
    assert live.lease(OTHER, pod) is None and live.status_entries(job, OTHER) == {}

    result = run_agent("wait-dataset", "anything", "-n", OTHER, "--min-cached-percent", "1", "--timeout", "5",
                       *live.agent_args, env=agent_env())
    assert result.returncode == 2 and "not allowed" in result.stderr, result.stderr
    codes = eventually(lambda: [e["responseStatus"]["code"] for e in live.audit_events(since)
                                if (e.get("objectRef") or {}).get("namespace") == OTHER], 15, 0.5, "audit events")
    assert set(codes) == {403}, "in tenant-b every request of the agent was refused"


# --------------------------------------------------------------------------- wait-dataset


def _wait_args(live: Live, *names: str, percent: str = "90", timeout: str = "60") -> list[str]:
    return ["wait-dataset", *names, "-n", TENANT, "--min-cached-percent", percent, "--timeout", timeout,
            "--poll", "0.3", *live.agent_args]


def test_wait_dataset_waits_through_40_percent_and_passes_at_95(live):
    name = f"ds-{_uid()}"
    live.dataset(name, create=True)  # no status yet: 0%
    with AgentProcess(*_wait_args(live, name), env=agent_env()) as waiter:
        waiter.wait_for(f"{TENANT}/{name}: 0% cached")
        live.dataset(name, "40.0%")
        waiter.wait_for(f"{TENANT}/{name}: 40% cached")
        time.sleep(1)
        assert waiter.proc.poll() is None, "40% is below 90%: still waiting"
        live.dataset(name, "95.0%")
        assert waiter.proc.wait(timeout=30) == 0
        waiter.wait_for("reached 90% cached")


def test_wait_dataset_timeout_names_the_dataset_and_its_percentage(live):
    warm, cold = f"warm-{_uid()}", f"cold-{_uid()}"
    live.dataset(warm, "95.0%", create=True)
    live.dataset(cold, "40.0%", create=True)
    start = time.monotonic()
    result = run_agent(*_wait_args(live, warm, cold, timeout="2"), env=agent_env())
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - start < 30
    last = result.stderr.strip().splitlines()[-1]
    assert f"{TENANT}/{cold} at 40.0%" in last and warm not in last, last


@pytest.mark.parametrize("percent, complaint", [(None, "not found"), ("-", "does not report")])
def test_wait_dataset_missing_or_unreadable_is_a_clear_error(live, percent, complaint):
    name = f"odd-{_uid()}"
    if percent is not None:
        live.dataset(name, percent, create=True)
    result = run_agent(*_wait_args(live, name), env=agent_env())
    assert result.returncode == 2, result.stderr
    assert complaint in result.stderr and name in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- scale-runtime

JINDO_SPEC = {
    "replicas": 1,
    "jindoVersion": {"image": "example.invalid/jindo", "imageTag": "6.9.1"},
    "tieredstore": {"levels": [{"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi", "high": "0.99",
                                "low": "0.95"}]},
    "master": {"properties": {"namespace.filelet.cache.size": "100000"}},
    "worker": {"nodeSelector": {"pool": "cache"}},
    "properties": {"jfs.cache.meta-cache.enable": "true"},
}


def _runtime(live: Live, plural: str, kind: str, name: str, spec: dict) -> dict:
    body = {"apiVersion": "/".join(FLUID), "kind": kind,
            "metadata": {"name": name, "labels": {"team": "vision", **MINE}}, "spec": spec}
    return live.custom.create_namespaced_custom_object(*FLUID, TENANT, plural, body)


def test_scale_runtime_changes_replicas_and_nothing_else(live):
    name = f"cache-{_uid()}"
    before = _runtime(live, "jindoruntimes", "JindoRuntime", name, JINDO_SPEC)
    result = run_agent("scale-runtime", f"JindoRuntime/{name}", "-n", TENANT, "--replicas", "4", *live.agent_args,
                       env=agent_env())
    assert result.returncode == 0, result.stderr
    after = live.custom.get_namespaced_custom_object(*FLUID, TENANT, "jindoruntimes", name)
    assert after["spec"]["replicas"] == 4

    def without_replicas(obj):
        return {k: v for k, v in obj["spec"].items() if k != "replicas"}

    assert without_replicas(after) == without_replicas(before) and without_replicas(before)
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"].get("annotations") == before["metadata"].get("annotations")


def test_scale_runtime_missing_runtime_is_exit_2(live):
    result = run_agent("scale-runtime", f"jindoruntime/absent-{_uid()}", "-n", TENANT, "--replicas", "1",
                       *live.agent_args, env=agent_env())
    assert result.returncode == 2 and "not found" in result.stderr, result.stderr


# --------------------------------------------------------------------------- run-flow


def _run_flow_args(live: Live, pipeline: str, run: str, *extra: str) -> list[str]:
    return ["run-flow", pipeline, "-n", TENANT, "--run", run, "--flow", f"{pipeline}-prep",
            "--flow", f"{pipeline}-train:{pipeline}-prep", *extra, *live.agent_args]


def test_run_flow_starts_each_run_once_and_follows_its_policy(live):
    pipeline = f"daily-{_uid()}"
    first, second, third = (f"{pipeline}-2900000{i}" for i in range(3))
    result = run_agent(*_run_flow_args(live, pipeline, first), env=agent_env())
    assert result.returncode == 0, result.stderr
    runs = live.jobflows(pipeline)
    assert list(runs) == [first]
    assert runs[first]["spec"]["flows"] == [{"name": f"{pipeline}-prep"}, {
        "name": f"{pipeline}-train", "dependsOn": {"targets": [f"{pipeline}-prep"]}}]
    assert runs[first]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tenantc-agent"

    # The pod retried: the same run, not a second one.
    again = run_agent(*_run_flow_args(live, pipeline, first), env=agent_env())
    assert again.returncode == 0 and "exists already" in again.stderr, again.stderr
    # Forbid (the default): the first run has not finished, so the next scheduled one is skipped.
    skipped = run_agent(*_run_flow_args(live, pipeline, second), env=agent_env())
    assert skipped.returncode == 0 and "skipped" in skipped.stderr, skipped.stderr
    assert list(live.jobflows(pipeline)) == [first]
    # Once Volcano marks it Succeed, the next run starts, and with --keep-succeeded 0 the old one goes.
    live.set_jobflow_phase(first, "Succeed")
    started = run_agent(*_run_flow_args(live, pipeline, third, "--keep-succeeded", "0"), env=agent_env())
    assert started.returncode == 0, started.stderr
    eventually(lambda: list(live.jobflows(pipeline)) == [third], 30, 0.3, "only the new run left")


def test_run_flow_in_another_tenant_is_refused(live):
    result = run_agent("run-flow", "x", "-n", OTHER, "--run", f"x-{_uid()}", "--flow", "x-a", *live.agent_args,
                       env=agent_env())
    assert result.returncode == 2 and "HTTP 403" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- least privilege


_REFUSAL = re.compile(r'cannot (\S+) resource "([^"]+)" in API group "([^"]*)"')


def _used(events: list[dict], namespace: str) -> tuple[set, set]:
    """(permissions exercised, permissions refused) in `namespace`, from audit events.

    A server-side apply that created its object is a PATCH answered 201, and the API server
    authorized it as `create` as well as `patch` (see permissions.py), so it counts as both.
    A 403 counts as the permission its message says was missing (for an apply that would
    have created the object, that is `create`, not the request's `patch`). Requests outside
    any namespaced object (discovery, /version) are kept as they are, so they break the
    equality too.
    """
    used, refused = set(), set()
    for event in events:
        ref = event.get("objectRef") or {}
        status = event.get("responseStatus") or {}
        if not ref:
            used.add(("non-resource", event.get("requestURI"), event["verb"]))
            continue
        if ref.get("namespace") != namespace:
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        key = (ref.get("apiGroup", ""), resource)
        used.add((*key, event["verb"]))
        if event["verb"] == "patch" and status.get("code") == 201:
            used.add((*key, "create"))
        if status.get("code") == 403:
            match = _REFUSAL.search(status.get("message", ""))
            verb, resource, group = match.groups() if match else (event["verb"], *key[::-1])
            refused.add((group, resource, verb))
    return used | refused, refused


def test_the_agent_uses_exactly_the_declared_permissions(live, tmp_path):
    """Exercise every command once, then compare the audit log with permissions.py."""
    since = live.audit_log.stat().st_size
    job = f"audit-{_uid()}"
    pod = f"{job}-worker-0"
    live.create_pod(pod, exit_code=0)
    status = tmp_path / "status.json"
    write_status(status, {"phase": "Succeeded", "progress": 1})
    with sidecar(live, pod, job, status) as agent:
        first = eventually(lambda: renew_time(live, pod), 30, 0.2, "lease created")
        wait_renewed_after(live, pod, first)
        eventually(lambda: live.status_entries(job), 30, 0.2, "status written")
        code, _ = agent.terminate()
        assert code == 0, agent.output

    dataset = f"audit-{_uid()}"
    live.dataset(dataset, "100.0%", create=True)
    assert run_agent("wait-dataset", dataset, "-n", TENANT, "--min-cached-percent", "50", "--timeout", "30",
                     *live.agent_args, env=agent_env()).returncode == 0
    for plural, kind in (("jindoruntimes", "JindoRuntime"), ("alluxioruntimes", "AlluxioRuntime"),
                         ("juicefsruntimes", "JuiceFSRuntime"), ("thinruntimes", "ThinRuntime")):
        name = f"audit-{_uid()}"
        _runtime(live, plural, kind, name, {"replicas": 1})
        result = run_agent("scale-runtime", f"{kind}/{name}", "-n", TENANT, "--replicas", "2", *live.agent_args,
                           env=agent_env())
        assert result.returncode == 0, result.stderr

    pipeline = f"audit-{_uid()}"
    assert run_agent(*_run_flow_args(live, pipeline, f"{pipeline}-1"), env=agent_env()).returncode == 0
    live.set_jobflow_phase(f"{pipeline}-1", "Failed")
    assert run_agent(*_run_flow_args(live, pipeline, f"{pipeline}-2", "--keep-failed", "0"),
                     env=agent_env()).returncode == 0  # lists, creates run 2, deletes failed run 1

    declared = permission_set(rules_for(*AGENT_PERMISSIONS))

    def settled():  # the audit backend may write the last events a moment after the answers
        used, _ = _used(live.audit_events(since), TENANT)
        return used == declared and used

    try:
        eventually(settled, 15, 0.5, "audit log lists every declared permission")
    except AssertionError:
        used, refused = _used(live.audit_events(since), TENANT)
        pytest.fail(f"used but not declared: {sorted(used - declared)}; "
                    f"declared but never used: {sorted(declared - used)}; refused: {refused}")

    # Over the whole module too, nothing was refused for want of a rule. (A refusal of a
    # declared verb does happen: for a moment after the API server restarts, its RBAC
    # authorizer has not loaded the Role yet; the agent just retries.)
    _, refused = _used(live.audit_events(live.audit_start), TENANT)
    assert refused <= declared, f"refused for want of a rule: {sorted(refused - declared)}"

