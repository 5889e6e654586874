"""Pictures for the markdown review: Mermaid blocks GitHub renders in a pull request comment.

* Capacity: one `xychart-beta` per resource that changes, with a pair of bars per cluster
  (before in grey, after in blue) and the platform's limit (capacity x overcommit) as a red
  line. Mermaid draws several bar series on top of each other, not side by side, so each
  cluster gets two categories ("<cluster> before", "<cluster> after") and each bar series is
  zero in the other's categories: the colours tell before from after, nothing hides anything.
* Datasets: a `flowchart` of who may read whose data (exports dotted, imports thick, global
  datasets to "every tenant"), drawn when a change alters it; new edges green, removed ones red
  and dashed.

Both are built from the review's JSON rows (`compiler.review.report.to_json`), like every
other format, so the numbers are the ones the table and `-o json` show.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from compiler.quantity import FORMAT_BINARY, Quantity
from compiler.review.datagraph import EVERY_TENANT, IMPORT

BEFORE_COLOR, AFTER_COLOR, LIMIT_COLOR = "#8c959f", "#0969da", "#cf222e"
ADDED_COLOR, REMOVED_COLOR = "#1a7f37", "#cf222e"
_BINARY = [("Ei", 6), ("Pi", 5), ("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)]
_DECIMAL = [("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6)]
# Series colours in plot order (before bars, after bars, limit line); Mermaid has no legend.
_INIT = "%%{init: " + json.dumps(
    {"themeVariables": {"xyChart": {"plotColorPalette": f"{BEFORE_COLOR}, {AFTER_COLOR}, {LIMIT_COLOR}"}}}) + "}%%"


def unit_for(resource: str, fmt: str, largest: Decimal) -> tuple[str, Decimal]:
    """The unit a chart of `resource` is drawn in and its size: the largest binary unit (Ti, Gi,
    ...) for byte amounts, cores for cpu, else a plain count ('', or M, G, ... once in the millions)."""
    if fmt == FORMAT_BINARY:
        for suffix, power in _BINARY:
            if largest >= Decimal(1024) ** power:
                return suffix, Decimal(1024) ** power
        return "bytes", Decimal(1)
    for suffix, power in _DECIMAL:
        if largest >= Decimal(10) ** power:
            return suffix, Decimal(10) ** power
    return ("cores" if resource == "cpu" else ""), Decimal(1)


def number(value: Decimal) -> str:
    """A chart value: at most two decimals, no exponent, no trailing zeros."""
    text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _amount(text: str | None) -> Decimal:
    """A JSON quantity as a number; absent (a cluster not in that revision, no capacity) is 0."""
    return Quantity.parse(text).value if text is not None else Decimal(0)


def _axis_top(largest: Decimal) -> Decimal:
    """A round top for the y-axis a little above the largest value: 1, 2 or 5 times a power of ten."""
    target = largest * Decimal("1.1")
    if target <= 0:
        return Decimal(1)
    power = Decimal(10) ** (target.adjusted())
    for step in (1, 2, 5, 10):
        if power * step >= target:
            return power * step
    return power * 10  # pragma: no cover - the loop always returns


def capacity_charts(rows: list[dict[str, Any]]) -> list[str]:
    """One Mermaid block per resource among the changed capacity rows (JSON `capacity` rows)."""
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["changed"]:
            by_resource.setdefault(row["resource"], []).append(row)
    return [_capacity_chart(resource, sorted(group, key=lambda r: r["cluster"]))
            for resource, group in sorted(by_resource.items())]


def _capacity_chart(resource: str, rows: list[dict[str, Any]]) -> str:
    amounts = [(_amount(r["before"]), _amount(r["after"]), _amount(r["limitBefore"]), _amount(r["limitAfter"]))
               for r in rows]
    largest = max(max(a) for a in amounts)
    unit, size = unit_for(resource, rows[0]["format"], largest)
    has_limit = any(r["limitBefore"] is not None or r["limitAfter"] is not None for r in rows)
    labels, before, after, limit = [], [], [], []
    for row, (b, a, lb, la) in zip(rows, amounts, strict=True):
        labels += [f'"{row["cluster"]} before"', f'"{row["cluster"]} after"']
        before += [number(b / size), "0"]
        after += ["0", number(a / size)]
        limit += [number(lb / size), number(la / size)]
    legend = "before (grey), after (blue)" + (", limit (red)" if has_limit else "")
    lines = ["```mermaid", _INIT, "xychart-beta",
             f'  title "{resource}{f" in {unit}" if unit else ""}: {legend}"',
             f"  x-axis [{', '.join(labels)}]",
             f'  y-axis "{resource}{f" ({unit})" if unit else ""}" 0 --> {number(_axis_top(largest / size))}',
             f"  bar [{', '.join(before)}]",
             f"  bar [{', '.join(after)}]"]
    if has_limit:
        lines.append(f"  line [{', '.join(limit)}]")
    return "\n".join(lines + ["```"])


def data_flowchart(edges: list[dict[str, Any]]) -> str:
    """A Mermaid flowchart of the dataset graph (JSON `datasetGraph.edges`), changes coloured."""
    datasets = sorted({(e["tenant"], e["dataset"]) for e in edges})
    tenants = sorted({e["to"] for e in edges if e["to"] != EVERY_TENANT})
    dataset_ids = {d: f"d{i}" for i, d in enumerate(datasets)}
    tenant_ids = {t: f"t{i}" for i, t in enumerate(tenants)} | {EVERY_TENANT: "every"}
    lines = ["```mermaid", "flowchart LR"]
    lines += [f'  d{i}[("{owner}/{name}")]' for i, (owner, name) in enumerate(datasets)]
    lines += [f'  t{i}(["{name}"])' for i, name in enumerate(tenants)]
    if any(e["to"] == EVERY_TENANT for e in edges):
        lines.append('  every(["every tenant"])')
    styles = []
    for index, e in enumerate(edges):
        arrow = "==>" if e["kind"] == IMPORT else "-.->"
        source, target = dataset_ids[(e["tenant"], e["dataset"])], tenant_ids[e["to"]]
        lines.append(f'  {source} {arrow}|"{edge_label(e)}"| {target}')
        if e["status"] == "added":
            styles.append(f"  linkStyle {index} stroke:{ADDED_COLOR},stroke-width:3px")
        elif e["status"] == "removed":
            styles.append(f"  linkStyle {index} stroke:{REMOVED_COLOR},stroke-width:2px,stroke-dasharray:6 4")
    return "\n".join(lines + styles + ["```"])


def edge_label(edge: dict[str, Any]) -> str:
    """What an edge (dataset -> tenant) means: 'exported to', 'imported as market-signals by',
    'global (read-only)'; 'new: ' or 'removed: ' first when the change adds or removes it."""
    if edge["kind"] == IMPORT:
        text = f"imported as {edge['as']} by" if edge["as"] else "imported by"
    elif edge["kind"] == "export":
        text = "exported to"
    else:
        text = "global (read-only)"
    if edge["write"]:
        text += " (read-write)"
    return {"added": "new: ", "removed": "removed: "}.get(edge["status"], "") + text
