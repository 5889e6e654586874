"""compiler.delivery: the rules Argo CD output and `tenantc apply` share (kept kinds, run-time
fields, where a finished-job ttl may go), and that they agree with what the agent does."""
from __future__ import annotations

import copy
import io

import pytest

from compiler import delivery
from compiler.agent import contract
from compiler.agent.kubeapi import USER_AGENT
from compiler.agent.scale_runtime import scale
from compiler.identity import ObjectRef
from compiler.kinds import COMPARE_OPTIONS_ANNOTATION, SYNC_OPTIONS_ANNOTATION


def _obj(api_version: str, kind: str, name: str, namespace: str | None = "team", **body) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def _scaler(target: str, namespace: str = "team", replicas: int = 4) -> dict:
    kind, name = target.split("/")
    container = {"name": "scale", "image": "agent:1",
                 "args": contract.scale_runtime_argv(kind, name, namespace, replicas)}
    return _obj("batch/v1", "CronJob", "cache-scale-0", namespace, spec={
        "schedule": "0 8 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [container]}}}}})


RUNTIME = _obj("data.fluid.io/v1alpha1", "JindoRuntime", "cache", spec={"replicas": 2, "tieredstore": {}})


@pytest.mark.parametrize(("obj", "flag"), [
    (_obj("v1", "Namespace", "team", None), "--prune-namespaces"),
    (_obj("v1", "PersistentVolumeClaim", "home-ann"), "--prune-pvcs"),
    (_obj("v1", "ConfigMap", "settings"), None),
    (_obj("batch.volcano.sh/v1alpha1", "Job", "train"), None),
    (_obj("example.com/v1", "PersistentVolumeClaim", "lookalike"), None),  # another group's kind
])
def test_namespaces_and_pvcs_are_kept_unless_their_prune_flag_is_given(obj, flag):
    assert delivery.prune_flag(obj) == flag
    assert delivery.is_kept(obj) == (flag is not None)
    annotations = delivery.argocd_annotations(obj)
    if flag:
        assert annotations == {SYNC_OPTIONS_ANNOTATION: "Prune=false,Delete=false",
                               COMPARE_OPTIONS_ANNOTATION: "IgnoreExtraneous"}
    else:
        assert annotations == {}


def test_run_time_fields_are_the_replicas_of_every_runtime_a_rendered_scaler_targets():
    objects = [RUNTIME, _scaler("JindoRuntime/cache"), _scaler("jindoruntime/cache", replicas=1),
               _scaler("AlluxioRuntime/other", namespace="elsewhere")]
    fields = delivery.run_time_fields(objects)
    assert fields == [
        delivery.RunTimeField(ObjectRef("data.fluid.io", "AlluxioRuntime", "elsewhere", "other"), ("spec", "replicas")),
        delivery.RunTimeField(ObjectRef("data.fluid.io", "JindoRuntime", "team", "cache"), ("spec", "replicas")),
    ]
    assert {(f.json_pointer, f.dotted, f.manager, f.operation) for f in fields} == {
        ("/spec/replicas", "spec.replicas", "tenantc-agent", "Update")}
    assert delivery.run_time_fields([RUNTIME]) == []
    assert delivery.fields_of(RUNTIME, fields) == fields[1:]


def test_a_scaler_aimed_at_something_not_a_runtime_is_an_error():
    bad = _scaler("JindoRuntime/cache")
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][1] = "deployment/web"
    with pytest.raises(ValueError, match="not a Fluid runtime"):
        delivery.run_time_fields([bad])


class _Recorder:
    def __init__(self):
        self.patches = []

    def merge_patch(self, path, patch, timeout=None):
        self.patches.append((path, patch))
        return patch


def test_the_scaled_field_is_what_the_agent_patches_and_nothing_else():
    """Run the agent's own scale command against a recording client."""
    client = _Recorder()
    assert scale(client, "team", "jindoruntime/cache", 6, 1.0, out=io.StringIO()) == 0  # type: ignore[arg-type]
    [(path, patch)] = client.patches
    assert path.endswith("/namespaces/team/jindoruntimes/cache")
    assert patch == {"spec": {"replicas": 6}}
    assert delivery.SCALED_FIELD == ("spec", "replicas")


def test_the_scalers_field_manager_is_the_agents_user_agent_prefix():
    """The agent's merge patch names no fieldManager; Kubernetes then "infers a field manager
    identity from the User-Agent: HTTP header" (kubernetes.io/docs/reference/using-api/
    server-side-apply/#managers), taking the part before the first "/" (k8s.io/apiserver
    pkg/endpoints/handlers: prefixFromUserAgent). tests/live/test_argocd.py checks it on the
    real API server."""
    assert delivery.SCALER_FIELD_MANAGER == USER_AGENT.split("/")[0]


def test_apply_takes_live_values_of_run_time_fields_and_compare_leaves_them_out():
    fields = delivery.run_time_fields([_scaler("JindoRuntime/cache")])
    desired = copy.deepcopy(RUNTIME)
    live = copy.deepcopy(RUNTIME) | {"spec": {"replicas": 6, "tieredstore": {}, "master": {}}}
    assert delivery.with_live_values(desired, None, fields) is desired  # not live yet: the initial value
    applied = delivery.with_live_values(desired, live, fields)
    assert applied["spec"] == {"replicas": 6, "tieredstore": {}}  # only the run-time field comes from live
    assert desired == RUNTIME  # inputs untouched
    no_replicas = copy.deepcopy(live)
    del no_replicas["spec"]["replicas"]
    assert "replicas" not in delivery.with_live_values(desired, no_replicas, fields)["spec"]
    assert delivery.without_run_time_fields(desired, fields)["spec"] == {"tieredstore": {}}
    assert delivery.without_run_time_fields(desired, fields) == delivery.without_run_time_fields(live, fields) | {
        "spec": {"tieredstore": {}}}
    other = _obj("data.fluid.io/v1alpha1", "JindoRuntime", "unscaled", spec={"replicas": 1})
    assert delivery.with_live_values(other, other | {"spec": {"replicas": 3}}, fields) == other


@pytest.mark.parametrize(("holder", "allowed"), [
    (("batch.volcano.sh", "CronJob"), True),  # each run is a new Job that nothing re-creates
    (("batch.volcano.sh", "Job"), False),  # delivered from Git: a sync re-creates it
    (("flow.volcano.sh", "JobTemplate"), False),  # a JobFlow re-creates its step's missing job
])
def test_a_finished_job_ttl_only_where_nothing_re_creates_the_job(holder, allowed):
    assert delivery.finished_ttl_allowed(*holder) is allowed
