"""The unit cache: a recompile renders only the units whose inputs changed, and what it
returns and writes is byte for byte what a compile without the cache gives."""
from __future__ import annotations

import json
import marshal
import sqlite3

from helpers import crd_dirs, replace_once, snapshot

from compiler.identity import RenderedPath
from compiler.kinds import PLATFORM_DIR
from compiler.pipeline import CACHE_DIR, compile_repo, write_rendered
from compiler.render.unit_cache import safe_file_names


def _compile(repo, **kwargs):
    return compile_repo(repo, crd_dirs(), **kwargs)


def _units_of(tenant: str, result) -> set[str]:
    return {r.folder for r in map(RenderedPath.parse, result.objects) if r.in_cluster and r.unit == tenant}


def _cluster_units(result, platform: bool = True) -> set[str]:
    """Unit folders under cluster folders (with or without the platform's)."""
    return {r.folder for r in map(RenderedPath.parse, result.objects)
            if r.in_cluster and (platform or r.unit != PLATFORM_DIR)}


def test_second_compile_renders_nothing_and_equals_an_uncached_compile(repo):
    first = _compile(repo)
    assert first.units_rendered == len(_cluster_units(first))
    second = _compile(repo)
    assert second.units_rendered == 0
    uncached = _compile(repo, use_cache=False)
    assert list(second.files) == list(uncached.files)
    assert all(second.files[p] == uncached.files[p] for p in uncached.files)
    assert all(second.objects[p] == uncached.objects[p] for p in uncached.objects)
    assert second.warnings == uncached.warnings and second.validated == uncached.validated


def test_a_one_tenant_change_renders_only_that_tenants_units(repo):
    """ads-ranking imports data but no other tenant's units depend on its spec."""
    _compile(repo)
    replace_once(repo / "tenants/ads-ranking.yaml", 'quota: {cpu: "400"', 'quota: {cpu: "399"')
    replace_once(repo / "tenants/ads-ranking.yaml", 'cpu: "700"', 'cpu: "699"')
    result = _compile(repo)
    assert result.units_rendered == len(_units_of("ads-ranking", result)) == 2
    assert b"requests.cpu: '399'" in result.files["cpu-west/ads-ranking/resourcequota-tenant-quota.yaml"]


def test_a_readers_change_rerenders_the_owner_of_the_data_it_reads(repo):
    """The A100 pods of vision read ml-platform's imagenet, which therefore has a cache on the A100
    pools: ml-platform's units depend on vision's spec (and only they, besides vision's)."""
    first = _compile(repo)
    replace_once(repo / "tenants/vision.yaml", 'cpu: "512"', 'cpu: "500"')
    result = _compile(repo)
    assert result.units_rendered == len(_units_of("vision", first) | _units_of("ml-platform", first)) == 3
    assert 'requests.cpu: "500"'.replace('"', "'").encode() in \
        result.files["gpu-east/vision/resourcequota-tenant-quota.yaml"]


def test_importers_rerender_when_the_dataset_owner_changes(repo):
    """ml-platform owns the global imagenet dataset: every tenant's units read its spec."""
    first = _compile(repo)
    replace_once(repo / "tenants/ml-platform.yaml", "quota: 2Ti}]", "quota: 3Ti}]")
    result = _compile(repo)
    tenant_units = _cluster_units(first, platform=False)
    assert result.units_rendered == len(tenant_units)


def test_an_exporters_change_rerenders_its_importers_only(repo):
    """quant-research exports market-data to recsys alone and lets ml-platform in: a change to
    quant-research renders its own units, recsys's and ml-platform's (whose egress to it depends
    on its allowFromTenants), nobody else's."""
    first = _compile(repo)
    replace_once(repo / "tenants/quant-research.yaml", 'schedule: "30 6 * * 1-5"', 'schedule: "30 7 * * 1-5"')
    result = _compile(repo)
    readers = _units_of("quant-research", first) | _units_of("recsys", first) | _units_of("ml-platform", first)
    assert result.units_rendered == len(readers)


