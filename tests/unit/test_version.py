"""`tenantc --version` and `tenantc-agent --version`: the version and the engines in use, with
nothing heavy imported until the flag is given."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from compiler import __version__
from compiler.about import version_ranges
from compiler.agent.main import main as agent_main
from compiler.cli import main
from compiler.validate.builtin import supported_versions


def _version(capsys, entry=main) -> str:
    with pytest.raises(SystemExit) as exited:
        entry(["--version"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_version_names_tenantc_and_the_engines(capsys, monkeypatch):
    monkeypatch.delenv("TENANTC_JSONNET_ENGINE", raising=False)
    monkeypatch.delenv("TENANTC_SCHEMA_ENGINE", raising=False)
    out = _version(capsys)
    lines = dict(line.strip().split(":", 1) for line in out.splitlines()[1:])
    assert out.splitlines()[0] == f"tenantc {__version__}"
    assert lines["jsonnet engine"].strip().startswith(f"rjsonnet {importlib.metadata.version('rjsonnet')} (default")
    assert lines["json schema engine"].strip().startswith(
        f"jsonschema-rs {importlib.metadata.version('jsonschema-rs')} (default")
    versions = supported_versions()
    assert lines["kubernetes schemas"].strip() == (
        f"kubernetes-validate {importlib.metadata.version('kubernetes-validate')}: "
        f"Kubernetes {versions[0]}-{versions[-1]} ({len(versions)} versions)")
    assert "libyaml" in lines["yaml"]


def test_version_follows_the_engine_settings(capsys, monkeypatch):
    monkeypatch.setenv("TENANTC_JSONNET_ENGINE", "jsonnet")
    monkeypatch.setenv("TENANTC_SCHEMA_ENGINE", "jsonschema")
    out = _version(capsys)
    assert "jsonnet engine:     jsonnet " in out and "chosen by TENANTC_JSONNET_ENGINE=jsonnet" in out
    assert "json schema engine: jsonschema " in out and "chosen by TENANTC_SCHEMA_ENGINE=jsonschema" in out
    monkeypatch.setenv("TENANTC_JSONNET_ENGINE", "no-such-engine")
    assert "jsonnet engine:     none usable: TENANTC_JSONNET_ENGINE=no-such-engine" in _version(capsys)


def test_agent_version(capsys):
    out = _version(capsys, agent_main)
    assert out.splitlines()[0] == f"tenantc-agent {__version__}"
    assert "http.client" in out and "PyYAML" in out


@pytest.mark.parametrize("versions,text", [(("1.25", "1.26", "1.27"), "1.25-1.27"), (("1.30",), "1.30"),
                                           (("1.25", "1.26", "1.29", "1.31", "1.32"), "1.25-1.26, 1.29, 1.31-1.32"),
                                           ((), "none")])
def test_version_ranges(versions, text):
    assert version_ranges(versions) == text


def test_the_cli_imports_no_engine_until_asked():
    """--version's lookups are lazy: a parser with --version (and `init`, which loads its templates
    only when it runs) imports none of the engines, the models or the package metadata."""
    code = ("import sys; from compiler.cli import build_parser; build_parser('init'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'yaml', 'jsonschema', "
            "'jsonschema_rs', 'rjsonnet', '_jsonnet', 'kubernetes_validate', 'importlib_metadata'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
