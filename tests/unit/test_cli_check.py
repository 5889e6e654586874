"""`tenantc check` and `tenantc schema` through the real CLI, and every command's --help."""
from __future__ import annotations

import pytest
from helpers import check_cli, replace_once, tenantc

from compiler.cli import build_parser, main


def test_fresh_repository_passes(compiled_repo):
    """Right after compile, check agrees and exits 0."""
    result = check_cli(compiled_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.fixture
def stale_repo(compiled_repo):
    """A compiled repository with one file missing, one extra and one edited by hand, plus the
    repo-relative paths of those three."""
    unit = compiled_repo / "rendered/gpu-east/vision"
    missing, differing = sorted(unit.glob("networkpolicy-*.yaml"))[:2]
    missing.unlink()
    differing.write_text(differing.read_text() + "# hand edit\n")
    extra = unit / "configmap-stray.yaml"
    extra.write_text("kind: ConfigMap\n")
    rel = {name: str(path.relative_to(compiled_repo)) for name, path in
           (("missing", missing), ("differs", differing), ("extra", extra))}
    return compiled_repo, rel


def test_stale_files_are_listed_with_exit_1(stale_repo):
    """CI must fail on a stale rendered/ and say which files are off."""
    root, rel = stale_repo
    result = check_cli(root)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for word, path in rel.items():
        assert f"{word}: {path}" in lines
    assert len([line for line in lines if line.startswith(("missing:", "extra:", "differs:"))]) == 3


def test_github_format_annotates_each_stale_file(stale_repo):
    """-o github makes the stale files show up on the pull request."""
    root, rel = stale_repo
    result = check_cli(root, "-o", "github")
    assert result.returncode == 1
    annotated = [line for line in result.stdout.splitlines() if line.startswith("::error file=")]
    assert sorted(line.split("file=", 1)[1].split(",", 1)[0] for line in annotated) == sorted(rel.values())


def test_invalid_spec_exits_2_with_github_annotations(compiled_repo):
    """Invalid input is exit 2, annotated on the spec file with the field path as title (through
    --format, the deprecated spelling of -o that CI configurations still use)."""
    replace_once(compiled_repo / "tenants/vision.yaml", 'cpu: "512"', 'cpu: "-512"')
    result = check_cli(compiled_repo, "--format", "github")
    assert result.returncode == 2
    assert "::error file=tenants/vision.yaml,title=quota.cpu::" in result.stdout
    assert "Traceback" not in result.stderr


def test_stale_schema_fails_check_until_regenerated(compiled_repo):
    """schemas/ are generated from the models; an outdated copy fails check, `schema` fixes it."""
    schema = compiled_repo / "schemas/tenant.schema.json"
    schema.write_text(schema.read_text().replace('"displayName"', '"display"', 1))
    stale = check_cli(compiled_repo)
    assert stale.returncode == 1
    assert "stale schema: schemas/tenant.schema.json" in stale.stdout.splitlines()

    regenerated = tenantc("schema", "--root", compiled_repo)
    assert regenerated.returncode == 0 and "wrote schemas/tenant.schema.json" in regenerated.stdout
    assert check_cli(compiled_repo).returncode == 0


def _commands() -> list[str]:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(subparsers.choices)


def test_foundation_commands_are_registered():
    """The --help checks below cover at least compile, check and schema."""
    assert {"compile", "check", "schema"} <= set(_commands())


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in _commands()], ids=" ".join)
def test_help_exits_0(argv, capsys):
    """Every command documents itself and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert "usage: tenantc" in capsys.readouterr().out
