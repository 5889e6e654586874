"""Reports of diff, apply and status: text (coloured on a terminal), JSON, Markdown, GitHub.

Only masked views reach this module's output: a Change's before/after have Secret values
replaced (normalize.mask_secrets), and desired objects are shown by identity only. The JSON
shapes are a stable interface for scripts (`apiVersion: tenantc.io/v1`); add fields, never
rename them.
"""
from __future__ import annotations

import difflib
import json
from collections import defaultdict
from typing import TextIO

from compiler.kinds import REPORT_API_VERSION
from compiler.live.apply import ApplyReport, Outcome
from compiler.live.diff import ADD, Change, ClusterPlan, object_label
from compiler.live.prune import tenant_of
from compiler.load import yaml_io
from compiler.pipeline import RENDERED_DIR

RED, GREEN, CYAN, YELLOW, BOLD, RESET = "\033[31m", "\033[32m", "\033[36m", "\033[33m", "\033[1m", "\033[0m"


def ident(obj: dict) -> dict:
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
def _by_tenant(plan: ClusterPlan) -> dict[str, dict[str, list]]:
    tenants: dict[str, dict[str, list]] = defaultdict(lambda: {"added": [], "changed": [], "wouldPrune": [],
                                                               "kept": []})
    for change in plan.changes:
        tenants[change.tenant]["added" if change.action == ADD else "changed"].append(change)
    for obj in plan.prune.delete:
        tenants[tenant_of(obj)]["wouldPrune"].append(obj)
    for obj, reason in plan.prune.kept:
        tenants[tenant_of(obj)]["kept"].append((obj, reason))
    return dict(sorted(tenants.items()))


def _change_json(change: Change) -> dict:
    return {**ident(change.desired), "path": f"{RENDERED_DIR}/{change.path}", "diff": unified(change),
            "drift": [{"field": d.field, "managers": list(d.managers)} for d in change.drift],
            "ownershipOnly": change.ownership_only, "note": change.note,
            "error": change.error.message if change.error else ""}


def diff_summary(plans: list[ClusterPlan]) -> dict:
    return {
        "added": sum(c.action == ADD for p in plans for c in p.changes),
        "changed": sum(c.action != ADD for p in plans for c in p.changes),
        "wouldPrune": sum(len(p.prune.delete) for p in plans),
        "unchanged": sum(p.unchanged for p in plans),
        "errors": sum(len(p.errors) for p in plans),
        "differences": any(p.differences for p in plans),
        "requests": sum(p.requests.get("reads", 0) + p.requests.get("dryRuns", 0) + p.requests.get("writes", 0)
                        for p in plans),
    }


def diff_json(plans: list[ClusterPlan]) -> dict:
    clusters = []
    for plan in plans:
        tenants = []
        for tenant, groups in _by_tenant(plan).items():
            tenants.append({
                "tenant": tenant,
                "added": [_change_json(c) for c in groups["added"]],
                "changed": [_change_json(c) for c in groups["changed"]],
                "wouldPrune": [ident(o) for o in groups["wouldPrune"]],
                "kept": [{**ident(o), "reason": r} for o, r in groups["kept"]],
            })
        clusters.append({"cluster": plan.target.cluster, "context": plan.target.context, "server": plan.server,
                         "note": plan.target.note, "unchanged": plan.unchanged, "tenants": tenants,
                         "pruneRefused": plan.prune.refused, "ownedObjects": plan.prune.owned,
                         "errors": plan.errors, "requests": plan.requests})
    return {"apiVersion": REPORT_API_VERSION, "kind": "DiffReport", "clusters": clusters, "summary": diff_summary(plans)}


def _summary_line(summary: dict, clusters: int) -> str:
    return (f"summary: {summary['added']} to add, {summary['changed']} to change, {summary['wouldPrune']} to prune, "
            f"{summary['unchanged']} unchanged on {clusters} cluster(s); {summary['requests']} request(s)"
            + (f"; {summary['errors']} error(s)" if summary["errors"] else ""))


def print_diff(plans: list[ClusterPlan], fmt: str, out: TextIO, color: bool = False) -> None:
    if fmt == "json":
        json.dump(diff_json(plans), out, indent=2)
        out.write("\n")
    elif fmt == "markdown":
        _diff_markdown(plans, out)
    elif fmt == "github":
        _diff_github(plans, out)
    else:
        _diff_text(plans, out, color)


