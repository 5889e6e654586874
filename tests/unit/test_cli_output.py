"""One output flag shape for every command, the deprecated --format alias, GitHub escaping in
check, and the layering rules of the cluster code (no argparse in the library, no `kubernetes`
import for `tenantc cluster`)."""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli import build_parser
from compiler.commands.check import emit_problems
from compiler.errors import Problem

REPO = Path(__file__).resolve().parents[2]
FORMATS = {"compile": ["text", "json"], "check": ["text", "markdown", "github", "json"],
           "review": ["text", "markdown", "github", "json"], "diff": ["text", "json", "markdown", "github"],
           "apply": ["text", "json"], "status": ["text", "json"]}


def _subparser(name: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser(name)._actions if a.dest == "command")
    return subparsers.choices[name]


@pytest.mark.parametrize("command", sorted(FORMATS))
def test_every_command_has_the_same_output_flag(command):
    parser = _subparser(command)
    [output] = [a for a in parser._actions if "--output" in a.option_strings]
    assert output.option_strings == ["-o", "--output"] and output.dest == "output" and output.default == "text"
    assert list(output.choices) == FORMATS[command]


@pytest.mark.parametrize("command", ["check", "review", "diff"])
def test_format_is_a_hidden_alias_of_output(command):
    parser = _subparser(command)
    required = {"review": ["--base", "main"]}.get(command, [])
    assert parser.parse_args([*required, "--format", "github"]).output == "github"
    assert parser.parse_args([*required, "-o", "github"]).output == "github"
    assert parser.parse_args(required).output == "text"
    assert "--format" not in parser.format_help()


def test_cluster_status_has_the_same_output_flag():
    parser = build_parser("cluster")
    args = parser.parse_args(["cluster", "status", "--state-dir", "x", "-o", "json"])
    assert args.output == "json"


def test_check_escapes_github_annotation_titles_and_messages(capsys):
    """Field paths can hold ': ' and ',' (schema paths do), which end a property unless escaped."""
    emit_problems([Problem("tenants/vision.yaml", "spec: containers[0], image", "100% wrong\nsecond line",
                           "fix it")], "github")
    line = capsys.readouterr().out.strip()
    assert line == ("::error file=tenants/vision.yaml,title=spec%3A containers[0]%2C image::"
                    "100%25 wrong%0Asecond line — fix it")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


@pytest.mark.parametrize("package", ["compiler/live", "compiler/kube"])
def test_the_library_knows_nothing_of_argparse(package):
    for path in sorted((REPO / package).glob("*.py")):
        assert "argparse" not in _imports(path), path


def test_only_compiler_kube_talks_to_api_servers():
    """No module outside compiler/kube (and the import-free agent) builds its own HTTP client."""
    clients = {"kubernetes", "kubernetes.client", "urllib3", "http.client", "requests"}
    allowed = {"compiler/kube", "compiler/agent"}
    for path in sorted((REPO / "compiler").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if any(rel.startswith(a + "/") for a in allowed) or rel == "compiler/cluster/readiness.py":
            continue  # readiness probes etcd's plain-HTTP health endpoint, which is not an API server
        assert not {m for m in _imports(path) if m.split(".")[0] in {"kubernetes", "urllib3", "requests"}
                    or m in clients}, rel


def test_the_cluster_layer_imports_neither_kubernetes_nor_urllib3():
    """`tenantc cluster up` must start fast: the `kubernetes` package alone costs about a second."""
    code = ("import sys, compiler.cluster, compiler.cluster.crds, compiler.kube.client; "
            "print(sorted(m for m in ('kubernetes', 'urllib3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
