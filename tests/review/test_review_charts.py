"""The pictures in the markdown review, read back with a structural Mermaid parser.

Capacity: one `xychart-beta` per changed resource; its categories are each cluster's before
and after, its series are as long as the categories, and its numbers are the capacity numbers
the review computes (`to_json`), in the unit its y-axis names. Datasets: the `flowchart`'s
edges are exactly the exports, imports and global datasets of the specs, read here from the
spec files themselves, with what the change added or removed coloured.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import rjsonnet
import yaml

from compiler.quantity import Quantity
from compiler.review.charts import capacity_charts, number, unit_for
from compiler.review.report import render, to_json

UNITS = {"": Decimal(1), "cores": Decimal(1), "bytes": Decimal(1),
         **{s: Decimal(1024) ** p for s, p in (("Ki", 1), ("Mi", 2), ("Gi", 3), ("Ti", 4), ("Pi", 5), ("Ei", 6))},
         **{s: Decimal(10) ** p for s, p in (("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18))}}


# -- a structural parser of the two Mermaid diagram types the review writes -----------------------

@dataclass
class XYChart:
    title: str
    x_axis: list[str]
    y_title: str
    y_range: tuple[Decimal, Decimal]
    bars: list[list[Decimal]] = field(default_factory=list)
    lines: list[list[Decimal]] = field(default_factory=list)
    palette: list[str] = field(default_factory=list)


@dataclass
class Flowchart:
    direction: str
    nodes: dict[str, tuple[str, str]]  # id -> (shape, label)
    edges: list[tuple[str, str, str, str]]  # (source id, arrow, label, target id)
    link_styles: dict[int, str]


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)


def _numbers(text: str) -> list[Decimal]:
    inner = re.fullmatch(r"\[(.*)\]", text.strip())
    assert inner, text
    return [Decimal(v.strip()) for v in inner[1].split(",")]


def parse_xychart(block: str) -> XYChart:
    lines = [line.strip() for line in block.strip().splitlines()]
    palette: list[str] = []
    if lines[0].startswith("%%{init:"):
        config = json.loads(lines.pop(0)[len("%%{init:"):-len("}%%")])
        palette = [c.strip() for c in config["themeVariables"]["xyChart"]["plotColorPalette"].split(",")]
    assert lines[0] == "xychart-beta", lines[0]
    title = x_axis = y_title = y_range = None
    bars: list[list[Decimal]] = []
    plots: list[list[Decimal]] = []
    for line in lines[1:]:
        keyword, _, rest = line.partition(" ")
        if keyword == "title":
            title = json.loads(rest)
        elif keyword == "x-axis":
            x_axis = [json.loads(v.strip()) for v in re.fullmatch(r"\[(.*)\]", rest)[1].split(",")]
        elif keyword == "y-axis":
            match = re.fullmatch(r'"([^"]*)" (\S+) --> (\S+)', rest)
            assert match, line
            y_title, y_range = match[1], (Decimal(match[2]), Decimal(match[3]))
        elif keyword == "bar":
            bars.append(_numbers(rest))
        elif keyword == "line":
            plots.append(_numbers(rest))
        else:
            raise AssertionError(f"unknown xychart statement: {line}")
    assert title and x_axis and y_title is not None and y_range
    return XYChart(title, x_axis, y_title, y_range, bars, plots, palette)


_NODE = re.compile(r'^(\w+)(\[\("|\(\["|\[")(.*?)("\)\]|"\]\)|"\])$')
_EDGE = re.compile(r'^(\w+) (-\.->|==>|-->)\|"(.*?)"\| (\w+)$')
_STYLE = re.compile(r"^linkStyle (\d+) (.+)$")


def parse_flowchart(block: str) -> Flowchart:
    lines = [line.strip() for line in block.strip().splitlines()]
    header = lines[0].split()
    assert header[0] == "flowchart" and header[1] in ("LR", "TD", "TB", "RL", "BT")
    chart = Flowchart(header[1], {}, [], {})
    shapes = {'[("': "cylinder", '(["': "stadium", '["': "box"}
    for line in lines[1:]:
        if node := _NODE.match(line):
            assert node[1] not in chart.nodes, f"node {node[1]} defined twice"
            chart.nodes[node[1]] = (shapes[node[2]], node[3])
        elif edge := _EDGE.match(line):
            chart.edges.append((edge[1], edge[2], edge[3], edge[4]))
        elif style := _STYLE.match(line):
            chart.link_styles[int(style[1])] = style[2]
        else:
            raise AssertionError(f"unknown flowchart statement: {line}")
    for source, _, _, target in chart.edges:
        assert source in chart.nodes and target in chart.nodes, "every edge joins defined nodes"
    assert all(i < len(chart.edges) for i in chart.link_styles), "linkStyle of an edge that does not exist"
    return chart


def charts_of(markdown: str) -> tuple[list[XYChart], list[Flowchart]]:
    blocks = mermaid_blocks(markdown)
    xy = [parse_xychart(b) for b in blocks if "xychart-beta" in b]
    flows = [parse_flowchart(b) for b in blocks if b.lstrip().startswith("flowchart")]
    assert len(xy) + len(flows) == len(blocks)
    return xy, flows


# -- the oracle for the dataset graph: the spec files themselves --------------------------------------

def spec_edges(root: Path) -> set[tuple[str, str, str, str, bool, str]]:
    """(owner, dataset, to, kind, write, alias) of every export, import and global dataset."""
    out = set()
    for path in sorted((root / "tenants").iterdir()):
        if path.suffix == ".jsonnet":
            data = json.loads(rjsonnet.evaluate_file(str(path)))
        elif path.suffix == ".yaml":
            data = yaml.safe_load(path.read_text())
        else:
            continue
        if path.name == "platform.yaml":
            out |= {(g["tenant"], g["dataset"], "*", "global", False, "") for g in data.get("globalDatasets", [])}
            continue
        for ds in data.get("datasets", []):
            out |= {(data["name"], ds["name"], e["tenant"], "export", e.get("write", False), "")
                    for e in ds.get("exportTo", [])}
        for imp in data.get("imports", []):
            alias = imp.get("name", "") if imp.get("name", imp["dataset"]) != imp["dataset"] else ""
            out.add((imp["tenant"], imp["dataset"], data["name"], "import", imp.get("write", False), alias))
    return out


def flowchart_edges(chart: Flowchart) -> dict[str, set[tuple[str, str, str, str, bool, str]]]:
    """The chart's edges by status (kept, added, removed), decoded from shapes, arrows and labels."""
    out: dict[str, set] = {"kept": set(), "added": set(), "removed": set()}
    for index, (source, arrow, label, target) in enumerate(chart.edges):
        shape, dataset = chart.nodes[source]
        assert shape == "cylinder"
        owner, name = dataset.split("/")
        to_shape, to = chart.nodes[target]
        assert to_shape == "stadium"
        to = "*" if to == "every tenant" else to
        status = "kept"
        for prefix, st in (("new: ", "added"), ("removed: ", "removed")):
            if label.startswith(prefix):
                status, label = st, label[len(prefix):]
        style = chart.link_styles.get(index, "")
        assert ("#1a7f37" in style) == (status == "added") and ("dasharray" in style) == (status == "removed")
        write = label.endswith(" (read-write)")
        label = label.removesuffix(" (read-write)")
        if label.startswith("imported"):
            assert arrow == "==>"
            alias = re.fullmatch(r"imported(?: as (.+))? by", label)[1] or ""
            out[status].add((owner, name, to, "import", write, alias))
        else:
            assert arrow == "-.->" and label in ("exported to", "global (read-only)")
            out[status].add((owner, name, to, "export" if label == "exported to" else "global", write, ""))
    return out


