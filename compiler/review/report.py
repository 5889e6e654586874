"""A review as text (terminal), markdown (pull request comment), GitHub annotations or JSON.

Every format is built from `to_json`, so they never disagree; the JSON layout is the stable
interface (schemaVersion 1, documented in docs/review.md): fields may be added, never renamed
or removed, without a new schemaVersion.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from compiler.identity import ObjectRef
from compiler.output.github import annotation
from compiler.pipeline import RENDERED_DIR
from compiler.quantity import FORMAT_BINARY, Quantity
from compiler.review import Review, ReviewFailed
from compiler.review.capacity import CapacityRow
from compiler.review.charts import capacity_charts, data_flowchart
from compiler.review.datagraph import EVERY_TENANT, EXPORT, GLOBAL
from compiler.review.revision import Revision
from compiler.review.risks import DANGER, RULES, WARNING

SCHEMA_VERSION = 1
FORMATS = ("text", "markdown", "github", "json")
MARKDOWN_BUDGET = 60_000  # GitHub refuses comments over 65,536 characters
VALUE_WIDTH = 100


# -- the data -----------------------------------------------------------------------------

def to_json(r: Review) -> dict[str, Any]:
    tenants = sorted({c.tenant for c in r.changes})
    return {
        "schemaVersion": SCHEMA_VERSION,
        "valid": True,
        "base": _revision(r.base),
        "head": _revision(r.head),
        "hasChanges": r.has_changes,
        "summary": {
            "added": sum(c.change == "added" for c in r.changes),
            "removed": sum(c.change == "removed" for c in r.changes),
            "changed": sum(c.change == "changed" for c in r.changes),
            "tenants": tenants,
            "clusters": sorted({c.key.cluster for c in r.changes}),
            "risks": {sev: sum(x.severity == sev for x in r.risks) for sev in (DANGER, WARNING)},
        },
        "changes": [{
            "cluster": c.key.cluster, "tenant": c.tenant, "apiVersion": c.api_version, "kind": c.key.kind,
            "namespace": c.key.namespace, "name": c.key.name, "change": c.change,
            "path": f"{RENDERED_DIR}/{c.path}", "source": c.source,
            "fields": [{"path": f.path, "op": f.op, "old": f.old, "new": f.new, "note": f.note} for f in c.fields],
        } for c in r.changes],
        "capacity": [{
            "cluster": row.cluster, "resource": row.resource, "before": _q(row, row.before),
            "after": _q(row, row.after), "limitBefore": _q(row, row.limit_before),
            "limitAfter": _q(row, row.limit_after), "headroom": _q(row, row.headroom),
            "percentAfter": None if row.percent_after is None else round(row.percent_after, 1),
            "changed": row.changed, "format": row.fmt,
        } for row in r.capacity],
        "risks": [{
            "rule": x.rule, "severity": x.severity, "cluster": x.key.cluster, "tenant": x.tenant,
            "apiVersion": x.api_version, "kind": x.key.kind, "namespace": x.key.namespace, "name": x.key.name,
            "reason": x.reason, "source": x.source, "crossTenant": x.cross_tenant, "involves": list(x.involves),
        } for x in r.risks],
        "approvals": [{"who": a.who, "reasons": a.reasons} for a in r.approvals],
        "changedFiles": r.changed_files,
        "warnings": r.warnings,
        "datasetGraph": {"changed": r.data_graph.changed, "edges": r.data_graph.rows()},
    }


def failure_json(failed: ReviewFailed) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "valid": False,
        "failures": [{
            "revision": _revision(f.revision),
            "problems": [{"file": p.file, "path": p.path, "message": p.message, "hint": p.hint} for p in f.problems],
        } for f in failed.failures],
        "changedFiles": failed.changed_files,
    }


def _revision(rev: Revision) -> dict[str, Any]:
    return {"role": rev.role, "ref": rev.ref, "commit": rev.commit, "label": rev.label}


def _q(row: CapacityRow, value) -> str | None:
    return None if value is None else row.show(value)


# -- dispatch -----------------------------------------------------------------------------

def render(r: Review, fmt: str) -> str:
    data = to_json(r)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return {"text": _text, "markdown": _markdown, "github": _github}[fmt](data)


def render_failure(failed: ReviewFailed, fmt: str) -> str:
    data = failure_json(failed)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    out: list[str] = []
    if fmt == "github":
        for f in data["failures"]:
            for p in f["problems"]:
                title = f"{f['revision']['label']} does not compile" + (f": {p['path']}" if p["path"] else "")
                out.append(annotation("error", _problem_text(p), file=p["file"], title=title))
    elif fmt == "markdown":
        for f in data["failures"]:
            out += [f"## tenantc review: {f['revision']['label']} does not compile ❌", "",
                    "| file | field | problem |", "|---|---|---|"]
            out += [f"| `{p['file']}` | `{p['path']}` | {_cell(_problem_text(p))} |" for p in f["problems"]]
            out.append("")
        if data["changedFiles"]:
            out.append("Spec files changed: " + ", ".join(f"`{p}`" for p in data["changedFiles"]))
    else:
        for f in data["failures"]:
            out.append(f"error: {f['revision']['label']} does not compile:")
            out += [f"error: {p['file']}: {p['path'] + ': ' if p['path'] else ''}{_problem_text(p)}"
                    for p in f["problems"]]
        if data["changedFiles"]:
            out.append("spec files changed: " + ", ".join(data["changedFiles"]))
        out.append(f"{sum(len(f['problems']) for f in data['failures'])} error(s)")
    return "\n".join(out) + "\n"


def _problem_text(p: dict) -> str:
    return p["message"] + (f" ({p['hint']})" if p["hint"] else "")


# -- text ---------------------------------------------------------------------------------

def _headline(d: dict) -> str:
    s = d["summary"]
    if not d["hasChanges"]:
        return f"{d['base']['label']} -> {d['head']['label']}: no changes to rendered objects"
    return (f"{d['base']['label']} -> {d['head']['label']}: {s['changed']} changed, {s['added']} added, "
            f"{s['removed']} removed in {_n(len(s['tenants']), 'tenant')} on {_n(len(s['clusters']), 'cluster')}; "
            f"{_n(sum(s['risks'].values()), 'risk')}")


def _text(d: dict) -> str:
    out = [f"tenantc review: {_headline(d)}"]
    for (cluster, tenant), changes in _grouped(d["changes"], by_cluster_first=True):
        out += ["", f"{cluster}/{tenant}"]
        for c in changes:
            out.append(f"  {_SIGN[c['change']]} {_ref(c)}")
            out += [f"      {_field_line(f)}" for f in c["fields"]]
    capacity = [row for row in d["capacity"] if row["changed"]]
    if capacity:
        out += ["", "capacity (sum of tenant quotas vs capacity x overcommit):"]
        out += _columns([["cluster", "resource", "before", "after", "capacity x overcommit", "headroom", "used"]]
                        + [_capacity_cells(row) for row in capacity], indent="  ")
    if d["risks"]:
        out += ["", "risks:"]
        out += [f"  {x['severity']}: {x['rule']}: {x['cluster']}/{x['tenant']} {_ref(x)}: {x['reason']}"
                for x in d["risks"]]
    graph = d["datasetGraph"]
    if graph["changed"]:
        out += ["", "datasets shared (who may read whose data):"]
        out += [f"  {_SIGN[e['status']]} {_edge_text(e)}" for e in graph["edges"] if e["status"] != "kept"]
    if d["approvals"]:
        out += ["", "approvals needed:"]
        out += [f"  {a['who']}: {'; '.join(a['reasons'])}" for a in d["approvals"]]
    out += [f"warning: {w}" for w in d["warnings"]]
    return "\n".join(out) + "\n"


def _edge_text(e: dict) -> str:
    """A dataset edge in words: 'vision imports ml-platform/click-logs', 'ml-platform/click-logs
    exported to vision (read-write)', 'ml-platform/imagenet given to every tenant (global, read-only)'."""
    dataset = f"{e['tenant']}/{e['dataset']}"
    write = " (read-write)" if e["write"] else ""
    if e["kind"] == GLOBAL:
        return f"{dataset} given to every tenant (global, read-only)"
    to = "every tenant" if e["to"] == EVERY_TENANT else e["to"]
    if e["kind"] == EXPORT:
        return f"{dataset} exported to {to}{write}"
    alias = f" as {e['as']}" if e["as"] else ""
    return f"{to} imports {dataset}{alias}{write}"


