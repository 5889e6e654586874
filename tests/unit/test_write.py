"""rendered/ writing: deterministic bytes, all-or-nothing swaps, crash recovery, removals."""
from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, snapshot

from compiler.cli import main
from compiler.errors import CompileError
from compiler.identity import RenderedPath
from compiler.load import yaml_io
from compiler.pipeline import check_rendered, compile_repo, write_rendered
from compiler.write.tree import JOURNAL, TreeWriter

OLD = {
    "east/alpha/a.yaml": b"alpha a v1\n",
    "east/alpha/b.yaml": b"alpha b v1\n",
    "east/beta/a.yaml": b"beta a v1\n",
    "west/alpha/a.yaml": b"west alpha v1\n",
    "west/_platform/q.yaml": b"platform v1\n",
}
# changes alpha on east (one file edited, one dropped), removes beta, adds gamma and a cluster
NEW = {
    "east/alpha/a.yaml": b"alpha a v2\n",
    "east/gamma/a.yaml": b"gamma a v1\n",
    "west/alpha/a.yaml": b"west alpha v1\n",
    "west/_platform/q.yaml": b"platform v1\n",
    "north/alpha/a.yaml": b"north alpha v1\n",
}
SWAP_STEPS = 5  # east/alpha out and in, east/gamma in, north/alpha in, east/beta out


@pytest.fixture
def tree(tmp_path):
    """A TreeWriter whose output already holds OLD."""
    writer = TreeWriter(tmp_path / "rendered", tmp_path / "state")
    writer.write(OLD)
    assert snapshot(writer.out) == OLD
    return writer


def test_write_replaces_the_tree(tree):
    """Edited, added and removed units all end up exactly as asked, nothing else left."""
    result = tree.write(NEW)
    assert snapshot(tree.out) == NEW
    assert result.removed_units == ["east/beta"]
    assert set(result.written_units) == {"east/alpha", "east/gamma", "north/alpha"}
    assert result.unchanged_units == 2
    assert not list(tree.state_dir.glob("txn-*")), "no transaction folder is left behind"


@pytest.mark.parametrize("fail_after", range(SWAP_STEPS))
def test_failed_swap_leaves_the_old_tree_byte_for_byte(tree, fail_after):
    """A failure at any step of the swap rolls back every step done before it."""
    with pytest.raises(OSError, match="injected"):
        tree.write(NEW, fail_after=fail_after)
    assert snapshot(tree.out) == OLD
    assert not list(tree.state_dir.glob("txn-*"))
    tree.write(NEW)  # and the next write still works
    assert snapshot(tree.out) == NEW


def test_the_swap_has_the_expected_number_of_steps(tree):
    """Guards the parametrisation above: failing after the last step is no failure at all."""
    tree.write(NEW, fail_after=SWAP_STEPS)
    assert snapshot(tree.out) == NEW


CRASH = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import compiler.write.tree as tree
    files = {k: v.encode() for k, v in __import__("json").loads(sys.argv[3]).items()}
    real, done = os.replace, [0]
    def dying_replace(src, dst):
        if done[0] == int(sys.argv[4]):
            os._exit(9)  # killed mid-swap: no rollback, no cleanup
        done[0] += 1
        real(src, dst)
    tree.os.replace = dying_replace
    tree.TreeWriter(Path(sys.argv[1]), Path(sys.argv[2])).write(files)
