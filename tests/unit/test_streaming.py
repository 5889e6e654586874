"""A compile streams its units: each is rendered, validated, serialized and stored (the unit
cache, or a temporary spill file without one) before the next, and only its key and file
names stay in memory (compiler/pipeline.py, compiler/render/units.py). So what a compile
needs beyond its specs and plan does not grow with the objects it renders (issue 17: 10,000
tenants under 400 MiB)."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from helpers import compile_bench

from compiler.pipeline import compile_repo, plan_repo, write_rendered
from compiler.render.unit_cache import UnitCache, UnitMeta
from compiler.render.units import Unit, UnitTree
from compiler.write import serialize

# What each object rendered may add to a compile's peak beyond specs and plan: its path and
# file name, kept for the lazy views. Holding objects and YAML took about 2.4 KiB per object
# (measured at 1,000 tenants before streaming).
MAX_BYTES_PER_OBJECT = 512


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[int, Path]:
    """The benchmarks' synthetic tenants with workloads (datasets, jobs, notebooks, servings,
    projects), at two sizes."""
    bench = compile_bench()
    out = {}
    for tenants in (100, 400):
        root = tmp_path_factory.mktemp(f"tenants-{tenants}")
        bench.make_repo(root, tenants, workloads=True)
        out[tenants] = root
    return out


def _peak_beyond_plan(root: Path, crds) -> tuple[int, int]:
    """(bytes a cold compile's traced peak exceeds what its specs and plan hold, objects)."""
    tracemalloc.start()
    try:
        planned = plan_repo(root, crds=crds)
        planned_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = compile_repo(root, crds=crds, use_cache=False, planned=planned)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - planned_bytes, len(result.objects)


def test_peak_memory_beyond_specs_and_plan_does_not_grow_with_the_objects(repos, crds):
    compile_repo(repos[100], crds=crds, use_cache=False)  # schemas compiled once, outside the measure
    small, small_objects = _peak_beyond_plan(repos[100], crds)
    large, large_objects = _peak_beyond_plan(repos[400], crds)
    assert large_objects > 3 * small_objects
    per_object = (large - small) / (large_objects - small_objects)
    assert per_object < MAX_BYTES_PER_OBJECT, (
        f"{small / 2**20:.1f} MiB beyond the plan for {small_objects} objects, {large / 2**20:.1f} MiB for "
        f"{large_objects}: {per_object:.0f} bytes per object")


@pytest.mark.parametrize("use_cache", [False, True])
def test_streamed_units_read_back_whole_and_write_the_same_tree(repos, crds, tmp_path, use_cache):
    """What the lazy views read back from the store is what was rendered: every object's
    YAML is its serialization, and the tree written from the store (a unit at a time) holds
    exactly those bytes."""
    root = repos[100]
    result = compile_repo(root, crds=crds, use_cache=use_cache)
    assert len(result.files) == len(result.objects) > 2000
    for path, obj in result.objects.items():
        assert result.files[path] == serialize(obj), path
    write_rendered(root, result, tmp_path / "out")
    written = {str(p.relative_to(tmp_path / "out")): p.read_bytes()
               for p in (tmp_path / "out").rglob("*.yaml")}
    assert written == dict(result.files.items())


def test_a_unit_the_cache_file_cannot_take_is_still_read_back(tmp_path):
    """Units wait in the cache's queue until a batch is written; when writing fails (a full
    disk, a locked file) they move to the spill store, and the compile reads them all the same."""
    cache = UnitCache(tmp_path / "units.sqlite")
    objects = {"namespace-a.yaml": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}}
    files = {"namespace-a.yaml": b"kind: Namespace\n"}
    read = cache.put("k1", UnitMeta(["namespace-a.yaml"], {}), objects, files)
    assert read("objects") == objects and read("files") == files  # from the queue
    assert cache._db is not None
    cache._db.close()  # the file can no longer be written
    cache.flush()
    assert read("objects") == objects and read("files") == files  # from the spill store
    assert UnitCache(tmp_path / "units.sqlite").metas(["k1"]) == {}


def test_a_unit_stored_in_the_cache_file_is_read_back_and_checked(tmp_path):
    cache = UnitCache(tmp_path / "units.sqlite")
    files = {"namespace-a.yaml": b"kind: Namespace\n"}
    read = cache.put("k1", UnitMeta(["namespace-a.yaml"], {}), {"namespace-a.yaml": {"kind": "Namespace"}}, files)
    cache.flush()
    assert read("files") == files
    again = UnitCache(tmp_path / "units.sqlite")
    assert again.metas(["k1"])["k1"].names == ["namespace-a.yaml"]
    assert again.content("k1", ["namespace-a.yaml"], "files") == files
    assert again.content("k1", ["other.yaml"], "files") is None  # not the unit its metadata names


def test_a_compiles_paths_come_in_sorted_order():
    """A unit's paths are adjacent and the views list them sorted, also where one tenant's
    name extends another's ('a-x/...' sorts before 'a/...')."""
    def unit(path: str, names: list[str]) -> Unit:
        return Unit(path, "", names, lambda what: {n: b"" for n in names})

    units = {u.path: u for u in (unit("c/a", ["x.yaml", "y.yaml"]), unit("c/a-x", ["z.yaml"]),
                                 unit("_argocd", ["p.yaml"]), unit("b/a", ["a.yaml"]))}
    tree = UnitTree(units, "files")
    assert list(tree) == sorted(f"{u.path}/{n}" for u in units.values() for n in u.names)
    assert len(tree) == 5 and "c/a-x/z.yaml" in tree and "c/a/z.yaml" not in tree
