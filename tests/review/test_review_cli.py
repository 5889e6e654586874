"""`tenantc review` as users and CI run it: flags, exit codes, where output goes."""
from __future__ import annotations

import json

import pytest

from compiler.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["review", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_follow_git_diff(spec_repo, capsys):
    root = str(spec_repo.root)
    assert run_cli(capsys, "--root", root, "--base", "main")[0] == 0
    assert run_cli(capsys, "--root", root, "--base", "main", "--exit-code")[0] == 0  # nothing changed
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "640"')
    code, out, _ = run_cli(capsys, "--root", root, "--base", "main")
    assert code == 0 and "ResourceQuota vision/tenant-quota" in out
    assert run_cli(capsys, "--root", root, "--base", "main", "--exit-code")[0] == 1


def test_json_output_and_its_short_flag(spec_repo, capsys):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    code, out, _ = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["schemaVersion"] == 1 and data["hasChanges"] is True
    assert [x["rule"] for x in data["risks"]] == ["quota-lowered"]
    assert run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "--format", "json")[1] == out


def test_head_compile_error_names_revision_file_and_field(spec_repo, capsys):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    code, out, err = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main")
    assert code == 2 and out == ""
    assert "error: head (working tree) does not compile:" in err
    assert "error: tenants/vision.yaml: quota.cpu: " in err
    code, out, _ = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "--format", "markdown")
    assert code == 2 and "## tenantc review: head (working tree) does not compile" in out  # for the PR comment
    code, out, _ = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "-o", "json")
    assert code == 2 and json.loads(out)["valid"] is False


def test_bad_refs_and_files_are_user_errors(spec_repo, capsys, tmp_path):
    code, _, err = run_cli(capsys, "--root", str(spec_repo.root), "--base", "no-such-branch")
    assert code == 2 and "error: --base no-such-branch: not a commit in this repository" in err
    code, _, err = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "--head", "nope")
    assert code == 2 and "--head nope: not a commit" in err
    code, _, err = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "--kubeconfig",
                           str(tmp_path / "missing"))
    assert code == 2 and "--kubeconfig" in err
    outside = tmp_path / "not-a-repo"
    (outside / "tenants").mkdir(parents=True)
    code, _, err = run_cli(capsys, "--root", str(outside), "--base", "main")
    assert code == 2 and "git rev-parse" in err and "Traceback" not in err


def test_unvalidated_kinds_are_warned_about(spec_repo, capsys):
    """Without --crd-dir the custom kinds are not validated, and the review says so."""
    code, out, _ = run_cli(capsys, "--root", str(spec_repo.root), "--base", "main", "--no-cache")
    assert code == 0 and "warning: " in out and "not validated" in out


def test_review_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "review" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["review", "--help"])
    text = capsys.readouterr().out
    assert "--base REF" in text and "--exit-code" in text and "--kubeconfig" in text


def test_review_validates_each_cluster_against_its_own_crd_folder(spec_repo, capsys):
    """With crds/<cluster>/ in the working tree (as `tenantc crds pull` leaves them) review needs no
    --crd-dir; a cluster whose Queue CRD lacks spec.capability refuses its Queues, naming them."""
    import shutil
    from pathlib import Path

    from compiler.load import yaml_io

    upstream = Path(__file__).resolve().parents[2].parent / "shared" / "crds"
    if not upstream.is_dir():
        pytest.skip("the upstream CRDs are not beside the checkout")
    root = spec_repo.root
    for cluster in ("gpu-east", "cpu-west"):
        shutil.copytree(upstream, root / "crds" / cluster)
    code, out, _ = run_cli(capsys, "--root", str(root), "--base", "main", "--no-cache")
    assert code == 0 and "not validated" not in out and "warning" not in out

    queues = root / "crds" / "cpu-west" / "volcano" / "scheduling.volcano.sh_queues.yaml"
    crd = yaml_io.load(queues.read_text())
    for version in crd["spec"]["versions"]:
        del version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["capability"]
    queues.write_text(yaml_io.dump(crd))
    code, out, err = run_cli(capsys, "--root", str(root), "--base", "main", "--no-cache")
    assert code == 2 and "rendered/cpu-west/" in out + err and "capability" in out + err
    assert "rendered/gpu-east/" not in out + err


def test_a_committed_cache_is_refused_before_anything_is_read(spec_repo, capsys):
    """A pull request that force-adds `.tenantc-cache/` (crafted review snapshots, unit output,
    parsed CRDs) gets exit 2 from review and check: the cache is never trusted from git."""
    (spec_repo.root / ".tenantc-cache").mkdir()
    (spec_repo.root / ".tenantc-cache" / "units.sqlite").write_bytes(b"crafted")
    spec_repo.git("add", "-f", ".tenantc-cache")
    spec_repo.git("commit", "-q", "-m", "a crafted cache")
    for command in (["review", "--base", "main"], ["check"]):
        code = main([*command, "--root", str(spec_repo.root)])
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert ".tenantc-cache/" in err and "is committed to git" in err, err