_SIGN = {"added": "+", "removed": "-", "changed": "~"}  # also a dataset edge's status


def _field_line(f: dict) -> str:
    note = f" ({f['note']})" if f["note"] else ""
    if f["op"] == "added":
        return f"+ {f['path']}: {_value(f['new'])}"
    if f["op"] == "removed":
        return f"- {f['path']}: {_value(f['old'])}"
    return f"{f['path']}: {_value(f['old'])} -> {_value(f['new'])}{note}"


def _capacity_cells(row: dict) -> list[str]:
    used = "-" if row["percentAfter"] is None else f"{row['percentAfter']:.1f}%"
    values = (_readable(row[k], row["format"]) for k in ("before", "after", "limitAfter", "headroom"))
    return [row["cluster"], row["resource"], *values, used]


_BINARY_STEPS = [("Ei", Decimal(1024) ** 6), ("Pi", Decimal(1024) ** 5), ("Ti", Decimal(1024) ** 4),
                 ("Gi", Decimal(1024) ** 3), ("Mi", Decimal(1024) ** 2), ("Ki", Decimal(1024))]
_DECIMAL_STEPS = [("E", Decimal(10) ** 18), ("P", Decimal(10) ** 15), ("T", Decimal(10) ** 12),
                  ("G", Decimal(10) ** 9), ("M", Decimal(10) ** 6), ("k", Decimal(10) ** 3)]


