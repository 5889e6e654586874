"""Golden outputs (markdown, JSON, text, GitHub annotations) of one pull request that touches
every part of a review, and the output rules that goldens cannot show.

Regenerate with TENANTC_UPDATE_GOLDEN=1 and read the diff before committing it. The `mixed`
review is a fixture of conftest.py (the charts' tests read it too).
"""
from __future__ import annotations

import json
import os

import pytest
from review_helpers import GOLDEN

from compiler.review import ReviewFailed
from compiler.review import report as report_module
from compiler.review.report import failure_json, render, render_failure, to_json

UPDATE = os.environ.get("TENANTC_UPDATE_GOLDEN") == "1"


def normalised(text: str, *revisions) -> str:
    """Commit ids depend on the copied examples; the golden files name them by role."""
    for rev in revisions:
        if rev.commit:
            text = text.replace(rev.commit, f"<{rev.role}-commit>").replace(rev.commit[:7], f"<{rev.role}>")
    return text


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path.name} missing: run with TENANTC_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs: run with TENANTC_UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize("fmt,name", [("markdown", "mixed.md"), ("json", "mixed.json"),
                                      ("text", "mixed.txt"), ("github", "mixed.github.txt")])
def test_golden_outputs(mixed, fmt, name):
    check_golden(name, normalised(render(mixed, fmt), mixed.base, mixed.head))


def test_golden_head_compile_error(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "3000"')
    with pytest.raises(ReviewFailed) as caught:
        run_review()
    for fmt, name in (("markdown", "capacity-error.md"), ("json", "capacity-error.json")):
        check_golden(name, render_failure(caught.value, fmt))


def test_json_schema_is_stable(mixed):
    data = to_json(mixed)
    assert set(data) == {"schemaVersion", "valid", "base", "head", "hasChanges", "summary", "changes", "capacity",
                         "risks", "approvals", "changedFiles", "warnings", "datasetGraph"}
    assert set(data["datasetGraph"]) == {"changed", "edges"}
    assert set(data["datasetGraph"]["edges"][0]) == {"kind", "tenant", "dataset", "to", "write", "as", "status"}
    assert data["schemaVersion"] == 1 and data["valid"] is True
    assert set(data["changes"][0]) == {"cluster", "tenant", "apiVersion", "kind", "namespace", "name", "change",
                                       "path", "source", "fields"}
    assert set(data["risks"][0]) == {"rule", "severity", "cluster", "tenant", "apiVersion", "kind", "namespace",
                                     "name", "reason", "source", "crossTenant", "involves"}
    assert set(data["capacity"][0]) == {"cluster", "resource", "before", "after", "limitBefore", "limitAfter",
                                        "headroom", "percentAfter", "changed", "format"}
    assert {x["rule"] for x in data["risks"]} == {"quota-lowered", "rbac-widened", "network-opened",
                                                  "dataset-shared", "data-removed", "guardrail-loosened"}
    assert data["summary"]["risks"]["danger"] == len([x for x in data["risks"] if x["severity"] == "danger"]) > 0
    json.dumps(data)  # plain JSON all the way down


def test_markdown_puts_the_summary_first_and_collapses_details(mixed):
    text = render(mixed, "markdown")
    assert text.index("| tenant | cluster |") < text.index("### Risks") < text.index("<details>")
    tenants = sorted({c.tenant for c in mixed.changes})
    assert text.count("<details>") == text.count("</details>") == len(tenants)


def test_markdown_stays_under_the_comment_limit(mixed, monkeypatch):
    monkeypatch.setattr(report_module, "MARKDOWN_BUDGET", 3000)
    text = render(mixed, "markdown")
    assert "more tenant(s) left out to fit a comment" in text
    assert text.count("<details>") == text.count("</details>") < 4
    assert "_Charts left out to fit a comment._" in text and "```mermaid" not in text  # pictures go first
    assert "- new: vision imports ml-platform/click-logs" in text  # the graph's changes stay, in words
    assert len(text) < 3000


def test_long_quantities_are_rounded_for_people_but_exact_in_json():
    assert report_module._readable("31665934879948800m", "BinarySI") == "≈28.8Ti"
    assert report_module._readable("123456789", "DecimalSI") == "≈123.5M"
    assert report_module._readable("6656Gi", "BinarySI") == "6656Gi"
    assert report_module._readable(None, "DecimalSI") == "-"


def test_no_changes_says_so_in_every_format(spec_repo, run_review):
    r = run_review()
    assert "no changes to rendered objects" in render(r, "text")
    assert "Nothing to review" in render(r, "markdown")
    assert to_json(r)["hasChanges"] is False and to_json(r)["changes"] == []
    assert render(r, "github").startswith("::notice title=tenantc review::")


def test_github_annotations_escape_properties(spec_repo, run_review):
    spec_repo.replace("tenants/vision.yaml", 'cpu: "512"', 'cpu: "lots"')
    with pytest.raises(ReviewFailed) as caught:
        run_review()
    [line] = render_failure(caught.value, "github").splitlines()
    assert line.startswith("::error file=tenants/vision.yaml,title=head (working tree) does not compile%3A quota.cpu::")
    assert failure_json(caught.value)["failures"][0]["revision"]["role"] == "head"


def test_github_annotation_properties_never_hold_an_unescaped_separator(mixed):
    for line in render(mixed, "github").splitlines():
        level_and_properties, _, message = line[2:].partition("::")
        assert message and "\n" not in message
        _, _, properties = level_and_properties.partition(" ")
        for prop in properties.split(",") if properties else []:
            name, _, value = prop.partition("=")
            assert name in ("file", "title") and ":" not in value, line