# -- the tests ----------------------------------------------------------------------------------

def _check_capacity_chart(chart: XYChart, rows: list[dict]) -> None:
    clusters = [r["cluster"] for r in rows]
    assert chart.x_axis == [f"{c} {when}" for c in clusters for when in ("before", "after")]
    assert len(chart.bars) == 2 and all(len(s) == len(chart.x_axis) for s in chart.bars + chart.lines)
    match = re.fullmatch(r"(.+?)(?: \((.+)\))?", chart.y_title)
    resource, unit = match[1], match[2] or ""
    assert {r["resource"] for r in rows} == {resource}
    size = UNITS[unit]

    def expect(text: str | None) -> Decimal:
        return Quantity.parse(text).value / size if text is not None else Decimal(0)

    before, after = chart.bars
    for i, row in enumerate(rows):
        assert abs(before[2 * i] - expect(row["before"])) <= Decimal("0.005") and before[2 * i + 1] == 0
        assert abs(after[2 * i + 1] - expect(row["after"])) <= Decimal("0.005") and after[2 * i] == 0
        if chart.lines:
            [limit] = chart.lines
            assert abs(limit[2 * i] - expect(row["limitBefore"])) <= Decimal("0.005")
            assert abs(limit[2 * i + 1] - expect(row["limitAfter"])) <= Decimal("0.005")
    largest = max(v for series in chart.bars + chart.lines for v in series)
    assert chart.y_range[0] == 0 and chart.y_range[1] >= largest
    assert chart.palette == ["#8c959f", "#0969da", "#cf222e"] and "before (grey), after (blue)" in chart.title


