"""The contracts written once: object identity, rendered paths, the agent's command line,
Secret masking and GitHub annotation escaping."""
from __future__ import annotations

import pytest

from compiler.agent import contract
from compiler.identity import ObjectRef, RenderedPath
from compiler.output.github import annotation, escape_property
from compiler.redact import MASK, mask_pair


def _containers(obj: dict):
    """Every container and init container of every pod template in an object, at any depth."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("containers", "initContainers"):
                if isinstance(node.get(key), list):
                    yield from node[key]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def test_every_rendered_agent_container_parses_with_the_agents_own_parser(example):
    image = example.specs.platform.agent_image
    commands = []
    for path, obj in example.objects.items():
        for container in _containers(obj):
            if container.get("image") != image:
                continue
            args = contract.parse(container["args"])  # argparse exits 2 on anything it refuses
            commands.append(args.command)
            if args.command in (contract.WAIT_DATASET, contract.RUN_FLOW):
                assert args.namespace == obj["metadata"]["namespace"], path
            if args.command == contract.RUN_FLOW:
                # '--run $(TENANTC_RUN)': the kubelet expands it from the container's env, which the
                # downward API fills from the label the Job controller puts on the pod
                assert args.run == f"$({contract.RUN_ENV})", path
                env = {e["name"]: e for e in container["env"]}
                assert env[contract.RUN_ENV]["valueFrom"]["fieldRef"]["fieldPath"] == \
                    f"metadata.labels['{contract.RUN_SOURCE_LABEL}']", path
    # the examples use all four agent commands, so a renamed flag cannot go unnoticed
    assert set(commands) == {contract.SIDECAR, contract.WAIT_DATASET, contract.SCALE_RUNTIME, contract.RUN_FLOW}


def test_agent_argv_builders_round_trip():
    args = contract.parse(contract.wait_dataset_argv(["a", "b"], "ns", 90, 600))
    assert (args.names, args.namespace, args.min_cached_percent, args.timeout) == (["a", "b"], "ns", 90.0, 600.0)
    args = contract.parse(contract.scale_runtime_argv("JindoRuntime", "imgs", "ns", 3))
    assert (args.target, args.replicas) == ("jindoruntime/imgs", 3)
    assert contract.parse(contract.sidecar_argv()).status_file == contract.DEFAULT_STATUS_FILE
    args = contract.parse(contract.run_flow_argv("daily", "ns", "daily-29000000",
                                                 [("daily-a", []), ("daily-b", ["daily-a"]),
                                                  ("daily-c", ["daily-a", "daily-b"])], "Replace", 7, 2))
    assert (args.pipeline, args.namespace, args.run, args.concurrency_policy, args.keep_succeeded,
            args.keep_failed) == ("daily", "ns", "daily-29000000", "Replace", 7, 2)
    assert args.flows == [("daily-a", []), ("daily-b", ["daily-a"]), ("daily-c", ["daily-a", "daily-b"])]


@pytest.mark.parametrize("flow", ["Bad_Name", "a:B", "a:b,,", ":a", "a:b:c"])
def test_run_flow_refuses_flows_that_are_not_template_names(flow):
    with pytest.raises(SystemExit) as exit_:
        contract.parse(["run-flow", "p", "-n", "ns", "--run", "r", "--flow", flow])
    assert exit_.value.code == 2


def test_object_ref_ignores_version_and_reads_missing_namespace_as_empty():
    a = ObjectRef.of({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job",
                      "metadata": {"name": "t", "namespace": "vision"}})
    b = ObjectRef.of({"apiVersion": "batch.volcano.sh/v1", "kind": "Job",
                      "metadata": {"name": "t", "namespace": "vision"}})
    assert a == b and str(a) == "job.batch.volcano.sh vision/t"
    ns = ObjectRef.of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vision"}})
    assert ns == ObjectRef("", "Namespace", "", "vision") and ns.short == "Namespace vision"


@pytest.mark.parametrize("path, expected", [
    ("gpu-east/vision/job-x.yaml", ("gpu-east", "vision", "job-x.yaml", "vision")),
    ("gpu-east/_platform/queue-x.yaml", ("gpu-east", "_platform", "queue-x.yaml", "platform")),
    ("_argocd/appproject-x.yaml", ("", "_argocd", "appproject-x.yaml", "platform")),
])
def test_rendered_path_round_trip(path, expected):
    parsed = RenderedPath.parse(path)
    assert (parsed.cluster, parsed.unit, parsed.file, parsed.tenant) == expected
    assert str(parsed) == path


@pytest.mark.parametrize("bad", ["", "a", "a/b", "a/b/c/d", "_x/b/c", "a//c", "_argocd/"])
def test_rendered_path_refuses_other_shapes(bad):
    with pytest.raises(ValueError):
        RenderedPath.parse(bad)


def test_secret_values_masked_with_change_markers():
    before = {"apiVersion": "v1", "kind": "Secret", "data": {"same": "czE=", "changed": "YQ=="}}
    after = {"apiVersion": "v1", "kind": "Secret", "data": {"same": "czE=", "changed": "Yg==", "new": "Yw=="}}
    b, a = mask_pair(before, after)
    assert b["data"] == {"same": MASK, "changed": f"{MASK} (before)"}
    assert a["data"] == {"same": MASK, "changed": f"{MASK} (after)", "new": f"{MASK} (after)"}
    assert before["data"]["changed"] == "YQ=="  # the inputs are not touched
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    assert mask_pair(config, config) == (config, config)


def test_github_annotation_escapes_properties_and_message():
    line = annotation("error", "50%\nbad", file="tenants/a,b.yaml", title="quota.gpu: A100")
    assert line == "::error file=tenants/a%2Cb.yaml,title=quota.gpu%3A A100::50%25%0Abad"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    assert annotation("warning", "w") == "::warning::w"
