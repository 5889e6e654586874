"""Delivery under Argo CD: what the rendered tree goes through once Argo CD, Volcano and
Kubernetes act on it, decided by delivery_oracle.py from their documented rules (each cited
there), never by tenantc's own reading of its output.

The intents (issue 12, "Delivery under Argo CD"), checked on the example tree (rendered/, as
Argo CD reads it) and on generated tenants:
  1. PVCs and Namespaces are never deleted by Argo CD: not pruned when they leave Git, not
     deleted with their Application (however it goes), not taken along by a Namespace, and a
     kept leftover does not hold the Application OutOfSync (self-heal would retry forever);
  2. what the scheduled cache scaler changes (found by running the agent's own code) is
     neither reverted by self-heal nor by the next sync, and no ignored field is one that
     nothing changes at run time (a Git change to it would never be delivered);
  3. a run-to-completion job (a Volcano Job, a JobFlow step) delivered from Git never runs
     again after it finished, unless someone deletes it by hand (self-heal re-creates what is
     in Git and missing: documented, and left as the one way to re-run).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from delivery_oracle import (
    DELETED,
    FROZEN,
    KEPT,
    RERUN_ARGO,
    RERUN_BY_HAND,
    RERUN_FLOW,
    REVERTED_NEXT_SYNC,
    REVERTED_SELF_HEAL,
    SYNC_LOOP,
    NotModelled,
    Outcome,
    application_deleted,
    applications,
    job_reruns,
    play,
    read_tree,
    removed_from_git,
    run_time_changes,
)
from helpers import compile_bench

from compiler.load import yaml_io
from compiler.pipeline import compile_repo

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"
KEPT_KINDS = {("", "Namespace"), ("", "PersistentVolumeClaim")}


def _check_intents(outcomes: list[Outcome]) -> dict[str, int]:
    """Assert the three intents; returns what was looked at, so a test can require coverage."""
    seen = {"kept kinds": 0, "scaled fields": 0, "jobs": 0, "re-run by hand only": 0}
    problems = []
    for o in outcomes:
        if (o.ref.group, o.ref.kind) in KEPT_KINDS:
            seen["kept kinds"] += 1
            if o.fate != KEPT:
                problems.append(o)
        if o.scenario == "scaler runs":
            seen["scaled fields"] += 1
            if o.fate != KEPT:
                problems.append(o)
        if o.fate == FROZEN:
            problems.append(o)
        if o.scenario == "job finishes":
            seen["jobs"] += 1
            if o.fate in (RERUN_ARGO, RERUN_FLOW):
                problems.append(o)
        if o.fate == RERUN_BY_HAND:
            seen["re-run by hand only"] += 1
    assert not problems, "\n".join(f"{o.scenario}: {o.ref}: {o.fate} ({o.why})" for o in problems)
    return seen


# -- the example tree -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def example_outcomes() -> list[Outcome]:
    return play(read_tree(REPO / "rendered"))


def test_example_tree_under_argo_cd(example_outcomes):
    seen = _check_intents(example_outcomes)
    # the examples have home and project volumes, a scaled runtime, a Volcano Job and two data-gated
    # JobFlows of two steps each (the scheduled pipeline's runs are made by tenantc-agent, not by Git)
    assert seen["kept kinds"] >= 20 and seen["scaled fields"] >= 1 and seen["jobs"] >= 5, seen


def test_other_objects_still_follow_git(example_outcomes):
    """The rules keep what holds data and nothing else: an object of any other kind removed
    from Git is pruned, and a cascade `argocd app delete` removes it."""
    for o in example_outcomes:
        if (o.ref.group, o.ref.kind) in KEPT_KINDS:
            continue
        if o.scenario in ("removed from Git", "Application deleted by hand (cascade)"):
            assert o.fate == DELETED, o
        if o.scenario == "Application deleted by its ApplicationSet":
            assert o.fate == KEPT, o  # preserveResourcesOnDeletion: tenantc apply --prune cleans up


def test_expanded_applications_are_valid_against_the_argo_cd_crd():
    """The Applications the ApplicationSet makes (as the oracle expands it) against the
    upstream Application CRD, read in place."""
    from compiler.validate.crds import load_crds

    crds = load_crds([SHARED_CRDS / "argocd"])
    schema = crds.compiled("argoproj.io/v1alpha1", "Application")
    assert schema is not None
    apps = applications(read_tree(REPO / "rendered"))
    assert apps
    for app in apps:
        obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": app.name, "namespace": "argocd", "finalizers": app.finalizers},
               "spec": app.spec}
        assert schema.violations(obj) == [], app.name


# -- generated tenants ------------------------------------------------------------------------
def _generated_repo(root: Path, tenants: int) -> Path:
    """compile_bench's synthetic tenants (placement on one or two clusters, members, a cached
    dataset with preload, a job waiting for it, schedules), varied further for delivery: a
    template with ttlSecondsAfterFinished, home volumes, scaled datasets of several runtime
    types, and pipelines."""
    bench = compile_bench()
    names = bench.make_repo(root, tenants, workloads=True)
    platform_file = root / "tenants" / "platform.yaml"
    platform = yaml_io.load(platform_file.read_text())
    platform["argocd"] = {"namespace": "argocd", "repoUrl": "https://git.example.com/ml/platform.git",
                          "servers": {"gpu-east": "https://gpu-east.example.com:6443"}}
    platform["templates"][0]["ttlSecondsAfterFinished"] = 3600
    platform_file.write_text(yaml_io.dump(platform))
    runtimes = ["jindo", "alluxio", "juicefs"]
    for i, name in enumerate(names):
        path = root / "tenants" / f"{name}.yaml"
        spec = yaml_io.load(path.read_text())
        if i % 2 == 0:
            spec["storage"]["home"] = {"size": "10Gi"}
        dataset = spec["datasets"][0]
        runtime = runtimes[i % 3]
        dataset["runtime"]["type"] = runtime
        if runtime == "juicefs":
            dataset["mounts"] = [{"uri": f"juicefs://bench-{i}/", "secrets": dataset["mounts"][0]["secrets"]}]
        if i % 4 != 3:
            dataset["scaling"] = [{"schedule": "0 8 * * *", "replicas": 3}, {"schedule": "0 20 * * *", "replicas": 1}]
        if i % 2 == 1:
            spec["pipelines"] = [{"name": "daily", "cluster": "cpu-west", "steps": [
                {"name": "prep", "template": "cpu-batch"},
                {"name": "train", "template": "cpu-batch", "dependsOn": ["prep"]}]}]
        path.write_text(yaml_io.dump(spec))
    return root


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = _generated_repo(tmp_path_factory.mktemp("delivery"), tenants=12)
    crd_dirs = [SHARED_CRDS] if SHARED_CRDS.is_dir() else []
    result = compile_repo(root, crd_dirs, serialize=False, use_cache=False)
    return dict(result.objects)


def test_generated_tenants_under_argo_cd(generated):
    outcomes = play(generated)
    seen = _check_intents(outcomes)
    assert seen["kept kinds"] >= 12 * 3 and seen["scaled fields"] >= 8 and seen["jobs"] >= 12, seen


def test_generated_ttl_stays_where_nothing_re_creates_the_job(generated):
    """Not an oracle claim, the other side of the ttl rule: the scheduled runs (Volcano CronJob)
    keep the template's ttlSecondsAfterFinished, so their finished jobs are still cleaned up."""
    crons = [o for o in generated.values() if o["kind"] == "CronJob" and o["apiVersion"].startswith("batch.volcano.sh")]
    assert crons and all(c["spec"]["jobTemplate"]["spec"]["ttlSecondsAfterFinished"] == 3600 for c in crons)