def _diff_text(plans: list[ClusterPlan], out: TextIO, color: bool) -> None:
    bold = (lambda s: BOLD + s + RESET) if color else (lambda s: s)
    warn = (lambda s: YELLOW + s + RESET) if color else (lambda s: s)
    for plan in plans:
        out.write(bold(f"cluster {plan.target.cluster}") + f" (context {plan.target.context}, {plan.server})\n")
        if plan.target.note:
            out.write(warn(f"  note: {plan.target.note}") + "\n")
        for error in plan.errors:
            out.write(f"  error: {error}\n")
        if not plan.changes and not plan.prune.delete and not plan.prune.kept:
            out.write(f"  no differences ({plan.unchanged} objects unchanged)\n")
        for tenant, groups in _by_tenant(plan).items():
            counts = ", ".join(f"{len(groups[k])} {w}" for k, w in
                               (("added", "to add"), ("changed", "to change"), ("wouldPrune", "to prune"))
                               if groups[k])
            out.write(f"  tenant {tenant}: {counts or 'nothing to do'}\n")
            for change in groups["added"] + groups["changed"]:
                sign = "+" if change.action == ADD else "~"
                out.write(f"    {sign} {object_label(change.desired)}" + (f"  ({change.note})" if change.note else "")
                          + "\n")
                for drift in change.drift:
                    out.write(warn(f"        drift: {drift.field} was changed by {', '.join(drift.managers)}") + "\n")
                if change.error is not None:
                    out.write(f"        refused by the server: {change.error.message}\n")
                out.write(_indent(_paint(unified(change), color), "      "))
            for obj in groups["wouldPrune"]:
                out.write(f"    - {object_label(obj)}  (live, no longer in {RENDERED_DIR}/: would prune)\n")
            for obj, reason in groups["kept"]:
                out.write(f"    = {object_label(obj)}  (no longer in {RENDERED_DIR}/, kept: {reason})\n")
        if plan.prune.refused:
            out.write(warn(f"  prune: {plan.prune.refused}") + "\n")
    out.write(_summary_line(diff_summary(plans), len(plans)) + "\n")


def _diff_markdown(plans: list[ClusterPlan], out: TextIO) -> None:
    summary = diff_summary(plans)
    out.write(f"### tenantc diff: {summary['added']} to add, {summary['changed']} to change, "
              f"{summary['wouldPrune']} to prune\n\n")
    for plan in plans:
        out.write(f"#### cluster `{plan.target.cluster}` (context `{plan.target.context}`)\n\n")
        if plan.target.note:
            out.write(f"> {plan.target.note}\n\n")
        for error in plan.errors:
            out.write(f"- :x: {error}\n")
        tenants = _by_tenant(plan)
        if not tenants:
            out.write(f"No differences ({plan.unchanged} objects unchanged).\n\n")
            continue
        out.write("| tenant | to add | to change | to prune |\n|---|---:|---:|---:|\n")
        for tenant, groups in tenants.items():
            out.write(f"| {tenant} | {len(groups['added'])} | {len(groups['changed'])} | {len(groups['wouldPrune'])} |\n")
        out.write("\n")
        for tenant, groups in tenants.items():
            for change in groups["added"] + groups["changed"]:
                verb = "add" if change.action == ADD else "change"
                out.write(f"<details><summary>{tenant}: {verb} <code>{object_label(change.desired)}</code></summary>\n\n")
                for drift in change.drift:
                    out.write(f"- drift: `{drift.field}` was changed by {', '.join(drift.managers)}\n")
                out.write(f"\n```diff\n{unified(change)}```\n</details>\n\n")
            for obj in groups["wouldPrune"]:
                out.write(f"- {tenant}: prune `{object_label(obj)}`\n")
        if plan.prune.refused:
            out.write(f"\n> :warning: {plan.prune.refused}\n")
        out.write("\n")


