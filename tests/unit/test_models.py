"""Spec models: strict fields, camelCase keys and error paths that read like the user's file."""
from __future__ import annotations

import copy

import pytest

from compiler.errors import Problems
from compiler.load.sources import Source, Sources
from compiler.model import build_specs, field_path, validate_model
from compiler.model.platform import Platform
from compiler.model.tenant import Tenant

BASE = {
    "name": "team-a", "displayName": "Team A", "owner": "a@example.com",
    "members": [{"user": "a@example.com", "role": "admin"}],
    "quota": {"cpu": "8", "memory": "32Gi", "gpu": {"A100": 2}},
    "placement": {"gpu-east": {"weight": 1}},
    "containerDefaults": {"defaultRequest": {"cpu": "500m"}},
    "network": {"allowFromIngress": True},
}


def problems_for(data: dict, model=Tenant, path: str = "tenants/team-a.yaml") -> list[tuple[str, str, str]]:
    """(file, field path, message) of every problem the model finds in `data`."""
    problems = Problems()
    validate_model(model, Source(path, data, "digest"), problems)
    return [(p.file, p.path, p.message) for p in problems.items]


def changed(**edits) -> dict:
    """BASE with dotted-path edits (`**{"quota.cpu": "-1"}` sets quota.cpu); None deletes a key."""
    data = copy.deepcopy(BASE)
    for dotted, value in edits.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


def test_the_base_spec_is_valid():
    """The other tests change one thing of a valid spec; it must be valid to begin with."""
    assert problems_for(BASE) == []


@pytest.mark.parametrize(("edits", "path", "message"), [
    ({"ownr": "x"}, "ownr", "unknown field"),
    ({"quota.cpuu": "1"}, "quota.cpuu", "unknown field"),
    ({"network.allowFromIngres": False}, "network.allowFromIngres", "unknown field"),
    ({"display_name": "snake"}, "display_name", "unknown field"),
])
def test_extra_fields_are_forbidden_at_every_level(edits, path, message):
    """A typo is an error with its path, never a silently ignored key."""
    assert ("tenants/team-a.yaml", path, message) in problems_for(changed(**edits))


def test_snake_case_keys_are_not_a_second_spelling():
    """The JSON Schemas list camelCase keys only; the compiler must agree with the editor."""
    data = changed(displayName=None, display_name="Team A")
    paths = {p for _, p, _ in problems_for(data)}
    assert paths == {"displayName", "display_name"}


@pytest.mark.parametrize(("edits", "path", "fragment"), [
    ({"network.allowFromIngress": "maybe"}, "network.allowFromIngress", "'maybe'"),
    ({"containerDefaults.defaultRequest": {"cpu": "lots"}}, "containerDefaults.defaultRequest.cpu",
     "'lots' is not a quantity"),
    ({"members": [{"user": "a@example.com", "role": "cluster-admin"}]}, "members[0].role", "admin"),
    ({"quota.gpu": {"A100": 2.5}}, "quota.gpu.A100", "must be a whole number, got 2.5"),
    ({"quota.memory": "-1Gi"}, "quota.memory", "must not be negative"),
    ({"placement": {}}, "placement", "at least 1"),
])
def test_error_paths_use_camel_case_keys_and_indexes(edits, path, fragment):
    """Paths name the keys exactly as written in the YAML file, with list indexes."""
    found = [(p, m) for _, p, m in problems_for(changed(**edits)) if p == path]
    assert found, problems_for(changed(**edits))
    assert any(fragment in message for _, message in found)


def test_missing_required_field_is_named():
    """A missing owner says which field to add."""
    assert ("tenants/team-a.yaml", "owner", "required field is missing") in problems_for(changed(owner=None))


def test_every_problem_is_reported_not_just_the_first():
    """Users fix all problems of a file in one round."""
    data = changed(ownr="x", **{"quota.cpu": "-1", "quota.memory": "4TB"})
    assert {p for _, p, _ in problems_for(data)} >= {"ownr", "quota.cpu", "quota.memory"}


def test_cluster_admin_is_not_a_member_role():
    """Members get admin/edit/view only; cluster-wide roles are out of reach of a tenant file."""
    paths = {p for _, p, _ in problems_for(changed(members=[{"group": "g", "role": "cluster-admin"}]))}
    assert "members[0].role" in paths


@pytest.mark.parametrize("loc,expected", [
    (("members", 1, "role"), "members[1].role"),
    (("quota", "gpu", "A100", "function-before[_parse_count()]"), "quota.gpu.A100"),
    (("placement", "gpu-east", "weight"), "placement.gpu-east.weight"),
])
def test_field_path_formatting(loc, expected):
    """Pydantic's locations become the dotted paths the CLI prints; internal tags are dropped."""
    assert field_path(loc) == expected


def test_name_must_equal_file_stem_and_be_unique(example):
    """Two files for one tenant would render the same namespace twice."""
    platform = example.specs.platform_source
    tenant = dict(BASE)
    sources = Sources(platform, [Source("tenants/team-a.jsonnet", tenant, "1"),
                                 Source("tenants/team-a.yaml", tenant, "2"),
                                 Source("tenants/team-b.yaml", tenant, "3")])
    problems = Problems()
    build_specs(sources, problems)
    found = {(p.file, p.path) for p in problems.items}
    assert found == {("tenants/team-a.yaml", "name"), ("tenants/team-b.yaml", "name")}
    messages = " ".join(p.message for p in problems.items)
    assert "also in tenants/team-a.jsonnet" in messages and "differs from the file name 'team-b'" in messages


def test_platform_errors_name_the_platform_file(example):
    """Platform typos are reported against tenants/platform.yaml with their path."""
    data = copy.deepcopy(example.specs.platform_source.data)
    data["clusters"][0]["capacty"] = {}
    found = problems_for(data, Platform, "tenants/platform.yaml")
    assert ("tenants/platform.yaml", "clusters[0].capacty", "unknown field") in found


def test_the_whitespace_pattern_is_str_isspace_for_every_code_point():
    """Member names are refused when they hold whitespace; the check uses a regular expression
    (no per-character Python loop). It must call exactly what str.isspace() calls whitespace."""
    import sys

    from compiler.model.common import _WHITESPACE

    differing = [c for c in range(sys.maxunicode + 1) if chr(c).isspace() != bool(_WHITESPACE.search(chr(c)))]
    assert differing == []
    assert _WHITESPACE.search("a\u2003b") and not _WHITESPACE.search("lena@example.com")
