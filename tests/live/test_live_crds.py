"""`tenantc crds pull` against the real API server with the upstream CRDs installed, compile
with no flag against the pulled copy, and `tenantc diff`'s version-skew warning.

The API server serves CustomResourceDefinitions at /apis/apiextensions.k8s.io/v1/customresourcedefinitions
(https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/custom-resource-definition-v1/),
with `status` and the server-set metadata (uid, resourceVersion, generation, creationTimestamp,
managedFields) beside the spec it was given: those are what a pulled copy leaves out.
"""
from __future__ import annotations

import copy

import pytest
from live_support import SHARED_CRDS, fresh, write_repo

from compiler.cli import main
from compiler.load import yaml_io

pytestmark = pytest.mark.cluster

SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
# The API groups of Volcano's, Fluid's and Argo CD's kinds in the rendered examples (tenants/, rendered/).
RENDERED = {"scheduling.volcano.sh", "batch.volcano.sh", "flow.volcano.sh", "data.fluid.io", "argoproj.io"}


def _upstream() -> dict[str, dict]:
    """The upstream CRD files the session cluster installed, by CRD name."""
    found = {}
    for path in sorted(SHARED_CRDS.rglob("*.yaml")):
        for doc in yaml_io.yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                found[doc["metadata"]["name"]] = doc
    return found


def _files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(tmp_path, control_plane):
    if not SHARED_CRDS.is_dir():
        pytest.skip("the upstream CRDs are not beside the checkout")
    cluster = fresh("crds")
    root = write_repo(tmp_path / "repo", cluster, control_plane.name, [f"{cluster}-a"], f"{cluster}-q")
    return root, cluster


def _pull(capsys, root, plane, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["crds", "pull", "--root", str(root), "--kubeconfig", plane.kubeconfig_path, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_pull_copies_the_rendered_groups_one_file_per_crd(repo, control_plane, capsys, tmp_path):
    root, cluster = repo
    outside = tmp_path / "outside-marker"
    outside.write_text("untouched")
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    code, out, err = _pull(capsys, root, control_plane)
    assert code == 0, err
    folder = root / "crds" / cluster
    upstream = _upstream()
    expected = {f"{doc['spec']['group']}/{name}.yaml" for name, doc in upstream.items()
                if doc["spec"]["group"] in RENDERED}
    files = _files(folder)
    assert set(files) == expected
    assert f"crds/{cluster}/: {len(expected)} CRDs of cluster {cluster} ({len(expected)} added" in out
    for name, data in files.items():
        crd = yaml_io.load(data)
        assert "status" not in crd and not set(crd["metadata"]) & set(SERVER_FIELDS), name
        source = upstream[crd["metadata"]["name"]]
        for version, theirs in zip(crd["spec"]["versions"], source["spec"]["versions"], strict=True):
            assert version["schema"] == theirs["schema"], f"{name} {version['name']}: the schema as installed"
    # only crds/ (and tenantc's cache) appeared; nothing outside the repository
    new = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert all(p.is_relative_to(folder) or p.is_relative_to(root / ".tenantc-cache") for p in new), new
    assert outside.read_text() == "untouched"

    # deterministic: a second pull finds nothing to change and rewrites nothing
    mtimes = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    code, out, _ = _pull(capsys, root, control_plane)
    assert code == 0 and "(unchanged)" in out
    assert _files(folder) == files and {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == mtimes

    # a stale file of a CRD the cluster no longer has is removed, a changed one restored
    (folder / "stale.group.io").mkdir()
    (folder / "stale.group.io" / "things.stale.group.io.yaml").write_text("kind: CustomResourceDefinition\n")
    queue = next(n for n in files if n.startswith("scheduling.volcano.sh/queues."))
    (folder / queue).write_text("edited: true\n")
    code, out, _ = _pull(capsys, root, control_plane, "-o", "json")
    assert code == 0
    [report] = yaml_io.load(out)["clusters"]
    assert (report["removed"], report["changed"], report["added"]) == \
        (["stale.group.io/things.stale.group.io.yaml"], [queue], [])
    assert _files(folder) == files


def test_pull_all_copies_every_group(repo, control_plane, capsys):
    root, cluster = repo
    code, _, err = _pull(capsys, root, control_plane, "--all")
    assert code == 0, err
    groups = {p.parent.name for p in (root / "crds" / cluster).rglob("*.yaml")}
    assert groups >= {doc["spec"]["group"] for doc in _upstream().values()}
    assert groups - RENDERED, "--all takes the groups tenantc does not render too (e.g. bus.volcano.sh)"


def test_compile_after_pull_validates_against_the_pulled_crds_without_a_flag(repo, control_plane, capsys):
    root, cluster = repo
    assert _pull(capsys, root, control_plane)[0] == 0
    assert main(["compile", "--root", str(root), "-o", "json"]) == 0
    report = yaml_io.load(capsys.readouterr().out)
    assert report["warnings"] == [] and report["validated"] == report["objects"]


def test_an_unknown_cluster_is_refused(repo, control_plane, capsys):
    root, _ = repo
    code, _, err = _pull(capsys, root, control_plane, "--cluster", "nope")
    assert code == 2 and "unknown cluster(s) nope" in err and "Traceback" not in err


def test_diff_warns_when_the_repository_copy_differs_from_the_live_crd(repo, control_plane, capsys):
    """Version skew: the copy's Queue CRD serves another version and its schema text changed;
    the warning names the CRD, both version lists and the schema digests. Both flag positions."""
    root, cluster = repo
    assert _pull(capsys, root, control_plane)[0] == 0
    kubeconfig = control_plane.kubeconfig_path
    assert main(["compile", "--root", str(root)]) == 0
    capsys.readouterr()
    assert main(["--kubeconfig", kubeconfig, "diff", "--root", str(root)]) == 1
    assert "CRD " not in capsys.readouterr().err  # the copy is what the cluster has: no skew

    [path] = (root / "crds" / cluster / "scheduling.volcano.sh").glob("queues.*.yaml")
    crd = yaml_io.load(path.read_text())
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served", True)]
    extra = copy.deepcopy(crd["spec"]["versions"][0])
    extra.update(name="v9", storage=False)
    crd["spec"]["versions"].append(extra)
    path.write_text(yaml_io.dump(crd))
    assert main(["compile", "--root", str(root)]) == 0
    capsys.readouterr()
    assert main(["--kubeconfig", kubeconfig, "diff", "--root", str(root)]) == 1
    before = capsys.readouterr().err
    assert main(["diff", "--root", str(root), "--kubeconfig", kubeconfig]) == 1
    after = capsys.readouterr().err
    assert before == after
    assert f"CRD queues.scheduling.volcano.sh: crds/{cluster} serves {', '.join(served)}, v9" in before
    assert f"the cluster serves {', '.join(served)} " in before
    assert f"run `tenantc crds pull --cluster {cluster}`" in before

    crd["spec"]["versions"].pop()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "edited in the repository"
    path.write_text(yaml_io.dump(crd))
    assert main(["compile", "--root", str(root)]) == 0
    capsys.readouterr()
    assert main(["diff", "--root", str(root), "--kubeconfig", kubeconfig]) == 1
    err = capsys.readouterr().err
    version = crd["spec"]["versions"][0]["name"]
    assert f"CRD queues.scheduling.volcano.sh {version}: its schema in crds/{cluster} differs" in err
