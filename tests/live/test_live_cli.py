"""The commands end to end on a compiled repository: exit codes, stale refusal, context
selection, output formats, and prune's threshold through the CLI."""
from __future__ import annotations

import json

import pytest
from live_support import SHARED_CRDS, fresh, write_repo

from compiler.cli import main

pytestmark = pytest.mark.cluster


@pytest.fixture
def repo(tmp_path, control_plane):
    """A compiled repository whose one cluster's context is the session cluster's."""
    cluster = fresh("cli")
    tenants = [f"{cluster}-a", f"{cluster}-b"]
    root = write_repo(tmp_path / "repo", cluster, control_plane.name, tenants, f"{cluster}-q")
    assert main(["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]) == 0
    return root, cluster, tenants


def run(capsys, command: str, root, plane, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([command, "--root", str(root), "--crd-dir", str(SHARED_CRDS), "--kubeconfig", plane.kubeconfig_path,
                 *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_apply_diff_exit_codes_and_json(repo, control_plane, capsys):
    root, cluster, tenants = repo
    code, out, _ = run(capsys, "diff", root, control_plane, "-o", "json")
    assert code == 1
    report = json.loads(out)
    assert (report["apiVersion"], report["kind"]) == ("tenantc.io/v1", "DiffReport")
    [entry] = report["clusters"]
    assert entry["cluster"] == cluster and entry["context"] == control_plane.name
    assert {t["tenant"] for t in entry["tenants"]} >= set(tenants)
    assert report["summary"]["added"] > 0 and report["summary"]["differences"] is True
    added = entry["tenants"][0]["added"][0]
    assert set(added) >= {"apiVersion", "kind", "namespace", "name", "path", "diff", "drift"}
    assert added["path"].startswith(f"rendered/{cluster}/")

    code, out, _ = run(capsys, "apply", root, control_plane)
    assert code == 0, out
    assert "stage 1/5 namespaces and cluster-scoped objects" in out  # plain lines: not a terminal
    assert f"cluster {cluster}:" in out

    code, out, _ = run(capsys, "diff", root, control_plane)
    assert code == 0 and "no differences" in out
    code, out, _ = run(capsys, "apply", root, control_plane, "-o", "json")
    report = json.loads(out)
    assert code == 0 and report["summary"]["writes"] == 0 and report["summary"]["ok"] is True


def test_markdown_and_github_formats(repo, control_plane, capsys):
    root, cluster, _ = repo
    code, out, _ = run(capsys, "diff", root, control_plane, "-o", "markdown")
    assert code == 1 and out.startswith("### tenantc diff:") and "```diff" in out
    code, out, _ = run(capsys, "diff", root, control_plane, "--format", "github")  # the deprecated spelling
    assert code == 1
    lines = out.splitlines()
    assert all(line.startswith(("::notice", "::warning", "::error", "summary:")) for line in lines)
    assert any(f"file=rendered/{cluster}/" in line for line in lines)


def test_stale_or_invalid_rendered_is_refused(repo, control_plane, capsys):
    root, cluster, tenants = repo
    quota = root / "rendered" / cluster / tenants[0] / "resourcequota-tenant-quota.yaml"
    quota.write_text(quota.read_text().replace("pods: '50'", "pods: '51'"))
    for command in ("diff", "apply"):
        code, out, err = run(capsys, command, root, control_plane)
        assert code == 2
        assert "rendered/ is stale" in err and "run `tenantc compile`" in err
    (root / "tenants" / f"{tenants[0]}.yaml").write_text("name: [not a tenant\n")
    code, _, err = run(capsys, "diff", root, control_plane)
    assert code == 2 and "error:" in err


def test_cluster_without_its_context_uses_the_current_one_and_says_so(tmp_path, control_plane, capsys):
    cluster = fresh("ctx")
    root = write_repo(tmp_path / "repo", cluster, "no-such-context", [cluster], f"{cluster}-q")
    assert main(["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]) == 0
    code, _, err = run(capsys, "diff", root, control_plane)
    assert code == 2 and "none of the platform's contexts (no-such-context)" in err
    code, out, _ = run(capsys, "diff", root, control_plane, "--cluster", cluster)
    assert code == 1
    assert (f"note: cluster {cluster}: context 'no-such-context' is not in the kubeconfig; "
            f"using the current context '{control_plane.name}'") in out
    code, out, _ = run(capsys, "diff", root, control_plane, "--cluster", cluster, "--context", control_plane.name)
    assert code == 1 and "note:" not in out


def test_prune_threshold_through_the_cli(repo, control_plane, capsys):
    root, cluster, tenants = repo
    assert run(capsys, "apply", root, control_plane)[0] == 0
    (root / "tenants" / f"{tenants[1]}.yaml").unlink()
    text = (root / "tenants" / f"{tenants[0]}.yaml").read_text()
    (root / "tenants" / f"{tenants[0]}.yaml").write_text(text.replace(f"- {tenants[1]}", "[]").replace(
        "allowFromTenants:\n  []", "allowFromTenants: []"))
    assert main(["compile", "--root", str(root), "--crd-dir", str(SHARED_CRDS)]) == 0

    code, out, _ = run(capsys, "diff", root, control_plane)
    assert code == 1 and "would prune" in out
    code, out, _ = run(capsys, "apply", root, control_plane, "--prune")
    assert code == 2 and "refusing to prune" in out and "--prune-threshold 20%" in out
    code, out, _ = run(capsys, "apply", root, control_plane, "--prune", "--prune-threshold", "100", "--dry-run")
    assert code == 0 and "to prune" in out
    code, out, err = run(capsys, "apply", root, control_plane, "--prune", "--prune-threshold", "100", "-o", "json")
    report = json.loads(out)
    assert code == 0, (err, report.get("clusters"))
    pruned = report["clusters"][0]["pruned"]
    assert {p["tenant"] for p in pruned} == set(tenants)
    # its allowFromTenants entry went with the tenant, and so did its egress to it (the removed
    # tenant let it in)
    assert {(p["kind"], p["name"]) for p in pruned if p["tenant"] == tenants[0]} == {
        ("NetworkPolicy", "allow-from-tenants"), ("NetworkPolicy", "allow-to-tenants")}
    assert "Namespace" not in {p["kind"] for p in pruned}
    code, out, _ = run(capsys, "diff", root, control_plane, "-o", "json")
    remaining = json.loads(out)["clusters"][0]["tenants"]
    assert code == 0 and [t["kept"][0]["kind"] for t in remaining] == ["Namespace"]


def test_status_command_json(repo, control_plane, capsys):
    root, cluster, tenants = repo
    assert run(capsys, "apply", root, control_plane)[0] == 0
    capsys.readouterr()
    code = main(["status", "--root", str(root), "--kubeconfig", control_plane.kubeconfig_path, "-o", "json",
                 "--tenant", tenants[0]])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["kind"] == "StatusReport"
    [entry] = report["clusters"]
    assert [t["tenant"] for t in entry["tenants"]] == [tenants[0]]
    assert set(entry["tenants"][0]) == {"tenant", "namespaces", "quota", "queue", "datasets", "jobs", "agents"}