""")


@pytest.mark.parametrize("renames_before_crash", [1, 2, 4])
def test_recover_rolls_back_a_killed_swap(tree, renames_before_crash):
    """A process killed mid-swap leaves its journal; recover() restores the old tree."""
    payload = json.dumps({k: v.decode() for k, v in NEW.items()})
    run = subprocess.run([sys.executable, "-c", CRASH, str(tree.out), str(tree.state_dir), payload,
                          str(renames_before_crash)], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 9, run.stderr
    assert list(tree.state_dir.glob(f"txn-*/{JOURNAL}")), "the killed process left its journal"
    assert snapshot(tree.out) != OLD, "the crash happened mid-swap"

    assert tree.recover() is True
    assert snapshot(tree.out) == OLD
    assert not list(tree.state_dir.glob("txn-*"))
    assert tree.recover() is False


def test_next_write_recovers_first(tree):
    """write() itself rolls back a leftover swap before doing anything else."""
    run = subprocess.run([sys.executable, "-c", CRASH, str(tree.out), str(tree.state_dir),
                          json.dumps({k: v.decode() for k, v in NEW.items()}), "2"], cwd=REPO)
    assert run.returncode == 9
    tree.write(NEW)
    assert snapshot(tree.out) == NEW


def test_a_write_that_only_removes_units(tree):
    """Nothing to stage, only folders to take away (regression: the journal had no folder)."""
    remaining = {p: b for p, b in OLD.items() if not p.startswith("east/beta/")}
    result = tree.write(remaining)
    assert result.removed_units == ["east/beta"] and result.written_units == []
    assert snapshot(tree.out) == remaining


def test_hand_edited_file_is_rewritten(tree):
    """The manifest shortcut must not hide a file edited by hand in rendered/."""
    path = tree.out / "east/alpha/a.yaml"
    path.write_bytes(b"edited by hand, longer than before\n")
    tree.write(OLD)
    assert snapshot(tree.out) == OLD


def _same_size_edit(folder):
    path = folder / "a.yaml"
    before = path.stat()
    path.write_bytes(b"alpha a vX\n")  # in place, as long as before: only the mtime tells
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


def _replaced_folder(folder):
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "a.yaml").write_bytes(b"alpha a v1\n")
    (folder / "b.yaml").write_bytes(b"alpha b XX\n")


HAND_CHANGES = {
    "same-size edit in place": _same_size_edit,
    "file added": lambda folder: (folder / "extra.yaml").write_bytes(b"kind: ConfigMap\n"),
    "file removed": lambda folder: (folder / "b.yaml").unlink(),
    "file renamed": lambda folder: (folder / "b.yaml").rename(folder / "c.yaml"),
    "folder replaced": _replaced_folder,
}


def _settle(tree):
    """Age every unit folder's mtime by an hour and write again: the manifest then holds folder
    stamps (a folder changed within the last seconds gets none), as after any real edit."""
    for folder in [*tree.out.glob("*/*"), *tree.out.glob("_*")]:
        if folder.is_dir():
            os.utime(folder, ns=(folder.stat().st_atime_ns, folder.stat().st_mtime_ns - 3600 * 10**9))
    tree.write(OLD)
    return tree


@pytest.mark.parametrize("observed", [False, True], ids=["looked-at", "observed"])
@pytest.mark.parametrize("settled", [False, True], ids=["fresh", "settled"])
@pytest.mark.parametrize("change", HAND_CHANGES)
def test_every_hand_change_in_a_unit_folder_is_undone(tree, change, settled, observed):
    """Whatever a hand does inside an unchanged unit's folder, the next write puts it back
    (and only that unit): an edit in place moves only the file's stat, the rest the folder's
    stamp (settled) or its names are listed anyway (fresh). The same when the folders' state
    was observed beforehand (as the compile command does on another core) instead of looked at
    unit by unit during the write."""
    if settled:
        _settle(tree)
    HAND_CHANGES[change](tree.out / "east/alpha")
    result = tree.write(OLD, observed=tree.observe() if observed else None)
    assert result.written_units == ["east/alpha"]
    assert snapshot(tree.out) == OLD


def test_an_untouched_unit_folder_is_not_listed_again(tree, monkeypatch):
    """Its recorded stamp stands for its names: a write lists no settled unit folder (only stats
    its files), and still rewrites one whose file was edited in place."""
    _settle(tree)
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(str(path)) or real_listdir(path))
    edited = tree.out / "west/alpha/a.yaml"
    edited.write_bytes(b"west alpha edited in place\n")
    result = tree.write(OLD)
    assert result.written_units == ["west/alpha"]
    untouched = {f"{tree.out}/{unit}" for unit in ("east/alpha", "east/beta", "west/_platform")}
    assert listed and not untouched & set(listed), "only the unit just written is listed (to record it)"
    assert snapshot(tree.out) == OLD


def test_a_file_added_in_the_same_time_step_as_the_write_is_noticed(tree):
    """A folder written moments ago gets no stamp: a file system keeps times in steps, and a
    file added in the step of the write would leave the folder's mtime where it was."""
    folder = tree.out / "east/alpha"
    before = folder.stat()
    (folder / "extra.yaml").write_bytes(b"kind: ConfigMap\n")
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # the step had not ended
    assert tree.write(OLD).written_units == ["east/alpha"]
    assert snapshot(tree.out) == OLD


