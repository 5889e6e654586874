"""Each cluster's own CRDs, from the folder its platform file names: loading, and the precedence
of --crd-dir (one set for every cluster) over them.

A CRD's `openAPIV3Schema` is the structural schema the API server validates (and prunes)
custom resources with: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
so two clusters whose CRDs differ accept different objects, and each cluster's objects are
checked against its own.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import copy_repo, crd_dirs, replace_once

from compiler.errors import CompileError
from compiler.load import yaml_io
from compiler.pipeline import compile_repo
from compiler.validate.crds import load_cluster_crds

pytestmark = pytest.mark.skipif(not crd_dirs(), reason="the upstream CRDs are not beside the checkout")

QUEUES = Path("volcano") / "scheduling.volcano.sh_queues.yaml"  # Volcano's Queue CRD, upstream


def _install_crds(root: Path, cluster: str, without_queue_capability: bool = False) -> Path:
    """A copy of the upstream CRDs as `cluster`'s folder (crds/<cluster>), the Queue's
    `spec.capability` removed when asked (an older Volcano, say)."""
    folder = root / "crds" / cluster
    shutil.copytree(crd_dirs()[0], folder, ignore=shutil.ignore_patterns("*.md"))
    if without_queue_capability:
        crd = yaml_io.load((folder / QUEUES).read_text())
        for version in crd["spec"]["versions"]:
            del version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["capability"]
        (folder / QUEUES).write_text(yaml_io.dump(crd))
    return folder


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The examples with gpu-east's CRDs as upstream has them and cpu-west's Queue lacking capability."""
    root = copy_repo(tmp_path_factory.mktemp("cluster-crds") / "repo")
    _install_crds(root, "gpu-east")
    _install_crds(root, "cpu-west", without_queue_capability=True)
    return root


def _queue_paths(result_or_problems) -> set[str]:
    return {p.path for p in result_or_problems if "queue" in p.path.lower()}


def test_a_cluster_whose_crd_lacks_a_field_rejects_it_while_another_accepts_it(repo):
    with pytest.raises(CompileError) as caught:
        compile_repo(repo, use_cache=False)
    problems = caught.value.problems
    assert problems, "cpu-west's Queues use spec.capability, which its CRD copy does not have"
    assert all(p.path.startswith("rendered/cpu-west/") for p in problems), [str(p) for p in problems]
    assert all("capability" in p.message for p in problems), [str(p) for p in problems]
    assert all(p.file.startswith("tenants/") for p in problems)


def test_crd_dir_overrides_every_clusters_folder(repo):
    """--crd-dir replaces the per-cluster folders for every cluster: the full upstream Queue accepts cpu-west's."""
    result = compile_repo(repo, crd_dirs(), use_cache=False)
    assert result.validated == len(result.objects)
    assert not result.warnings


def test_platform_crd_folders_validate_everything_without_warnings(tmp_path):
    root = copy_repo(tmp_path / "repo")
    for cluster in ("gpu-east", "cpu-west"):
        _install_crds(root, cluster)
    result = compile_repo(root)
    assert not result.warnings, result.warnings
    assert result.validated == len(result.objects)
    argocd = [o for p, o in result.objects.items() if p.startswith("_argocd/")]
    assert argocd, "the Argo CD objects (outside cluster folders) are validated against a cluster's CRDs too"


def test_the_unit_cache_follows_a_cluster_crd_change(tmp_path):
    """A cached verdict never outlives the CRDs it was made with: breaking cpu-west's copy after a
    clean compile makes the next compile (cache on) fail on cpu-west."""
    root = copy_repo(tmp_path / "repo")
    _install_crds(root, "gpu-east")
    west = _install_crds(root, "cpu-west")
    compile_repo(root)
    shutil.rmtree(west)
    _install_crds(root, "cpu-west", without_queue_capability=True)
    with pytest.raises(CompileError) as caught:
        compile_repo(root)
    assert {p.path.split("/")[1] for p in caught.value.problems} == {"cpu-west"}


def test_the_platform_file_names_a_clusters_folder(tmp_path):
    """`crds:` on a cluster points at its folder; the default crds/<cluster> is then not read."""
    root = copy_repo(tmp_path / "repo")
    _install_crds(root, "gpu-east")
    _install_crds(root, "cpu-west", without_queue_capability=True)  # the default folder, now unused
    shutil.copytree(crd_dirs()[0], root / "clusters" / "west" / "crds")
    replace_once(root / "tenants" / "platform.yaml", "  - name: cpu-west\n",
                 "  - name: cpu-west\n    crds: clusters/west/crds\n")
    result = compile_repo(root)
    assert not result.warnings and result.validated == len(result.objects)


def test_a_missing_folder_is_a_warning_that_says_how_to_fill_it(tmp_path):
    root = copy_repo(tmp_path / "repo")
    _install_crds(root, "gpu-east")
    result = compile_repo(root)
    assert "cluster cpu-west: no CRD folder crds/cpu-west/; run `tenantc crds pull --cluster cpu-west`" in \
        result.warnings[0]
    assert not any("gpu-east" in w for w in result.warnings)
    assert any("not validated" in w for w in result.warnings)  # cpu-west's custom kinds, never passed in silence


def test_load_cluster_crds_keeps_clusters_apart(repo):
    crds = load_cluster_crds({"gpu-east": repo / "crds" / "gpu-east", "cpu-west": repo / "crds" / "cpu-west",
                              "nowhere": repo / "crds" / "nowhere"})
    key = ("scheduling.volcano.sh/v1beta1", "Queue")
    east, west = crds.for_cluster("gpu-east"), crds.for_cluster("cpu-west")
    assert east is not None and west is not None
    assert "capability" in east.schemas[key]["properties"]["spec"]["properties"]
    assert "capability" not in west.schemas[key]["properties"]["spec"]["properties"]
    assert crds.for_cluster("nowhere") is None  # a platform cluster without a folder has no CRDs
    outside = crds.for_cluster("")  # rendered/_argocd/: the first cluster that has the kind
    assert outside is not None and outside.schemas[key] == east.schemas[key]


@pytest.mark.parametrize("folder", ["../shared/crds", "/etc/crds", "crds/../../x", "~/crds", "C:/crds", "."])
def test_a_crd_folder_outside_the_repository_is_refused(tmp_path, folder):
    from compiler.model.platform import Cluster

    with pytest.raises(ValueError, match="inside the repository"):
        Cluster.model_validate({"name": "c", "kubernetesVersion": "1.37", "context": "c", "capacity": {},
                                "crds": folder})
