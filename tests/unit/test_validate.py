"""Schema validation seam: both engines find the same problems at the same paths."""
from __future__ import annotations

import copy

import pytest

from compiler.errors import Problems
from compiler.identity import RenderedPath
from compiler.kinds import BUILTIN_GROUPS, group_of
from compiler.validate import builtin, validate_objects
from compiler.validate.engine import ENGINES

RUST, PYTHON = ENGINES


def schema_of(obj: dict, path: str, example, crds, engine: str):
    """The compiled schema the validate stage would use for this object, or None."""
    if group_of(obj["apiVersion"]) in BUILTIN_GROUPS:
        cluster = example.specs.platform.cluster(RenderedPath.parse(path).cluster)
        version = builtin.schema_version_for(cluster.kubernetes_version)
        return builtin.schema_for(version, obj["apiVersion"], obj["kind"], engine)
    return crds.compiled(obj["apiVersion"], obj["kind"], engine) if crds else None


def mutations(obj: dict):
    """Invalid variants of a valid object: an unknown field at the top, in metadata and in the
    first nested mapping of the body, and wrong types."""
    def variant(change):
        bad = copy.deepcopy(obj)
        change(bad)
        return bad

    yield "unknown top-level field", variant(lambda o: o.__setitem__("specc", {}))
    yield "unknown metadata field", variant(lambda o: o["metadata"].__setitem__("lables", {}))
    yield "label of the wrong type", variant(lambda o: o["metadata"]["labels"].__setitem__("x", 5))
    yield "name of the wrong type", variant(lambda o: o["metadata"].__setitem__("name", ["a"]))
    body_key = next((k for k in sorted(obj) if isinstance(obj[k], dict) and k != "metadata"), None)
    if body_key:
        yield f"unknown field in {body_key}", variant(lambda o: o[body_key].__setitem__("bogusField", 1))


@pytest.fixture(scope="module")
def checked_objects(example, crds):
    """(path, object, {engine: schema}) for every example object that has a schema."""
    out = []
    for path, obj in example.objects.items():
        schemas = {engine: schema_of(obj, path, example, crds, engine) for engine in ENGINES}
        if schemas[RUST] is not None:
            out.append((path, obj, schemas))
    assert len(out) == example.validated
    return out


def test_every_example_object_is_validated(example, crds):
    """With the upstream CRDs every kind has a schema: nothing passes unchecked."""
    if crds is None:
        pytest.skip("the upstream CRDs are not beside the checkout")
    assert example.validated == len(example.objects)
    assert example.warnings == []


def test_engines_agree_on_valid_objects(checked_objects):
    """Everything the examples render is valid for both engines."""
    for path, obj, schemas in checked_objects:
        assert schemas[RUST].violations(obj) == [], path
        assert schemas[PYTHON].violations(obj) == [], path


def test_engines_agree_on_verdicts_and_paths_of_invalid_objects(checked_objects):
    """The fast engine may replace the reference one only if it flags the same paths."""
    compared = 0
    for path, obj, schemas in checked_objects:
        for what, bad in mutations(obj):
            rust = {v.path for v in schemas[RUST].violations(bad)}
            python = {v.path for v in schemas[PYTHON].violations(bad)}
            assert rust, (path, what)
            assert rust == python, (path, what, rust, python)
            compared += 1
    assert compared >= 4 * len(checked_objects)


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_object_is_reported_with_its_path_by_each_engine(example, crds, engine):
    """A rendered value the API server would refuse names the object file and field path."""
    path = next(p for p in example.objects if p.endswith("/resourcequota-tenant-quota.yaml"))
    bad = copy.deepcopy(example.objects[path])
    bad["spec"]["hardd"] = bad["spec"].pop("hard")
    bad["metadata"]["labels"]["broken"] = 7
    problems = Problems()
    validate_objects({path: bad}, example.specs.platform, crds, problems, engine)
    found = {(p.file, p.path) for p in problems.items}
    source = bad["metadata"]["annotations"]["tenantc.io/source"]
    assert found == {(source, f"rendered/{path}: spec"), (source, f"rendered/{path}: metadata.labels.broken")}
    assert any("hardd" in p.message for p in problems.items)


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_kinds_are_strict(example, crds, engine):
    """An unknown field in a Volcano Queue is an error here, not silently pruned by the server."""
    if crds is None:
        pytest.skip("the upstream CRDs are not beside the checkout")
    path = next(p for p, o in example.objects.items() if o["kind"] == "Queue")
    bad = copy.deepcopy(example.objects[path])
    bad["spec"]["capabilty"] = {"cpu": "1"}
    problems = Problems()
    validate_objects({path: bad}, example.specs.platform, crds, problems, engine)
    assert [p.path for p in problems.items] == [f"rendered/{path}: spec"]
    assert "capabilty" in problems.items[0].message


def test_kinds_without_schema_are_warned_about(example):
    """Without CRDs the custom kinds are listed as not validated, never passed in silence."""
    problems = Problems()
    report = validate_objects(example.objects, example.specs.platform, None, problems)
    assert not problems
    custom = {o["kind"] for o in example.objects.values() if group_of(o["apiVersion"]) not in BUILTIN_GROUPS}
    for kind in custom:
        assert any(f" {kind} (" in w and "--crd-dir" in w for w in report.warnings), kind