def _readable(value: str | None, fmt: str) -> str:
    """The exact quantity (as in JSON) when short; a long one such as 24Ti x 1.2 =
    '31665934879948800m' as '≈28.8Ti' for people, in the unit family the capacity was written in."""
    if value is None:
        return "-"
    if len(value) <= 8:
        return value
    amount = Quantity.parse(value).value
    for suffix, size in _BINARY_STEPS if fmt == FORMAT_BINARY else _DECIMAL_STEPS:
        if abs(amount) >= size:
            return f"≈{amount / size:.1f}{suffix}"
    return f"≈{amount:.1f}"


def _columns(rows: list[list[str]], indent: str = "") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


# -- markdown -----------------------------------------------------------------------------

def _markdown(d: dict) -> str:
    out = ["## tenantc review", "", _headline(d).replace(" -> ", " → ")]
    if not d["hasChanges"]:
        out += ["", "Nothing to review: the rendered objects are identical. ✅"]
        return "\n".join(out + _md_warnings(d)) + "\n"
    # Mermaid pictures, by the position in `out` they go to; left out first when the comment would be too long.
    pictures: dict[int, list[str]] = {}
    out += _md_summary(d) + _md_risks(d)
    out += _md_capacity(d, pictures, len(out))
    out += _md_datasets(d, pictures, len(out))
    if d["approvals"]:
        out += ["", "### Approvals needed", ""]
        out += [f"- **{a['who']}**: {'; '.join(a['reasons'])}" for a in d["approvals"]]
    out += ["", "### Details", ""]
    tail = _md_warnings(d)
    _place_pictures(out, pictures, sum(len(line) + 1 for line in out + tail))
    return "\n".join(out + _md_details(d, MARKDOWN_BUDGET - sum(len(line) + 1 for line in out + tail)) + tail) + "\n"


def _md_summary(d: dict) -> list[str]:
    risks_by = _count_by(d["risks"])
    out = ["", "| tenant | cluster | added | removed | changed | risks |", "|---|---|--:|--:|--:|--:|"]
    for (tenant, cluster), changes in _grouped(d["changes"], by_cluster_first=False):
        n = {k: sum(c["change"] == k for c in changes) for k in ("added", "removed", "changed")}
        out.append(f"| {tenant} | {cluster} | {n['added']} | {n['removed']} | {n['changed']} | "
                   f"{risks_by.get((tenant, cluster), 0)} |")
    return out


def _md_risks(d: dict) -> list[str]:
    if not d["risks"]:
        return []
    return ["", "### Risks", "", "| | rule | where | object | reason |", "|---|---|---|---|---|"] + [
        f"| {'🛑' if x['severity'] == DANGER else '⚠️'} | `{x['rule']}` | {x['cluster']}/{x['tenant']} | "
        f"`{_ref(x)}` | {_cell(x['reason'])} |" for x in d["risks"]]


def _md_capacity(d: dict, pictures: dict[int, list[str]], at: int) -> list[str]:
    """The capacity table; its charts go to `pictures`, to be placed after it if they fit."""
    capacity = [row for row in d["capacity"] if row["changed"]]
    if not capacity:
        return []
    out = ["", "### Capacity", "", "| cluster | resource | before | after | capacity × overcommit | headroom | used |",
           "|---|---|--:|--:|--:|--:|--:|"]
    out += ["| " + " | ".join(_capacity_cells(row)) + " |" for row in capacity]
    pictures[at + len(out)] = [line for chart in capacity_charts(capacity) for line in ("", chart)]
    return out


def _md_datasets(d: dict, pictures: dict[int, list[str]], at: int) -> list[str]:
    """The dataset edges a change adds or removes, in words; the flowchart goes to `pictures`."""
    graph = d["datasetGraph"]
    if not graph["changed"]:
        return []
    out = ["", "### Datasets shared"]
    pictures[at + len(out)] = ["", "Who may read whose data after this change: dotted = exported to, thick = "
                               "imported by; green = new, red dashed = removed.", "", data_flowchart(graph["edges"])]
    return out + [""] + [f"- {'new' if e['status'] == 'added' else 'removed'}: {_edge_text(e)}"
                         for e in graph["edges"] if e["status"] != "kept"]


