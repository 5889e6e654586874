"""Reports of diff, apply and status: text (coloured on a terminal), JSON, Markdown, GitHub.

Only masked views reach this module's output: a Change's before/after have Secret values
replaced (compiler.redact), and desired objects are shown by identity only. The JSON
shapes are a stable interface for scripts (`apiVersion: tenantc.io/v1`); add fields, never
rename them.
"""
from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Callable
from typing import TextIO

from compiler.kinds import REPORT_API_VERSION
from compiler.live.apply import ApplyReport, Outcome
from compiler.live.changeset import ADD, Change, ClusterChangeSet, object_label
from compiler.live.prune import tenant_of
from compiler.live.wait import WaitResult
from compiler.load import yaml_io
from compiler.output.github import annotation
from compiler.pipeline import RENDERED_DIR

RED, GREEN, CYAN, YELLOW, BOLD, RESET = "\033[31m", "\033[32m", "\033[36m", "\033[33m", "\033[1m", "\033[0m"


def ident(obj: dict) -> dict:
    """An object's Id in the JSON reports (with its apiVersion, unlike ObjectRef)."""
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": meta.get("namespace", ""),
            "name": meta["name"]}


def unified(change: Change) -> str:
    """Unified diff of YAML between live and the server's dry-run result (masked)."""
    before = yaml_io.dump(change.before).splitlines(keepends=True) if change.before else []
    after = yaml_io.dump(change.after).splitlines(keepends=True) if change.after else []
    label = object_label(change.desired)
    return "".join(difflib.unified_diff(before, after, fromfile=f"live: {label}",
                                        tofile=f"{RENDERED_DIR}/{change.path}"))


