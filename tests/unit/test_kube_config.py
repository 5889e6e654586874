"""Choosing target clusters and contexts from the platform file and a kubeconfig."""
from __future__ import annotations

import pytest
import yaml

from compiler.errors import UserError
from compiler.kube.config import Kubeconfig, read_kubeconfig, select_targets

CLUSTERS = {"gpu-east": "ctx-east", "cpu-west": "ctx-west"}


def kubeconfig(*contexts: str, current: str | None = None) -> Kubeconfig:
    return Kubeconfig("unused", tuple(contexts), current)


def test_default_is_every_cluster_whose_context_is_present():
    targets = select_targets(CLUSTERS, kubeconfig("ctx-east", "other", current="other"))
    assert [(t.cluster, t.context, t.note) for t in targets] == [("gpu-east", "ctx-east", "")]
    both = select_targets(CLUSTERS, kubeconfig("ctx-east", "ctx-west"))
    assert [t.cluster for t in both] == ["gpu-east", "cpu-west"]


def test_no_known_context_is_an_error_that_names_both_sides():
    with pytest.raises(UserError, match="ctx-east, ctx-west.*contexts: dev"):
        select_targets(CLUSTERS, kubeconfig("dev", current="dev"))


def test_one_named_cluster_without_its_context_uses_the_current_context_and_says_so():
    [target] = select_targets(CLUSTERS, kubeconfig("dev", current="dev"), names=["cpu-west"])
    assert (target.cluster, target.context) == ("cpu-west", "dev")
    assert "context 'ctx-west' is not in the kubeconfig; using the current context 'dev'" in target.note


def test_several_named_clusters_must_all_have_contexts():
    with pytest.raises(UserError, match="no kubeconfig context for cluster\\(s\\) cpu-west"):
        select_targets(CLUSTERS, kubeconfig("ctx-east", current="ctx-east"), names=["gpu-east", "cpu-west"])


def test_context_flag_overrides_for_one_cluster():
    kc = kubeconfig("ctx-east", "admin@east", current="ctx-east")
    [target] = select_targets(CLUSTERS, kc, context="admin@east", names=["gpu-east"])
    assert (target.cluster, target.context) == ("gpu-east", "admin@east")
    [by_context] = select_targets(CLUSTERS, kc, context="ctx-east")
    assert by_context.cluster == "gpu-east"
    with pytest.raises(UserError, match="say which with --cluster"):
        select_targets(CLUSTERS, kc, context="admin@east")
    with pytest.raises(UserError, match="exactly one --cluster"):
        select_targets(CLUSTERS, kc, context="admin@east", names=["gpu-east", "cpu-west"])
    with pytest.raises(UserError, match="not in the kubeconfig"):
        select_targets(CLUSTERS, kc, context="nope", names=["gpu-east"])


def test_unknown_cluster_names_the_known_ones():
    with pytest.raises(UserError, match="unknown cluster\\(s\\) moon; the platform has: gpu-east, cpu-west"):
        select_targets(CLUSTERS, kubeconfig("ctx-east"), names=["moon"])


def test_read_kubeconfig_lists_contexts_and_the_current_one(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("a", "b")],
    }))
    assert read_kubeconfig(str(path)).contexts == ("a", "b")
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert read_kubeconfig(None).current == "b"
    with pytest.raises(UserError, match="cannot read kubeconfig"):
        read_kubeconfig(str(tmp_path / "missing"))