def _place_pictures(out: list[str], pictures: dict[int, list[str]], used: int) -> None:
    """Put the pictures into `out` when they fit the comment with room to spare, else a note."""
    if not pictures:
        return
    drawn = sum(len(line) + 1 for lines in pictures.values() for line in lines)
    if used + drawn <= MARKDOWN_BUDGET - 400:  # room for the notes
        for at in sorted(pictures, reverse=True):
            out[at:at] = pictures[at]
    else:
        out[min(pictures):min(pictures)] = ["", "_Charts left out to fit a comment._"]


def _md_details(d: dict, room: int) -> list[str]:
    """Each tenant's details, collapsed, while they fit in `room` characters."""
    out: list[str] = []
    budget = room - 200  # room for the note below
    groups = _by_tenant(d["changes"])
    for i, (tenant, changes) in enumerate(groups):
        block = _md_tenant(tenant, changes, d)
        if len(block) > budget:
            out.append(f"_Details of {len(groups) - i} more tenant(s) left out to fit a comment; "
                       "run `tenantc review -o json` for everything._")
            break
        out.append(block)
        budget -= len(block) + 1
    return out


def _md_tenant(tenant: str, changes: list[dict], d: dict) -> str:
    owner = next((a["who"] for a in d["approvals"] if any(r.startswith(f"owner of tenant {tenant} (")
                                                          for r in a["reasons"])), "")
    counts = ", ".join(f"{n} {k}" for k in ("added", "removed", "changed")
                       if (n := sum(c["change"] == k for c in changes)))
    lines = [f"<details><summary><b>{tenant}</b>{f' (owner {owner})' if owner else ''}: {counts}</summary>", ""]
    for cluster in sorted({c["cluster"] for c in changes}):
        lines += [f"**{cluster}**", ""]
        for c in (c for c in changes if c["cluster"] == cluster):
            lines.append(f"- {c['change']} `{_ref(c)}` (`{c['path']}`)")
            lines += [f"  - {_md_field(f)}" for f in c["fields"]]
        lines.append("")
    lines.append("</details>")
    return "\n".join(lines)


def _md_field(f: dict) -> str:
    if f["op"] == "added":
        return f"added `{f['path']}`: `{_code(f['new'])}`"
    if f["op"] == "removed":
        return f"removed `{f['path']}`: `{_code(f['old'])}`"
    note = f" ({f['note']})" if f["note"] else ""
    return f"`{f['path']}`: `{_code(f['old'])}` → `{_code(f['new'])}`{note}"


def _md_warnings(d: dict) -> list[str]:
    return ["", *[f"> warning: {_cell(w)}" for w in d["warnings"]]] if d["warnings"] else []


def _code(value: Any) -> str:
    return _value(value).replace("`", "'")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- GitHub annotations ---------------------------------------------------------------------

def _github(d: dict) -> str:
    out = [annotation("notice", _headline(d), title="tenantc review")]
    for x in d["risks"]:
        level = "error" if x["severity"] == DANGER else "warning"
        out.append(annotation(level, f"{_ref(x)}: {x['reason']} — {RULES[x['rule']]}", file=x["source"],
                              title=f"{x['rule']} ({x['cluster']}/{x['tenant']})"))
    if d["approvals"]:
        who = "; ".join(f"{a['who']} ({', '.join(a['reasons'])})" for a in d["approvals"])
        out.append(annotation("notice", who, title="tenantc review: approvals needed"))
    out += [annotation("warning", w) for w in d["warnings"]]
    return "\n".join(out) + "\n"


# -- shared helpers -------------------------------------------------------------------------

def _ref(item: dict) -> str:
    """'ResourceQuota vision/tenant-quota' of a change or risk row (ObjectRef.short; the group is not shown)."""
    return ObjectRef("", item["kind"], item["namespace"], item["name"]).short


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _grouped(changes: list[dict], by_cluster_first: bool) -> list[tuple[tuple[str, str], list[dict]]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for c in changes:
        key = (c["cluster"], c["tenant"]) if by_cluster_first else (c["tenant"], c["cluster"])
        groups.setdefault(key, []).append(c)
    return sorted(groups.items())


def _by_tenant(changes: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for c in changes:
        groups.setdefault(c["tenant"], []).append(c)
    return sorted(groups.items())


def _count_by(risks: list[dict]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for x in risks:
        out[(x["tenant"], x["cluster"])] = out.get((x["tenant"], x["cluster"]), 0) + 1
    return out