def test_compare_lists_missing_extra_and_differing(tree):
    """Check's view of staleness, file by file."""
    (tree.out / "east/alpha/b.yaml").unlink()
    (tree.out / "east/alpha/stray.yaml").write_bytes(b"x")
    (tree.out / "west/alpha/a.yaml").write_bytes(b"changed")
    staleness = tree.compare(OLD)
    assert staleness.missing == ["east/alpha/b.yaml"]
    assert staleness.extra == ["east/alpha/stray.yaml"]
    assert staleness.differing == ["west/alpha/a.yaml"]
    assert not tree.compare(snapshot(tree.out)).stale


@pytest.mark.parametrize("content", ["[]", "5", '"x"', "null", "{"])
def test_a_manifest_that_is_no_json_object_is_no_manifest(tree, content):
    """The manifest lies in the repository: valid JSON of another shape (once a traceback) counts
    as no manifest, and every unit is looked at anew (observed or not)."""
    tree.manifest_path.write_text(content)
    assert tree.observe() == {}
    assert tree.write(NEW).written_units == ["east/alpha", "east/gamma", "north/alpha", "west/_platform",
                                             "west/alpha"]
    assert snapshot(tree.out) == NEW


def test_compare_follows_no_symlink_out_of_the_tree(tree, tmp_path):
    """rendered/ comes from the pull request: a unit folder or file that is a symlink to the very
    bytes the compile wants is still no file tenantc wrote, and is not read (it would read, and
    pass, whatever the link leads to)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.yaml").write_bytes(OLD["east/beta/a.yaml"])
    shutil.rmtree(tree.out / "east/beta")
    (tree.out / "east/beta").symlink_to(outside)  # a unit folder
    (outside / "a-west.yaml").write_bytes(OLD["west/alpha/a.yaml"])
    (tree.out / "west/alpha/a.yaml").unlink()
    (tree.out / "west/alpha/a.yaml").symlink_to(outside / "a-west.yaml")  # a file
    (tree.out / "west/stray").symlink_to(outside)  # a unit folder nothing renders
    staleness = tree.compare(OLD)
    assert staleness.differing == ["east/beta/a.yaml", "west/alpha/a.yaml"]
    assert staleness.extra == ["west/stray"] and staleness.missing == []


def test_compare_reads_no_more_than_the_compile_wrote(tree):
    """A file of 64 MiB where the compile wants a few bytes costs a few bytes of memory, and a
    FIFO where it wants a file is never opened (reading it would wait for a writer forever)."""
    import tracemalloc

    with open(tree.out / "east/alpha/a.yaml", "wb") as big:
        big.truncate(64 << 20)
    os.mkfifo(tree.out / "east/alpha/b.yaml.fifo")
    (tree.out / "east/alpha/b.yaml").unlink()
    os.mkfifo(tree.out / "east/alpha/b.yaml")
    tracemalloc.start()
    try:
        staleness = tree.compare(OLD)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert staleness.differing == ["east/alpha/a.yaml", "east/alpha/b.yaml"]
    assert staleness.extra == ["east/alpha/b.yaml.fifo"]
    assert peak < 1 << 20, peak


def test_a_symlinked_cluster_folder_is_refused_before_anything_is_written(repo, tmp_path, capsys):
    """Units are renamed into their cluster folder: through a symlink that would write (and move
    away) folders wherever it leads. The compile refuses (exit 2), naming the link; the target
    is untouched."""
    assert main(["compile", "--root", str(repo)]) == 0
    outside = tmp_path / "outside"
    shutil.move(repo / "rendered/gpu-east", outside)
    (repo / "rendered/gpu-east").symlink_to(outside)
    (outside / "vision/keep.yaml").write_bytes(b"mine\n")
    before = snapshot(outside)
    assert main(["compile", "--root", str(repo)]) == 2
    assert main(["check", "--root", str(repo)]) == 2
    assert capsys.readouterr().err.count("error: rendered/gpu-east: is a symlink") == 2
    assert TreeWriter(repo / "rendered", tmp_path / "state").observe() is None  # nothing looked at through it
    with pytest.raises(CompileError, match="is a symlink"):  # the writer refuses on its own too
        TreeWriter(repo / "rendered", tmp_path / "state").write({"gpu-east/vision/a.yaml": b"x\n"})
    assert snapshot(outside) == before
    assert (repo / "rendered/gpu-east").is_symlink()


def _reversed_keys(data):
    """The same data with every mapping's keys in reverse order."""
    if isinstance(data, dict):
        return {k: _reversed_keys(data[k]) for k in reversed(list(data))}
    if isinstance(data, list):
        return [_reversed_keys(v) for v in data]
    return data