def _paint(text: str, color: bool) -> str:
    if not color:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            out.append(BOLD + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("+"):
            out.append(GREEN + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("-"):
            out.append(RED + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("@@"):
            out.append(CYAN + line.rstrip("\n") + RESET + "\n")
        else:
            out.append(line)
    return "".join(out)


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line for line in text.splitlines(keepends=True))


# -- diff -------------------------------------------------------------------------------
def _by_tenant(change_set: ClusterChangeSet) -> dict[str, dict[str, list]]:
    tenants: dict[str, dict[str, list]] = defaultdict(lambda: {"added": [], "changed": [], "wouldPrune": [],
                                                               "kept": []})
    for change in change_set.changes:
        tenants[change.tenant]["added" if change.action == ADD else "changed"].append(change)
    for obj in change_set.prune.delete:
        tenants[tenant_of(obj)]["wouldPrune"].append(obj)
    for obj, reason in change_set.prune.kept:
        tenants[tenant_of(obj)]["kept"].append((obj, reason))
    return dict(sorted(tenants.items()))


def _change_json(change: Change) -> dict:
    return {**ident(change.desired), "path": f"{RENDERED_DIR}/{change.path}", "diff": unified(change),
            "drift": [{"field": d.field, "managers": list(d.managers)} for d in change.drift],
            "ownershipOnly": change.ownership_only, "note": change.note,
            "error": change.error.message if change.error else ""}


def diff_summary(change_sets: list[ClusterChangeSet]) -> dict:
    return {
        "added": sum(c.action == ADD for s in change_sets for c in s.changes),
        "changed": sum(c.action != ADD for s in change_sets for c in s.changes),
        "wouldPrune": sum(len(s.prune.delete) for s in change_sets),
        "unchanged": sum(s.unchanged for s in change_sets),
        "errors": sum(len(s.errors) for s in change_sets),
        "differences": any(s.differences for s in change_sets),
        "requests": sum(s.requests.get("reads", 0) + s.requests.get("dryRuns", 0) + s.requests.get("writes", 0)
                        for s in change_sets),
    }


def diff_json(change_sets: list[ClusterChangeSet]) -> dict:
    clusters = []
    for change_set in change_sets:
        tenants = []
        for tenant, groups in _by_tenant(change_set).items():
            tenants.append({
                "tenant": tenant,
                "added": [_change_json(c) for c in groups["added"]],
                "changed": [_change_json(c) for c in groups["changed"]],
                "wouldPrune": [ident(o) for o in groups["wouldPrune"]],
                "kept": [{**ident(o), "reason": r} for o, r in groups["kept"]],
            })
        target = change_set.target
        clusters.append({"cluster": target.cluster, "context": target.context, "server": change_set.server,
                         "note": target.note, "unchanged": change_set.unchanged, "tenants": tenants,
                         "pruneRefused": change_set.prune.refused, "ownedObjects": change_set.prune.owned,
                         "errors": change_set.errors, "requests": change_set.requests})
    return {"apiVersion": REPORT_API_VERSION, "kind": "DiffReport", "clusters": clusters,
            "summary": diff_summary(change_sets)}


def _summary_line(summary: dict, clusters: int) -> str:
    return (f"summary: {summary['added']} to add, {summary['changed']} to change, {summary['wouldPrune']} to prune, "
            f"{summary['unchanged']} unchanged on {clusters} cluster(s); {summary['requests']} request(s)"
            + (f"; {summary['errors']} error(s)" if summary["errors"] else ""))


def print_diff(change_sets: list[ClusterChangeSet], fmt: str, out: TextIO, color: bool = False) -> None:
    """Write the diff report in `fmt`: text (coloured when `color`), json, markdown or github."""
    if fmt == "json":
        json.dump(diff_json(change_sets), out, indent=2)
        out.write("\n")
    elif fmt == "markdown":
        _diff_markdown(change_sets, out)
    elif fmt == "github":
        _diff_github(change_sets, out)
    else:
        _diff_text(change_sets, out, color)


def _styles(color: bool) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(bold, warn): ANSI styles on a terminal, identity elsewhere."""
    if not color:
        return (lambda s: s), (lambda s: s)
    return (lambda s: BOLD + s + RESET), (lambda s: YELLOW + s + RESET)


def _diff_text(change_sets: list[ClusterChangeSet], out: TextIO, color: bool) -> None:
    bold, warn = _styles(color)
    for change_set in change_sets:
        target = change_set.target
        out.write(bold(f"cluster {target.cluster}") + f" (context {target.context}, {change_set.server})\n")
        if target.note:
            out.write(warn(f"  note: {target.note}") + "\n")
        for error in change_set.errors:
            out.write(f"  error: {error}\n")
        if not change_set.changes and not change_set.prune.delete and not change_set.prune.kept:
            out.write(f"  no differences ({change_set.unchanged} objects unchanged)\n")
        for tenant, groups in _by_tenant(change_set).items():
            _tenant_text(tenant, groups, out, color)
        if change_set.prune.refused:
            out.write(warn(f"  prune: {change_set.prune.refused}") + "\n")
        if retries := retries_text(change_set.requests):
            out.write(f"  {retries}\n")
    out.write(_summary_line(diff_summary(change_sets), len(change_sets)) + "\n")


def retries_text(requests: dict) -> str:
    """'retries: 9 after HTTP 429, waited 10.0 s; requests in flight lowered to 1', or ''."""
    retried = requests.get("retried") or {}
    if not retried:
        return ""
    causes = ", ".join(f"{n} after {'HTTP ' + c if c.isdigit() else c}" for c, n in sorted(retried.items()))
    text = f"retries: {causes}, waited {requests.get('waitedSeconds', 0):.1f} s"
    if requests.get("lowestConcurrency") is not None:
        text += f"; requests in flight lowered to {requests['lowestConcurrency']} (the server throttles)"
    return text


def _tenant_text(tenant: str, groups: dict[str, list], out: TextIO, color: bool) -> None:
    _, warn = _styles(color)
    counts = ", ".join(f"{len(groups[k])} {w}" for k, w in
                       (("added", "to add"), ("changed", "to change"), ("wouldPrune", "to prune")) if groups[k])
    out.write(f"  tenant {tenant}: {counts or 'nothing to do'}\n")
    for change in groups["added"] + groups["changed"]:
        sign = "+" if change.action == ADD else "~"
        out.write(f"    {sign} {object_label(change.desired)}" + (f"  ({change.note})" if change.note else "") + "\n")
        for drift in change.drift:
            out.write(warn(f"        drift: {drift.field} was changed by {', '.join(drift.managers)}") + "\n")
        if change.error is not None:
            out.write(f"        refused by the server: {change.error.message}\n")
        out.write(_indent(_paint(unified(change), color), "      "))
    for obj in groups["wouldPrune"]:
        out.write(f"    - {object_label(obj)}  (live, no longer in {RENDERED_DIR}/: would prune)\n")
    for obj, reason in groups["kept"]:
        out.write(f"    = {object_label(obj)}  (no longer in {RENDERED_DIR}/, kept: {reason})\n")


def _diff_markdown(change_sets: list[ClusterChangeSet], out: TextIO) -> None:
    summary = diff_summary(change_sets)
    out.write(f"### tenantc diff: {summary['added']} to add, {summary['changed']} to change, "
              f"{summary['wouldPrune']} to prune\n\n")
    for change_set in change_sets:
        out.write(f"#### cluster `{change_set.target.cluster}` (context `{change_set.target.context}`)\n\n")
        if change_set.target.note:
            out.write(f"> {change_set.target.note}\n\n")
        for error in change_set.errors:
            out.write(f"- :x: {error}\n")
        tenants = _by_tenant(change_set)
        if not tenants:
            out.write(f"No differences ({change_set.unchanged} objects unchanged).\n\n")
            continue
        out.write("| tenant | to add | to change | to prune |\n|---|---:|---:|---:|\n")
        for tenant, groups in tenants.items():
            counts = " | ".join(str(len(groups[k])) for k in ("added", "changed", "wouldPrune"))
            out.write(f"| {tenant} | {counts} |\n")
        out.write("\n")
        for tenant, groups in tenants.items():
            _tenant_markdown(tenant, groups, out)
        if change_set.prune.refused:
            out.write(f"\n> :warning: {change_set.prune.refused}\n")
        out.write("\n")


def _tenant_markdown(tenant: str, groups: dict[str, list], out: TextIO) -> None:
    for change in groups["added"] + groups["changed"]:
        verb = "add" if change.action == ADD else "change"
        out.write(f"<details><summary>{tenant}: {verb} <code>{object_label(change.desired)}</code></summary>\n\n")
        for drift in change.drift:
            out.write(f"- drift: `{drift.field}` was changed by {', '.join(drift.managers)}\n")
        out.write(f"\n```diff\n{unified(change)}```\n</details>\n\n")
    for obj in groups["wouldPrune"]:
        out.write(f"- {tenant}: prune `{object_label(obj)}`\n")


def _diff_github(change_sets: list[ClusterChangeSet], out: TextIO) -> None:
    for change_set in change_sets:
        where = f"cluster {change_set.target.cluster}"
        lines = []
        if change_set.target.note:
            lines.append(annotation("notice", change_set.target.note, title=where))
        lines += [annotation("error", error, title=where) for error in change_set.errors]
        for change in change_set.changes:
            verb = "will be created" if change.action == ADD else "will change"
            file = f"{RENDERED_DIR}/{change.path}"
            lines.append(annotation("notice", f"{object_label(change.desired)} {verb}", file=file, title=where))
            lines += [annotation("warning", f"{d.field} was changed live by {', '.join(d.managers)}", file=file,
                                 title=f"{where} drift") for d in change.drift]
        lines += [annotation("warning", f"{object_label(obj)} is live but no longer rendered", title=f"{where} prune")
                  for obj in change_set.prune.delete]
        if change_set.prune.refused:
            lines.append(annotation("error", change_set.prune.refused, title=f"{where} prune"))
        out.writelines(line + "\n" for line in lines)
    out.write(_summary_line(diff_summary(change_sets), len(change_sets)) + "\n")


# -- apply ------------------------------------------------------------------------------
def _outcome_json(outcome: Outcome) -> dict:
    return {**ident(outcome.obj), "tenant": outcome.tenant,
            "path": f"{RENDERED_DIR}/{outcome.path}" if outcome.path else "",
            "result": outcome.result, "message": outcome.message}


def apply_json(reports: list[ApplyReport], dry_run: bool) -> dict:
    clusters = []
    for report in reports:
        change_set = report.change_set
        waited = report.waited
        clusters.append({
            "cluster": change_set.target.cluster, "context": change_set.target.context, "server": change_set.server,
            "note": change_set.target.note, "unchanged": change_set.unchanged,
            "objects": [_outcome_json(o) for o in report.applied],
            "pruned": [_outcome_json(o) for o in report.pruned],
            "pruneRefused": report.prune_refused,
            "wait": None if waited is None else {
                "ready": waited.ready, "withoutCondition": waited.without_condition,
                "seconds": round(waited.seconds, 1), "timeout": waited.timeout,
                "pending": [{"object": o, "waitingFor": s} for o, s in waited.pending]},
            "errors": change_set.errors, "requests": report.requests, "ok": report.ok})
    outcomes = [o for r in reports for o in r.applied]
    return {"apiVersion": REPORT_API_VERSION, "kind": "ApplyReport", "dryRun": dry_run, "clusters": clusters,
            "summary": {"applied": sum(not o.failed for o in outcomes), "failed": sum(o.failed for o in outcomes),
                        "pruned": sum(not o.failed for r in reports for o in r.pruned),
                        "unchanged": sum(r.change_set.unchanged for r in reports),
                        "writes": sum(r.requests.get("writes", 0) for r in reports),
                        "ok": all(r.ok for r in reports)}}


def print_apply(reports: list[ApplyReport], fmt: str, out: TextIO, dry_run: bool) -> None:
    """Write the apply report in `fmt`: text (a summary per cluster, then what failed) or json."""
    if fmt == "json":
        json.dump(apply_json(reports, dry_run), out, indent=2)
        out.write("\n")
        return
    for report in reports:
        change_set = report.change_set
        if change_set.target.note:
            out.write(f"note: {change_set.target.note}\n")
        results: dict[str, int] = defaultdict(int)
        for outcome in report.applied:
            results[outcome.result] += 1
        done = ", ".join(f"{n} {r}" for r, n in sorted(results.items())) or "nothing to apply"
        pruned = len([o for o in report.pruned if not o.failed])
        out.write(f"cluster {change_set.target.cluster}: {done}; {change_set.unchanged} unchanged"
                  + (f"; {pruned} {'to prune' if dry_run else 'pruned'}" if report.pruned else "")
                  + f" ({report.requests.get('writes', 0)} write request(s))\n")
        for error in change_set.errors:
            out.write(f"  error: {error}\n")
        for outcome in report.applied + report.pruned:
            if outcome.failed:
                out.write(f"  {outcome.result}: {outcome.label}: {outcome.message}\n")
        if report.prune_refused:
            out.write(f"  prune: {report.prune_refused}\n")
        if retries := retries_text(report.requests):
            out.write(f"  {retries}\n")
        if report.waited is not None:
            _wait_text(report.waited, out)


def _wait_text(waited: WaitResult, out: TextIO) -> None:
    if waited.timed_out:
        out.write(f"  timed out after {waited.timeout:g}s waiting for {len(waited.pending)} object(s):\n")
        for name, state in waited.pending:
            out.write(f"    {name}: {state}\n")
    else:
        out.write(f"  ready: {waited.ready} object(s) with a readiness condition; "
                  f"{waited.without_condition} without one\n")


# -- status -----------------------------------------------------------------------------
NA = "n/a"


def print_status(report: dict, fmt: str, out: TextIO, color: bool) -> None:
    """Write a StatusReport in `fmt`: a table (rich when `color`, plain lines otherwise) or json."""
    if fmt == "json":
        json.dump(report, out, indent=2)
        out.write("\n")
        return
    if color:
        _status_rich(report, out)
    else:
        _status_plain(report, out)


def _status_rows(cluster: dict) -> list[list[str]]:
    rows = []
    for tenant in cluster["tenants"]:
        rows.append([tenant["tenant"], _quota_cell(tenant["quota"]), _queue_cell(tenant["queue"]),
                     _list_cell(tenant["datasets"], lambda d: f"{d['name']} {d['phase'] or '-'}"
                                + (f" {d['cachedPercentage']}" if d["cachedPercentage"] else "")),
                     _list_cell(tenant["jobs"], _job_cell),
                     _list_cell(tenant["agents"], lambda a: f"{a['job']}/{a['task']} {_age(a['ageSeconds'])}")])
    return rows


def _job_cell(job: dict) -> str:
    """'train Running' and, from the agent: each pod's phase and progress, e.g. 'worker-0 Running 42%'."""
    parts = [f"{job['name']} {job['phase'] or '-'}"]
    for pod in job.get("pods") or []:
        progress = pod.get("progress")
        shown = f" {progress:.0%}" if isinstance(progress, (int, float)) else ""
        parts.append(f"{pod['pod']} {pod.get('phase') or '-'}{shown}")
    return "; ".join(parts)


STATUS_COLUMNS = ["tenant", "quota used/hard", "queue", "datasets", "jobs", "agent heartbeats"]


def _status_plain(report: dict, out: TextIO) -> None:
    for cluster in report["clusters"]:
        out.write(f"cluster {cluster['cluster']} (context {cluster['context']}, {cluster['server']})\n")
        if cluster["note"]:
            out.write(f"  note: {cluster['note']}\n")
        for error in cluster["errors"]:
            out.write(f"  error: {error}\n")
        for row in _status_rows(cluster):
            out.write(f"  tenant {row[0]}\n")
            for column, cell in zip(STATUS_COLUMNS[1:], row[1:], strict=True):
                first, *rest = cell.split("\n")
                out.write(f"    {column + ':':<18} {first}\n" + "".join(f"    {'':<18} {line}\n" for line in rest))
        if not cluster["tenants"]:
            out.write("  no tenants found on this cluster\n")


def _status_rich(report: dict, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out)
    for cluster in report["clusters"]:
        table = Table(title=f"{cluster['cluster']} ({cluster['context']})", show_lines=True)
        for column in STATUS_COLUMNS:
            table.add_column(column)
        for row in _status_rows(cluster):
            table.add_row(*row)
        console.print(table)
        if cluster["note"]:
            console.print(f"note: {cluster['note']}", style="yellow", markup=False)
        for error in cluster["errors"]:
            console.print(f"error: {error}", style="red", markup=False)


def _quota_cell(quotas: list | None) -> str:
    if quotas is None:
        return NA
    lines = [f"{r}: {v.get('used', '0')}/{v.get('hard', '-')}"
             for q in quotas for r, v in sorted(q["resources"].items())]
    return "\n".join(lines) or "-"


def _queue_cell(queue: dict | None) -> str:
    if queue is None:
        return NA
    if not queue:
        return "-"
    allocated = ", ".join(f"{k}={v}" for k, v in sorted((queue.get("allocated") or {}).items())) or "nothing"
    return f"{queue['name']} {queue.get('state') or '-'}\nallocated: {allocated}"


def _list_cell(items: list | None, fmt) -> str:
    if items is None:
        return NA
    return "\n".join(fmt(i) for i in items) or "-"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"