def test_capacity_charts_hold_the_reviews_numbers(mixed):
    data = to_json(mixed)
    xy, _ = charts_of(render(mixed, "markdown"))
    changed = [row for row in data["capacity"] if row["changed"]]
    resources = sorted({row["resource"] for row in changed})
    assert [re.match(r"\S+", c.y_title)[0] for c in xy] == resources  # one chart per changed resource
    for chart, resource in zip(xy, resources, strict=True):
        _check_capacity_chart(chart, [row for row in changed if row["resource"] == resource])
    cpu = xy[resources.index("cpu")]
    assert cpu.bars == [[1712, 0, 1076, 0], [0, 1696, 0, 820]] and cpu.lines == [[8192, 8192, 3072, 3072]]


def test_dataset_flowchart_edges_are_the_specs_exports_and_imports(mixed, spec_repo):
    base_root = spec_repo.root.parent / "base-checkout"
    spec_repo.git("worktree", "add", "-q", "--detach", str(base_root), "main")
    before, after = spec_edges(base_root), spec_edges(spec_repo.root)
    _, [flow] = charts_of(render(mixed, "markdown"))
    drawn = flowchart_edges(flow)
    assert drawn["added"] == after - before and drawn["removed"] == before - after
    assert drawn["kept"] | drawn["added"] == after
    assert drawn["added"] == {("ml-platform", "click-logs", "vision", "export", False, ""),
                              ("ml-platform", "click-logs", "vision", "import", False, "")}
    assert ("quant-research", "market-data", "recsys", "import", False, "market-signals") in drawn["kept"]
    graph = to_json(mixed)["datasetGraph"]
    assert graph["changed"] is True and len(graph["edges"]) == len(flow.edges)


def test_removed_and_writable_edges(spec_repo, run_review):
    """An import dropped and an export made writable: old edges red and dashed, new ones green."""
    market_signals = "  - {tenant: quant-research, dataset: market-data, name: market-signals}\n"
    spec_repo.replace("tenants/recsys.yaml", market_signals, "")
    spec_repo.replace("tenants/ml-platform.yaml", "exportTo: [{tenant: recsys}, {tenant: ads-ranking}]",
                      "readOnly: false\n    exportTo: [{tenant: recsys}, {tenant: ads-ranking, write: true}]")
    result = run_review()
    text = render(result, "markdown")
    _, [flow] = charts_of(text)
    drawn = flowchart_edges(flow)
    assert drawn["removed"] == {("quant-research", "market-data", "recsys", "import", False, "market-signals"),
                                ("ml-platform", "click-logs", "ads-ranking", "export", False, "")}
    assert drawn["added"] == {("ml-platform", "click-logs", "ads-ranking", "export", True, "")}
    assert drawn["kept"] | drawn["added"] == spec_edges(spec_repo.root)
    assert "- removed: recsys imports quant-research/market-data as market-signals" in text
    assert "  + ml-platform/click-logs exported to ads-ranking (read-write)" in render(result, "text")


