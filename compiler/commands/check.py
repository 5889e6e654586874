"""`tenantc check`: is rendered/ what the specs compile to? For CI and pre-commit."""
from __future__ import annotations

import argparse
import sys

from compiler.check_split import check_split
from compiler.commands.common import add_repo_flags, crd_dirs
from compiler.commands.output import GITHUB, JSON, MARKDOWN, TEXT, add_output_flag, write_json
from compiler.errors import CompileError, Problem, safe_text
from compiler.gc_pause import paused_throughout
from compiler.output.github import annotation
from compiler.pipeline import RENDERED_DIR, check_rendered, compile_repo, has_unit_cache
from compiler.schema_export import stale_schema_files
from compiler.write.tree import Staleness

HELP = """\
Compile in memory and compare with rendered/ and schemas/ on disk; nothing is written.

exit codes: 0 up to date and valid, 1 stale (missing, extra or differing files are listed),
2 invalid input (every problem with its file and field path).

-o github prints workflow annotations (::error file=...::) so problems show on the pull
request's files; -o markdown suits a pull request comment.

--base REF checks only what can differ from REF: units whose inputs or rendered files changed
since REF (and Argo CD's, and folders that should be gone); the rest is taken as it was at
REF. Use it when REF passed `tenantc check` (as the target branch of a pull request does in
CI) with the same tenantc and CRDs; tenantc checks everything when REF has Jsonnet specs,
differs by more than YAML spec files, does not compile, or CRD folders inside the repository
changed. After upgrading tenantc, check without --base.

Without --base and without a unit cache (a fresh clone in CI), half of the units are checked
in a second process when there is a second core; the verdict and the lists are the same.

examples:
  tenantc check --crd-dir ../shared/crds                  # locally, before committing
  tenantc check --base origin/main --crd-dir crds/        # a pull request, in CI
  tenantc check -o github --crd-dir crds/                 # in a CI job
  tenantc check -o markdown > comment.md                  # for a pull request comment
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="fail when rendered/ is stale or specs are invalid",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_repo_flags(parser)
    add_output_flag(parser, (TEXT, MARKDOWN, GITHUB, JSON), deprecated_format=True)
    parser.add_argument("--base", metavar="REF",
                        help="a revision that passed `tenantc check` (e.g. origin/main): check only what "
                             "differs from it")
    parser.set_defaults(func=run)


@paused_throughout
def run(args: argparse.Namespace) -> int:
    try:
        warnings, staleness = _check(args)
    except CompileError as exc:
        emit_problems(exc.problems, args.output)
        return 2
    schemas = stale_schema_files(args.root)
    report = {
        "missing": [f"{RENDERED_DIR}/{p}" for p in staleness.missing],
        "extra": [f"{RENDERED_DIR}/{p}" for p in staleness.extra],
        "differing": [f"{RENDERED_DIR}/{p}" for p in staleness.differing],
        "staleSchemas": schemas,
        "warnings": warnings,
    }
    stale = staleness.stale or bool(schemas)
    emit_staleness(report, stale, args.output)
    return 1 if stale else 0


def _check(args: argparse.Namespace) -> tuple[list[str], Staleness]:
    """The compile's warnings and how rendered/ differs from it: of what changed since --base
    when that can be decided, else of everything (on two cores when it can)."""
    if args.base is not None:
        from compiler.review.since import check_since

        since = check_since(args.root, args.base, crd_dirs(args))
        if since is not None:
            if args.output == TEXT:
                print(f"checked {since.compared} folder(s) that may differ from {args.base}; "
                      f"{since.trusted} unchanged since", file=sys.stderr)
            return since.result.warnings, since.staleness
    split = check_split(args.root, crd_dirs(args))
    if split is not None:
        return split.warnings, split.staleness
    result = compile_repo(args.root, crd_dirs(args), use_cache=has_unit_cache(args.root))
    return result.warnings, check_rendered(args.root, result)


def emit_problems(problems: list[Problem], fmt: str) -> None:
    if fmt == JSON:
        write_json({"valid": False, "problems": [
            {"file": p.file, "path": p.path, "message": p.message, "hint": p.hint} for p in problems]})
    elif fmt == GITHUB:  # text from input, printed: control characters escaped (JSON escapes its own)
        for p in problems:
            print(annotation("error", safe_text(p.message + (" — " + p.hint if p.hint else ""), 2000, newlines=True),
                             file=safe_text(p.file), title=safe_text(p.path) or "spec"))
    elif fmt == MARKDOWN:
        print(f"### tenantc check: {len(problems)} problem(s)\n")
        print("| file | field | problem |\n|---|---|---|")
        for p in problems:
            print(f"| `{safe_text(p.file)}` | `{safe_text(p.path)}` | "
                  f"{safe_text(p.message + (' — ' + p.hint if p.hint else ''), 2000)} |")
    else:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"{len(problems)} error(s)", file=sys.stderr)


def emit_staleness(report: dict, stale: bool, fmt: str) -> None:
    hint = "run `tenantc compile` (and `tenantc schema`) and commit the result"
    kinds = (("missing", "missing"), ("extra", "extra"), ("differing", "differs"), ("staleSchemas", "stale schema"))
    if fmt == JSON:
        write_json({"valid": True, "stale": stale, **report})
        return
    if fmt == GITHUB:
        for key, word in kinds:
            for path in report[key]:
                print(annotation("error", f"{word}: {hint}", file=path, title="stale rendered output"))
        for warning in report["warnings"]:
            print(annotation("warning", warning))
        return
    if fmt == MARKDOWN:
        if not stale:
            print("### tenantc check: rendered/ is up to date ✅")
            return
        print(f"### tenantc check: rendered/ is stale\n\n{hint}.\n")
        for key, word in kinds:
            for path in report[key]:
                print(f"- {word}: `{path}`")
        return
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if not stale:
        print("rendered/ and schemas/ are up to date")
        return
    for key, word in kinds:
        for path in report[key]:
            print(f"{word}: {path}")
    print(f"stale: {hint}")