def _diff_github(plans: list[ClusterPlan], out: TextIO) -> None:
    for plan in plans:
        where = f"cluster {plan.target.cluster}"
        if plan.target.note:
            out.write(f"::notice title={where}::{_escape(plan.target.note)}\n")
        for error in plan.errors:
            out.write(f"::error title={where}::{_escape(error)}\n")
        for change in plan.changes:
            verb = "will be created" if change.action == ADD else "will change"
            file = f"file={RENDERED_DIR}/{change.path},"
            out.write(f"::notice {file}title={where}::{_escape(object_label(change.desired) + ' ' + verb)}\n")
            for drift in change.drift:
                out.write(f"::warning {file}title={where} drift::{_escape(f'{drift.field} was changed live by ' + ', '.join(drift.managers))}\n")
        for obj in plan.prune.delete:
            out.write(f"::warning title={where} prune::{_escape(object_label(obj) + ' is live but no longer rendered')}\n")
        if plan.prune.refused:
            out.write(f"::error title={where} prune::{_escape(plan.prune.refused)}\n")
    out.write(_summary_line(diff_summary(plans), len(plans)) + "\n")


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# -- apply ------------------------------------------------------------------------------
def _outcome_json(outcome: Outcome) -> dict:
    return {**ident(outcome.obj), "tenant": outcome.tenant,
            "path": f"{RENDERED_DIR}/{outcome.path}" if outcome.path else "",
            "result": outcome.result, "message": outcome.message}


def apply_json(reports: list[ApplyReport], dry_run: bool) -> dict:
    clusters = []
    for report in reports:
        plan = report.plan
        waited = report.waited
        clusters.append({
            "cluster": plan.target.cluster, "context": plan.target.context, "server": plan.server,
            "note": plan.target.note, "unchanged": plan.unchanged,
            "objects": [_outcome_json(o) for o in report.applied],
            "pruned": [_outcome_json(o) for o in report.pruned],
            "pruneRefused": report.prune_refused,
            "wait": None if waited is None else {
                "ready": waited.ready, "withoutCondition": waited.without_condition,
                "seconds": round(waited.seconds, 1), "timeout": waited.timeout,
                "pending": [{"object": o, "waitingFor": s} for o, s in waited.pending]},
            "errors": plan.errors, "requests": report.requests, "ok": report.ok})
    outcomes = [o for r in reports for o in r.applied]
    return {"apiVersion": REPORT_API_VERSION, "kind": "ApplyReport", "dryRun": dry_run, "clusters": clusters,
            "summary": {"applied": sum(not o.failed for o in outcomes), "failed": sum(o.failed for o in outcomes),
                        "pruned": sum(not o.failed for r in reports for o in r.pruned),
                        "unchanged": sum(r.plan.unchanged for r in reports),
                        "writes": sum(r.requests.get("writes", 0) for r in reports),
                        "ok": all(r.ok for r in reports)}}


def print_apply(reports: list[ApplyReport], fmt: str, out: TextIO, dry_run: bool) -> None:
    if fmt == "json":
        json.dump(apply_json(reports, dry_run), out, indent=2)
        out.write("\n")
        return
    for report in reports:
        plan = report.plan
        if plan.target.note:
            out.write(f"note: {plan.target.note}\n")
        results: dict[str, int] = defaultdict(int)
        for outcome in report.applied:
            results[outcome.result] += 1
        done = ", ".join(f"{n} {r}" for r, n in sorted(results.items())) or "nothing to apply"
        pruned = len([o for o in report.pruned if not o.failed])
        out.write(f"cluster {plan.target.cluster}: {done}; {plan.unchanged} unchanged"
                  + (f"; {pruned} {'to prune' if dry_run else 'pruned'}" if report.pruned else "")
                  + f" ({report.requests.get('writes', 0)} write request(s))\n")
        for error in plan.errors:
            out.write(f"  error: {error}\n")
        for outcome in report.applied + report.pruned:
            if outcome.failed:
                out.write(f"  {outcome.result}: {outcome.label}: {outcome.message}\n")
        if report.prune_refused:
            out.write(f"  prune: {report.prune_refused}\n")
        if report.waited is not None:
            waited = report.waited
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
                     _list_cell(tenant["jobs"], lambda j: f"{j['name']} {j['phase'] or '-'}"),
                     _list_cell(tenant["agents"], lambda a: f"{a['job']}/{a['task']} {_age(a['ageSeconds'])}")])
    return rows


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
            for column, cell in zip(STATUS_COLUMNS[1:], row[1:]):
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
    lines = [f"{r}: {v.get('used', '0')}/{v.get('hard', '-')}" for q in quotas for r, v in sorted(q["resources"].items())]
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