def test_a_jsonnet_library_change_reaches_the_tenants_that_import_it(repo):
    _compile(repo)
    replace_once(repo / "tenants/lib/sandbox.libsonnet", "pods: 100", "pods: 120")
    result = _compile(repo)
    assert result.units_rendered == 2  # sandbox-interns and sandbox-hackweek, on cpu-west
    assert b"pods: '120'" in result.files["cpu-west/sandbox-interns/resourcequota-tenant-quota.yaml"]


def test_a_broken_cache_is_ignored_not_fatal(repo):
    _compile(repo)
    (repo / CACHE_DIR / "units.sqlite").write_bytes(b"not a database")
    for suffix in ("-wal", "-shm"):
        (repo / CACHE_DIR / f"units.sqlite{suffix}").unlink(missing_ok=True)
    result = _compile(repo)
    assert result.units_rendered > 0 and len(result.files) > 100


def test_hits_are_served_from_the_cache_and_a_new_key_renders_afresh(repo):
    """A marker planted in vision's cached YAML comes back while vision's inputs are unchanged
    (the unit was not rendered) and is gone once they change (a new key)."""
    path, name = "gpu-east/vision", "namespace-vision.yaml"
    first = _compile(repo)
    key = first.files.units[path].key
    db = sqlite3.connect(repo / CACHE_DIR / "units.sqlite")
    files = marshal.loads(db.execute("SELECT files FROM units WHERE key = ?", (key,)).fetchone()[0])
    files[name] += b"# planted\n"
    db.execute("UPDATE units SET files = ? WHERE key = ?", (marshal.dumps(files), key))
    db.commit()
    db.close()
    assert _compile(repo).files[f"{path}/{name}"].endswith(b"# planted\n")
    replace_once(repo / "tenants/vision.yaml", 'cpu: "512"', 'cpu: "510"')
    assert b"# planted" not in _compile(repo).files[f"{path}/{name}"]


def test_writer_skips_unchanged_units_unread_and_rewrites_hand_edits(repo):
    write_rendered(repo, _compile(repo))
    before = snapshot(repo / "rendered")
    edited = repo / "rendered/gpu-east/vision/namespace-vision.yaml"
    edited.write_bytes(edited.read_bytes() + b"# hand edit\n")
    result = _compile(repo)
    written = write_rendered(repo, result)
    assert written.written_units == ["gpu-east/vision"]
    assert snapshot(repo / "rendered") == before


def test_a_renamed_spec_file_is_not_served_with_its_old_source_annotation(repo):
    """Same bytes under another name (.yaml -> .yml) must re-render: objects name their file."""
    _compile(repo)
    (repo / "tenants/vision.yaml").rename(repo / "tenants/vision.yml")
    result = _compile(repo)
    assert b"tenants/vision.yml" in result.files["gpu-east/vision/namespace-vision.yaml"]


def test_cached_file_names_a_renderer_would_not_write_make_the_cache_empty(repo):
    """The cache is untrusted: a stored unit naming a file outside plain `*.yaml` names (a path,
    a trailing newline, which a `$`-anchored pattern let through) is not served; the compile
    renders afresh and its files are the renderers' own."""
    path = "gpu-east/vision"
    first = _compile(repo)
    key = first.files.units[path].key
    for bad in ("../escape.yaml", "namespace-vision.yaml\n", "x.yml"):
        db = sqlite3.connect(repo / CACHE_DIR / "units.sqlite")
        meta = json.loads(db.execute("SELECT meta FROM units WHERE key = ?", (key,)).fetchone()[0])
        meta["names"] = sorted(meta["names"] + [bad])
        db.execute("UPDATE units SET meta = ? WHERE key = ?", (json.dumps(meta), key))
        db.commit()
        db.close()
        again = _compile(repo)
        assert again.units_rendered == first.units_rendered, bad
        assert dict(again.files) == dict(first.files), bad
        assert not any(bad in name for name in again.files), bad


def test_safe_file_names_takes_only_lists_of_plain_yaml_names():
    assert safe_file_names([]) and safe_file_names(["a.yaml", "b-c.d_e.yaml"])
    for bad in (["a.yaml\n"], ["a.yaml", "\nb.yaml"], ["../a.yaml"], [".a.yaml"], ["a.yaml", ""], ["a.yml"],
                [1], "a.yaml", None, ["a/b.yaml"]):
        assert not safe_file_names(bad), bad