def test_no_pictures_without_changes_to_draw(spec_repo, run_review):
    spec_repo.replace("tenants/ads-ranking.yaml", "cidr: 10.60.8.0/24", "cidr: 10.60.0.0/16")
    text = render(run_review(), "markdown")
    assert "### Capacity" not in text and "### Datasets shared" not in text and "```mermaid" not in text


def test_text_keeps_a_compact_capacity_table(mixed):
    text = render(mixed, "text")
    assert "```" not in text and "xychart" not in text
    table = text[text.index("capacity (sum of tenant quotas"):].split("\n\n")[0].splitlines()
    assert table[1].split() == ["cluster", "resource", "before", "after", "capacity", "x", "overcommit",
                                "headroom", "used"]
    assert table[-1].split() == ["gpu-east", "cpu", "1076", "820", "3072", "2252", "26.7%"]


def test_chart_of_a_new_cluster_and_a_resource_without_declared_capacity():
    rows = [
        {"cluster": "new-east", "resource": "memory", "before": None, "after": "1536Gi", "limitBefore": None,
         "limitAfter": "4Ti", "changed": True, "format": "BinarySI"},
        {"cluster": "old-west", "resource": "memory", "before": "512Gi", "after": "0", "limitBefore": "2Ti",
         "limitAfter": "2Ti", "changed": True, "format": "BinarySI"},
        {"cluster": "old-west", "resource": "example.com/fpga", "before": "2", "after": "3", "limitBefore": None,
         "limitAfter": None, "changed": True, "format": "DecimalSI"},
        {"cluster": "old-west", "resource": "cpu", "before": "8", "after": "8", "limitBefore": "16",
         "limitAfter": "16", "changed": False, "format": "DecimalSI"},
    ]
    charts = [parse_xychart(b) for b in mermaid_blocks("\n".join(capacity_charts(rows)))]
    assert [c.y_title for c in charts] == ["example.com/fpga", "memory (Ti)"]  # unchanged cpu: no chart
    fpga, memory = charts
    assert fpga.lines == [] and "limit" not in fpga.title  # nothing declared: no limit line
    _check_capacity_chart(fpga, rows[2:3])
    _check_capacity_chart(memory, rows[:2])
    assert memory.bars == [[0, 0, Decimal("0.5"), 0], [0, Decimal("1.5"), 0, 0]]
    assert memory.lines == [[0, 4, 2, 2]]


@pytest.mark.parametrize("value,text", [(Decimal("6.5625"), "6.56"), (Decimal("3072"), "3072"),
                                        (Decimal("0.005"), "0.01"), (Decimal("28.8000"), "28.8"), (Decimal(0), "0")])
def test_chart_numbers(value, text):
    assert number(value) == text


def test_chart_units():
    assert unit_for("memory", "BinarySI", Decimal(1024) ** 4 * 3) == ("Ti", Decimal(1024) ** 4)
    assert unit_for("memory", "BinarySI", Decimal(100)) == ("bytes", Decimal(1))
    assert unit_for("cpu", "DecimalSI", Decimal(8192)) == ("cores", Decimal(1))
    assert unit_for("pods", "DecimalSI", Decimal(30000)) == ("", Decimal(1))
    assert unit_for("requests.example.com/x", "DecimalSI", Decimal(5 * 10 ** 9)) == ("G", Decimal(10) ** 9)
