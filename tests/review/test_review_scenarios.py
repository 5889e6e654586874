"""Pull requests on a real git repository (a copy of the example tenants/): what review says."""
from __future__ import annotations

from decimal import Decimal

import pytest
from review_helpers import approvers, changes_of, risks_of

from compiler.review import ReviewFailed

PLATFORM_OWNERS = ["dana@example.com", "platform-oncall@example.com"]


def field(change, path: str):
    found = [f for f in change.fields if f.path == path]
    assert found, f"no field {path} in {[f.path for f in change.fields]}"
    return found[0]


def capacity_row(result, cluster: str, resource: str):
    return next(r for r in result.capacity if r.cluster == cluster and r.resource == resource)


def test_quota_raised(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "640"')
    r = run_review()
    [quota] = changes_of(r, "ResourceQuota")
    assert (quota.key.cluster, quota.tenant, quota.change) == ("gpu-east", "vision", "changed")
    cpu = field(quota, 'spec.hard["requests.cpu"]')
    assert (cpu.old, cpu.new, cpu.note) == ("512", "640", "raised")
    assert {c.tenant for c in r.changes} == {"vision"}
    assert not risks_of(r, "quota-lowered")
    row = capacity_row(r, "gpu-east", "cpu")
    assert row.changed and row.after - row.before == 128
    assert row.headroom == row.limit_after - row.after and row.headroom > 0
    assert not capacity_row(r, "cpu-west", "cpu").changed
    assert approvers(r) == ["mei@example.com"]  # the tenant's owner only: nothing cross-tenant


def test_quota_lowered_and_below_live_usage(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    r = run_review()
    [lowered] = risks_of(r, "quota-lowered")
    assert lowered.key.ref.short == "ResourceQuota vision/tenant-quota" and lowered.severity == "warning"
    assert "requests.cpu: 512 -> 256" in lowered.reason
    assert lowered.source == "tenants/vision.yaml"
    assert not risks_of(r, "quota-below-usage")  # no usage reader: nothing claimed about the cluster

    asked = []

    def usage(cluster, namespace, name):
        asked.append((cluster, namespace, name))
        return {"requests.cpu": "300", "pods": "12"}

    r = run_review(usage=usage)
    assert asked == [("gpu-east", "vision", "tenant-quota")]
    [below] = risks_of(r, "quota-below-usage")
    assert below.severity == "danger" and "requests.cpu: 300 in use now, new limit 256" in below.reason
    r = run_review(usage=lambda *_: {"requests.cpu": "200"})
    assert not risks_of(r, "quota-below-usage")


def test_tenant_added(spec_repo, run_review):
    spec_repo.write("tenants/speech.yaml", """\
name: speech
displayName: Speech
owner: ana@example.com
members: [{user: ana@example.com, role: admin}]
quota: {cpu: "64", memory: 256Gi, pods: 100}
placement: {cpu-west: {weight: 1}}
""")
    r = run_review()
    assert r.changes and {(c.tenant, c.change) for c in r.changes} == {("speech", "added")}
    assert {c.key.kind for c in r.changes} >= {"Namespace", "ResourceQuota", "Queue", "NetworkPolicy"}
    # A new tenant's own admin and its standard platform access are not flagged; only its owner approves.
    assert [x.rule for x in r.risks] == ["rbac-widened"]
    assert "User ana@example.com gets admin in namespace speech" in r.risks[0].reason
    assert approvers(r) == ["ana@example.com"]
    assert r.changed_files == ["tenants/speech.yaml"]
    assert capacity_row(r, "cpu-west", "cpu").after - capacity_row(r, "cpu-west", "cpu").before == 64


def test_tenant_removed(spec_repo, run_review):
    spec_repo.path("tenants/sandbox-interns.jsonnet").unlink()
    r = run_review()
    assert r.changes and {(c.tenant, c.change) for c in r.changes} == {("sandbox-interns", "removed")}
    removed_data = {x.key.ref.short for x in risks_of(r, "data-removed")}
    assert "Namespace sandbox-interns" in removed_data
    pvcs = {c.key.ref.short for c in changes_of(r, "PersistentVolumeClaim")}
    assert pvcs <= removed_data  # every PVC removed is flagged too
    assert all(x.severity == "danger" for x in risks_of(r, "data-removed"))
    assert approvers(r) == ["mentor@example.com"]  # the owner as the base knew it


def test_network_opened_to_a_tenant_and_cidrs(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", "storage:\n  home:", "network:\n  allowFromTenants: [recsys]\n"
                      "  egress: [{cidr: 10.99.0.0/16, ports: [{port: 443}]}]\nstorage:\n  home:")
    spec_repo.replace("tenants/ads-ranking.yaml", "cidr: 10.60.8.0/24", "cidr: 10.60.0.0/16")  # widened
    spec_repo.replace("tenants/quant-research.yaml", "cidr: 10.40.0.0/16", "cidr: 10.40.1.0/24")  # narrowed
    r = run_review()
    opened = {(x.key.cluster, x.tenant, x.reason, x.cross_tenant) for x in risks_of(r, "network-opened")}
    assert opened == {
        ("gpu-east", "vision", "ingress from tenant recsys is new", True),
        ("gpu-east", "vision", "egress to CIDR 10.99.0.0/16 is new (ports TCP/443)", False),
        ("gpu-east", "ads-ranking", "egress to CIDR 10.60.0.0/16 is new (ports TCP/6379)", False),
        ("cpu-west", "ads-ranking", "egress to CIDR 10.60.0.0/16 is new (ports TCP/6379)", False),
    }
    assert changes_of(r, "NetworkPolicy", tenant="quant-research")  # narrowed: a change, not a risk
    [cidr] = changes_of(r, "NetworkPolicy", tenant="ads-ranking")[:1]
    assert field(cidr, "spec.egress[0].to[0].ipBlock.cidr").new == "10.60.0.0/16"
    approvals = {a.who: a.reasons for a in r.approvals}
    assert set(approvals) == {"mei@example.com", "raj@example.com", "lena@example.com", *PLATFORM_OWNERS}
    assert "platform owner: cross-tenant: network-opened in vision" in approvals["platform-oncall@example.com"]


def test_member_given_admin(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", "{group: vision-eng, role: edit}", "{group: vision-eng, role: admin}")
    spec_repo.replace("tenants/vision.yaml", "members:\n", "members:\n  - {user: new@example.com, role: edit}\n"
                      "  - {group: vision-readers, role: view}\n")
    r = run_review()
    reasons = sorted(x.reason for x in risks_of(r, "rbac-widened"))
    assert reasons == ["Group vision-eng gets admin in namespace vision (was edit)",
                       "User new@example.com gets edit in namespace vision"]  # view is not flagged
    admin = next(c for c in changes_of(r, "RoleBinding") if c.key.name == "members-admin")
    assert [f.op for f in admin.fields] == ["added"] and admin.fields[0].path == "subjects[name=vision-eng]"
    assert approvers(r) == ["mei@example.com"]


def test_dataset_shared_with_a_new_tenant(spec_repo, run_review):
    spec_repo.replace("tenants/ml-platform.yaml", "exportTo: [{tenant: recsys}, {tenant: ads-ranking}]",
                      "exportTo: [{tenant: recsys}, {tenant: ads-ranking}, {tenant: vision}]")
    spec_repo.append("tenants/vision.yaml", "imports:\n  - {tenant: ml-platform, dataset: click-logs}\n")
    r = run_review()
    [shared] = risks_of(r, "dataset-shared")
    assert (shared.key.ref.short, shared.cross_tenant) == ("Dataset vision/click-logs", True)
    assert shared.involves == ("ml-platform",)
    assert shared.reason == "dataset ml-platform/click-logs is exported to tenant vision"
    assert not risks_of(r, "dataset-writable")
    approvals = {a.who: a.reasons for a in r.approvals}
    assert set(approvals) == {"mei@example.com", *PLATFORM_OWNERS}  # dana: owner of ml-platform and platform
    assert "owner of tenant ml-platform: dataset-shared in vision" in approvals["dana@example.com"]


def test_shared_dataset_made_writable(spec_repo, run_review):
    spec_repo.replace("tenants/quant-research.yaml", "runtime: {type: thin, profile: nas-profile}",
                      "runtime: {type: thin, profile: nas-profile}\n    exportTo: [{tenant: recsys}]")
    spec_repo.replace("tenants/recsys.yaml", "imports:\n",
                      "imports:\n  - {tenant: quant-research, dataset: backtest-results}\n")
    spec_repo.commit("recsys reads backtest results")
    spec_repo.replace("tenants/quant-research.yaml", "nas-profile}\n    exportTo: [{tenant: recsys}]",
                      "nas-profile}\n    exportTo: [{tenant: recsys, write: true}]")
    spec_repo.replace("tenants/recsys.yaml", "dataset: backtest-results}", "dataset: backtest-results, write: true}")
    r = run_review(base="HEAD")
    writable = risks_of(r, "dataset-writable")
    assert {x.key.ref.short for x in writable} == {"Dataset recsys/backtest-results"}
    reasons = " / ".join(x.reason for x in writable)
    assert "access modes now allow writes (ReadWriteMany)" in reasons and "no longer read-only" in reasons
    assert all(x.cross_tenant and x.involves == ("quant-research",) for x in writable)
    assert not risks_of(r, "dataset-shared")  # already shared: only the write is new
    assert {"lena@example.com", "omar@example.com", *PLATFORM_OWNERS} == set(approvers(r))


def test_notebook_moved_to_another_cluster(spec_repo, run_review):
    spec_repo.replace("tenants/quant-research.yaml", "{user: lena@example.com, datasets: [market-data, imagenet]}",
                      "{user: lena@example.com, cluster: gpu-east, datasets: [imagenet]}")
    r = run_review()
    [moved] = risks_of(r, "workload-moved")
    assert (moved.key.kind, moved.key.cluster) == ("StatefulSet", "gpu-east")
    assert "moves from cluster cpu-west to gpu-east" in moved.reason


def test_change_that_breaks_capacity_is_a_head_compile_error(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "3000"')
    with pytest.raises(ReviewFailed) as caught:
        run_review()
    [failure] = caught.value.failures
    assert failure.revision.role == "head" and failure.revision.label == "head (working tree)"
    problem = next(p for p in failure.problems if "capacity" in p.path)
    assert (problem.file, problem.path) == ("tenants/platform.yaml", "clusters.gpu-east.capacity.cpu")
    assert "vision" in problem.message
    assert caught.value.changed_files == ["tenants/vision.yaml"]  # which file to look at


def test_head_that_does_not_compile(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    with pytest.raises(ReviewFailed) as caught:
        run_review()
    [failure] = caught.value.failures
    assert failure.revision.role == "head"
    assert [(p.file, p.path) for p in failure.problems] == [("tenants/vision.yaml", "quota.cpu")]


def test_base_that_does_not_compile_is_named_with_its_commit(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    broken = spec_repo.commit("broken")
    spec_repo.replace("tenants/vision.yaml", 'cpu: "lots"', 'cpu: "512"')
    with pytest.raises(ReviewFailed) as caught:
        run_review(base="HEAD")
    [failure] = caught.value.failures
    assert failure.revision.commit == broken and failure.revision.label == f"base HEAD ({broken[:7]})"
    assert [(p.file, p.path) for p in failure.problems] == [("tenants/vision.yaml", "quota.cpu")]


def test_renames_that_change_no_object_are_not_changes(spec_repo, run_review):
    spec_repo.git("mv", "tenants/recsys.yaml", "tenants/recsys.yml")
    spec_repo.git("mv", "tenants/lib/sandbox.libsonnet", "tenants/lib/sandboxes.libsonnet")
    for tenant in ("sandbox-interns", "sandbox-hackweek"):
        spec_repo.replace(f"tenants/{tenant}.jsonnet", "lib/sandbox.libsonnet", "lib/sandboxes.libsonnet")
    r = run_review()
    assert r.changed_files == ["tenants/lib/sandbox.libsonnet", "tenants/lib/sandboxes.libsonnet",
                               "tenants/recsys.yaml", "tenants/recsys.yml",
                               "tenants/sandbox-hackweek.jsonnet", "tenants/sandbox-interns.jsonnet"]
    assert r.changes == [] and not r.has_changes and r.risks == [] and r.approvals == []
    assert not any(row.changed for row in r.capacity)


def test_head_can_be_a_commit_and_the_working_tree_is_then_ignored(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "640"')
    head = spec_repo.commit("raise vision")
    spec_repo.replace("tenants/recsys.yaml", 'cpu: "800"', 'cpu: "lots"')  # uncommitted and broken
    r = run_review(base="HEAD~1", head="HEAD")
    assert r.head.commit == head and {c.tenant for c in r.changes} == {"vision"}


def test_review_leaves_checkout_index_and_refs_untouched(spec_repo, run_review, tmp_path, monkeypatch):
    import tempfile

    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "640"')
    spec_repo.git("add", "tenants/vision.yaml")  # staged
    spec_repo.replace("tenants/recsys.yaml", 'cpu: "800"', 'cpu: "700"')  # unstaged
    spec_repo.write("tenants/speech.yaml", "name: speech\n")  # untracked (and invalid: head fails)
    spec_repo.write("notes.txt", "not a spec\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where revisions are materialised
    before = spec_repo.state()
    with pytest.raises(ReviewFailed):
        run_review()
    spec_repo.path("tenants/speech.yaml").unlink()
    before = spec_repo.state()
    r = run_review()
    assert {c.tenant for c in r.changes} == {"vision", "recsys"}
    run_review(base="HEAD", head="HEAD")
    run_review(use_cache=False, parallel=False)
    assert spec_repo.state() == before
    assert list(scratch.iterdir()) == []  # temporary revisions are cleaned up


def test_tenants_in_a_sub_folder_of_the_repository(tmp_path, crds):
    from review_helpers import SpecRepo

    from compiler.review import review

    repo = SpecRepo.create(tmp_path / "mono", subdir="platform/config")
    repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "640"')
    r = review(repo.root, "main", crds=crds)
    assert {c.tenant for c in r.changes} == {"vision"}
    assert r.changed_files == ["tenants/vision.yaml"]


def test_snapshots_are_cached_by_tree_and_give_the_same_review(spec_repo, run_review, monkeypatch):
    """Where the keyed path does not apply (a CRD folder in the repository changed), compiled
    revisions are cached."""
    from compiler.review import snapshot
    from compiler.review.report import to_json

    monkeypatch.setattr(snapshot, "compile_keyed", lambda *args: None)
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    fresh = run_review(use_cache=False)
    first = run_review()
    assert first.cached == {"base": False, "head": False}
    again = run_review()
    assert again.cached == {"base": True, "head": True}
    assert to_json(fresh) == to_json(first) == to_json(again)
    # A new head edit: the base stays cached, the head is compiled again.
    spec_repo.replace("tenants/vision.yaml", 'cpu: "256"', 'cpu: "128"')
    third = run_review()
    assert third.cached == {"base": True, "head": False}
    assert field(changes_of(third, "ResourceQuota")[0], 'spec.hard["requests.cpu"]').new == "128"
    # A damaged cache file is ignored, not trusted.
    for path in (spec_repo.root / ".tenantc-cache" / "review").glob("*.json"):
        path.write_text("{not json")
    assert to_json(run_review()) == to_json(third)


def test_a_keyed_review_caches_nothing_and_reads_no_cache(spec_repo, run_review, monkeypatch):
    """The keyed path costs less than reading two cached snapshots whole, and its snapshots
    hold only what differs: it neither writes nor reads the snapshot cache."""
    from compiler.review import snapshot
    from compiler.review.report import to_json

    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    keyed = run_review()
    assert keyed.cached == {"base": False, "head": False}
    assert not list((spec_repo.root / ".tenantc-cache" / "review").glob("*.json"))
    with monkeypatch.context() as patch:  # a review the keyed path does not take fills the cache
        patch.setattr(snapshot, "compile_keyed", lambda *args: None)
        assert to_json(run_review()) == to_json(keyed)
    assert len(list((spec_repo.root / ".tenantc-cache" / "review").glob("*.json"))) == 2
    again = run_review()
    assert again.cached == {"base": False, "head": False} and to_json(again) == to_json(keyed)


def test_serial_and_parallel_compiles_agree(spec_repo, run_review):
    from compiler.review.report import to_json

    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "256"')
    serial = run_review(use_cache=False, parallel=False, shared=False)
    assert to_json(run_review(use_cache=False, parallel=True, shared=False)) == to_json(serial)
    assert to_json(run_review(use_cache=False)) == to_json(serial)  # and the keyed path


def test_parallel_compile_reports_both_failing_revisions(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    spec_repo.commit("broken base")
    spec_repo.replace("tenants/recsys.yaml", 'cpu: "800"', 'cpu: "many"')
    with pytest.raises(ReviewFailed) as caught:
        run_review(base="HEAD", use_cache=False)
    assert [(f.revision.role, [p.file for p in f.problems]) for f in caught.value.failures] == [
        ("base", ["tenants/vision.yaml"]), ("head", ["tenants/recsys.yaml", "tenants/vision.yaml"])]


def test_identical_revisions_are_compiled_once(spec_repo, run_review, monkeypatch):
    from compiler.review import snapshot

    compiled = []
    real = snapshot.compile_snapshot

    def counting(rev, crds):
        compiled.append(rev.role)
        return real(rev, crds)

    monkeypatch.setattr(snapshot, "compile_snapshot", counting)
    r = run_review(base="HEAD", use_cache=False)
    assert compiled == ["head"] and r.changes == [] and r.cached == {"base": False, "head": False}
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    spec_repo.commit("broken")
    with pytest.raises(ReviewFailed) as caught:
        run_review(base="HEAD", use_cache=False)
    assert [f.revision.role for f in caught.value.failures] == ["base", "head"]


def test_unknown_base_is_a_user_error(spec_repo, run_review):
    from compiler.errors import UserError

    with pytest.raises(UserError, match="--base origin/mian: not a commit"):
        run_review(base="origin/mian")


def test_capacity_rows_cover_every_cluster_and_resource(spec_repo, run_review):
    r = run_review()
    assert {row.cluster for row in r.capacity} == {"gpu-east", "cpu-west"}
    cpu = capacity_row(r, "cpu-west", "cpu")
    assert cpu.limit_after == Decimal(4096) * 2  # capacity x overcommit from the platform file
    assert not cpu.changed and cpu.before == cpu.after