def test_compiles_are_deterministic_and_ignore_key_order(repo, example):
    """Same specs, same bytes: twice in a row, and with every YAML mapping reordered."""
    again = compile_repo(repo)
    assert again.files == example.files
    for path in sorted((repo / "tenants").glob("*.yaml")):
        data = yaml_io.load(path.read_bytes())
        path.write_text(yaml_io.yaml.dump(_reversed_keys(data), sort_keys=False))
    reordered = compile_repo(repo, crds=None)
    assert reordered.files == example.files


def test_removed_tenant_folders_disappear(repo):
    """Deleting a tenant file deletes its rendered folders on every cluster, and only those."""
    write_rendered(repo, compile_repo(repo))
    before = snapshot(repo / "rendered")
    gone = [p for p in before if RenderedPath.parse(p).unit == "sandbox-hackweek"]
    assert gone
    (repo / "tenants/sandbox-hackweek.jsonnet").unlink()
    result = write_rendered(repo, compile_repo(repo))
    after = snapshot(repo / "rendered")
    assert result.removed_units == ["cpu-west/sandbox-hackweek"]
    assert not (repo / "rendered/cpu-west/sandbox-hackweek").exists()
    # Argo CD's view follows: the tenant's AppProject goes, the ApplicationSet loses its element.
    argocd = {p for p in before if p.startswith("_argocd/")}
    assert "_argocd/appproject.argoproj.io-sandbox-hackweek.yaml" not in after
    assert b"sandbox-hackweek" not in after["_argocd/applicationset.argoproj.io-tenantc.yaml"]
    assert {p: b for p, b in after.items() if p not in argocd} == \
        {p: b for p, b in before.items() if p not in gone and p not in argocd}


def test_a_stray_file_in_a_cluster_folder_is_extra_and_compile_removes_it(repo):
    """Nothing renders files directly under rendered/<cluster>/: check lists them, compile
    removes them (inside the same transaction as stale folders)."""
    write_rendered(repo, compile_repo(repo))
    stray = repo / "rendered/gpu-east/leftover.yaml"
    stray.write_text("kind: ConfigMap\n")
    assert "gpu-east/leftover.yaml" in check_rendered(repo, compile_repo(repo)).extra
    written = write_rendered(repo, compile_repo(repo))
    assert "gpu-east/leftover.yaml" in written.removed_units and not stray.exists()
    assert not check_rendered(repo, compile_repo(repo)).stale


@pytest.mark.parametrize("command, module, step", [
    ("compile", "compiler.commands.compile", "write_rendered"),  # between compile and write
    ("check", "compiler.commands.check", "stale_schema_files"),  # after its compile, before its report
])
def test_commands_keep_the_collector_paused_until_their_report(repo, capsys, monkeypatch, command, module, step):
    """`tenantc compile` and `check` keep the cyclic collector paused from compile to report:
    when it ran in between it scanned every object the compile still held (0.1-0.2 s of a
    one-tenant edit at 1,000 tenants)."""
    import importlib

    target = importlib.import_module(module)
    enabled = []
    real = getattr(target, step)

    def spy(*args, **kwargs):
        enabled.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(target, step, spy)
    assert main(["compile", "--root", str(repo)]) == 0
    assert main([command, "--root", str(repo)]) == 0
    capsys.readouterr()
    assert enabled and not any(enabled)
    assert gc.isenabled(), "and on again once the command is done"