# -- the oracle sees the defects: hand-made trees in the shape tenantc rendered before ----------
def _tree(*, annotated: bool, preserve: bool, ignore: bool, respect: bool, ttl: bool) -> dict[str, dict]:
    """One tenant on one cluster: Namespace, home PVC, scaled JindoRuntime with its scaler, a
    Volcano Job and a two-step JobFlow; with or without each fix."""
    def obj(api, kind, name, namespaced=True, **body):
        meta: dict = {"name": name, "annotations": {}}
        if namespaced:
            meta["namespace"] = "team"
        if annotated and kind in ("Namespace", "PersistentVolumeClaim"):
            meta["annotations"] = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
                                   "argocd.argoproj.io/compare-options": "IgnoreExtraneous"}
        return {"apiVersion": api, "kind": kind, "metadata": meta, **body}

    job = {"tasks": [], **({"ttlSecondsAfterFinished": 600} if ttl else {})}
    scaler = {"name": "scale", "image": "agent", "args": ["scale-runtime", "jindoruntime/cache", "--namespace", "team",
                                                           "--replicas", "6"]}
    objects = [
        obj("v1", "Namespace", "team", namespaced=False),
        obj("v1", "PersistentVolumeClaim", "home-ann", spec={"resources": {"requests": {"storage": "1Gi"}}}),
        obj("v1", "ConfigMap", "settings"),
        obj("data.fluid.io/v1alpha1", "JindoRuntime", "cache", spec={"replicas": 2}),
        obj("batch/v1", "CronJob", "cache-scale-0", spec={"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [scaler]}}}}}),
        obj("batch.volcano.sh/v1alpha1", "Job", "train", spec=copy.deepcopy(job)),
        obj("flow.volcano.sh/v1alpha1", "JobTemplate", "prep", spec=copy.deepcopy(job)),
        obj("flow.volcano.sh/v1alpha1", "JobTemplate", "fit", spec=copy.deepcopy(job)),
        obj("flow.volcano.sh/v1alpha1", "JobFlow", "daily", spec={"flows": [
            {"name": "prep"}, {"name": "fit", "dependsOn": {"targets": ["prep"]}}]}),
    ]
    tree = {f"east/team/{o['kind'].lower()}-{o['metadata']['name']}.yaml": o for o in objects}
    app_spec: dict = {
        "project": "{{.project}}", "source": {"repoURL": "https://git.example.com/x.git", "path": "{{.path}}"},
        "destination": {"name": "{{.cluster}}", "namespace": "{{.namespace}}"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": [
            "ServerSideApply=true", *(["RespectIgnoreDifferences=true"] if respect else [])]}}
    if ignore:
        app_spec["ignoreDifferences"] = [{"group": "data.fluid.io", "kind": "JindoRuntime", "namespace": "team",
                                          "name": "cache", "jsonPointers": ["/spec/replicas"]}]
    appset: dict = {"goTemplate": True, "goTemplateOptions": ["missingkey=error"],
                    "generators": [{"list": {"elements": [{"cluster": "east", "project": "team", "namespace": "team",
                                                          "path": "rendered/east/team"}]}}],
                    "template": {"metadata": {"name": "team.{{.cluster}}"}, "spec": app_spec}}
    if preserve:
        appset["syncPolicy"] = {"preserveResourcesOnDeletion": True}
    tree["_argocd/applicationset-x.yaml"] = {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
                                             "metadata": {"name": "x"}, "spec": appset}
    return tree


def _fates(outcomes: list[Outcome], kind: str) -> set[str]:
    return {o.fate for o in outcomes if o.ref.kind == kind}


def test_the_oracle_finds_each_defect_of_the_old_rendering():
    before = applications(_tree(annotated=False, preserve=False, ignore=False, respect=False, ttl=True))
    [app] = before
    assert app.finalizers == ["resources-finalizer.argocd.argoproj.io"]  # no preserveResourcesOnDeletion
    assert _fates(removed_from_git(before), "PersistentVolumeClaim") == {DELETED}
    assert _fates(removed_from_git(before), "Namespace") == {DELETED}
    cascade = [o for o in removed_from_git(before) if o.scenario == "its Namespace removed from Git"]
    assert {o.ref.kind for o in cascade} >= {"PersistentVolumeClaim", "ConfigMap", "Job"}
    assert _fates(application_deleted(before), "PersistentVolumeClaim") == {DELETED}
    assert _fates(run_time_changes(before), "JindoRuntime") == {REVERTED_SELF_HEAL}
    reruns = {o.fate for o in job_reruns(before) if o.scenario == "job finishes"}
    assert reruns == {RERUN_ARGO, RERUN_FLOW}
    with pytest.raises(AssertionError):
        _check_intents(play(_tree(annotated=False, preserve=False, ignore=False, respect=False, ttl=True)))


def test_each_fix_alone_is_what_the_docs_ask_for():
    # Prune=false without IgnoreExtraneous: kept, but OutOfSync for ever (sync-options.md, compare-options.md)
    tree = _tree(annotated=True, preserve=True, ignore=True, respect=True, ttl=False)
    for obj in tree.values():
        obj["metadata"].get("annotations", {}).pop("argocd.argoproj.io/compare-options", None)
    assert _fates(removed_from_git(applications(tree)), "PersistentVolumeClaim") == {SYNC_LOOP}
    # Delete=false alone keeps the PVC through a cascade delete (sync-options.md, No Resource Deletion)
    tree = _tree(annotated=True, preserve=False, ignore=True, respect=True, ttl=False)
    assert _fates(application_deleted(applications(tree)), "PersistentVolumeClaim") == {KEPT}
    assert _fates(application_deleted(applications(tree)), "ConfigMap") == {DELETED}
    # ignoreDifferences without RespectIgnoreDifferences: the next sync writes Git's value (sync-options.md)
    tree = _tree(annotated=True, preserve=True, ignore=True, respect=False, ttl=False)
    assert _fates(run_time_changes(applications(tree)), "JindoRuntime") == {REVERTED_NEXT_SYNC}
    # both: kept
    tree = _tree(annotated=True, preserve=True, ignore=True, respect=True, ttl=False)
    assert _check_intents(play(tree))["scaled fields"] == 1
    # ignoring a field nothing changes at run time freezes it
    tree = _tree(annotated=True, preserve=True, ignore=True, respect=True, ttl=False)
    tree["_argocd/applicationset-x.yaml"]["spec"]["template"]["spec"]["ignoreDifferences"].append(
        {"group": "", "kind": "ConfigMap", "name": "settings", "jsonPointers": ["/metadata/name"]})
    assert FROZEN in {o.fate for o in run_time_changes(applications(tree))}


def test_what_the_oracle_does_not_model_is_refused():
    tree = _tree(annotated=True, preserve=True, ignore=True, respect=True, ttl=False)
    tree["_argocd/applicationset-x.yaml"]["spec"]["template"]["spec"]["ignoreDifferences"][0][
        "managedFieldsManagers"] = ["tenantc-agent"]
    with pytest.raises(NotModelled):
        run_time_changes(applications(tree))
    tree["_argocd/applicationset-x.yaml"]["spec"]["generators"] = [{"git": {}}]
    with pytest.raises(NotModelled):
        applications(tree)
