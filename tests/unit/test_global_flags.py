"""kubectl's global flags before or after the command, for both console scripts.

kubectl reads its global flags (--kubeconfig, --context, --cluster, -v, ...) wherever they are
on the command line: https://kubernetes.io/docs/reference/kubectl/kubectl/ ("Options inherited
from parent commands"), https://github.com/kubernetes/kubectl/blob/master/pkg/cmd/cmd.go
(persistent flags of the root command). `tenantc` and `tenantc-agent` do the same.
"""
from __future__ import annotations

import json

import pytest

from compiler.agent import main as agent_main
from compiler.agent.contract import CONNECTION_FLAGS, parse, place_global_flags
from compiler.cli import COMMANDS, GLOBAL_FLAGS, build_parser, main

FLAGS = frozenset({"--kubeconfig", "-o"})


@pytest.mark.parametrize("argv, expected", [
    (["--kubeconfig", "K", "diff", "--root", "R"], ["diff", "--root", "R", "--kubeconfig", "K"]),
    (["--kubeconfig=K", "diff"], ["diff", "--kubeconfig=K"]),
    (["-ojson", "diff"], ["diff", "-ojson"]),
    (["-o", "json", "diff", "a", "--", "x"], ["diff", "a", "-o", "json", "--", "x"]),
    (["diff", "--kubeconfig", "K"], ["diff", "--kubeconfig", "K"]),
    (["--kubeconfig", "diff", "diff"], ["diff", "--kubeconfig", "diff"]),  # a value named like a command
    (["--version"], ["--version"]),
    (["--kubeconfig", "K"], ["--kubeconfig", "K"]),  # no command: left to the parser to refuse
    (["--root", "R", "diff"], ["--root", "R", "diff"]),  # not a global flag: stays
])
def test_global_flags_before_the_command_move_after_it(argv, expected):
    assert place_global_flags(argv, ["diff"], FLAGS) == expected


def _parsed(argv: list[str]) -> dict:
    args = build_parser().parse_args(place_global_flags(argv, list(COMMANDS), GLOBAL_FLAGS))
    return {k: v for k, v in vars(args).items() if k != "func"}


@pytest.mark.parametrize("command", ["diff", "apply", "status"])
def test_tenantc_reads_kubectls_global_flags_in_both_positions(command):
    flags = ["--kubeconfig", "k.yaml", "--context", "ctx", "--cluster", "gpu-east", "-o", "json", "-v", "2"]
    before, after = _parsed([*flags, command]), _parsed([command, *flags])
    assert before == after
    assert (before["kubeconfig"], before["context"], before["cluster"], before["output"], before["v"]) == \
        ("k.yaml", "ctx", ["gpu-east"], "json", 2)


def test_output_flag_before_the_command_shapes_its_output(compiled_repo, capsys):
    assert main(["-o", "json", "check", "--root", str(compiled_repo)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report, dict) and report
    assert main(["-o", "github", "check", "--root", str(compiled_repo)]) == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(capsys.readouterr().out or "not json")


def test_a_global_flag_the_command_does_not_take_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--kubeconfig", "k.yaml", "compile"])
    assert exit_.value.code == 2 and "--kubeconfig" in capsys.readouterr().err


def test_verbosity_shows_the_traceback_of_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TENANTC_DEBUG", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["status", "--root", str(empty)]) == 2
    assert "cannot read the platform file" in capsys.readouterr().err
    with pytest.raises(Exception, match="cannot read the platform file"):
        main(["-v", "1", "status", "--root", str(empty)])


@pytest.mark.parametrize("command", [["sidecar"], ["wait-dataset", "d", "-n", "ns", "--min-cached-percent", "100",
                                                   "--timeout", "1m"]])
def test_the_agent_reads_its_connection_flags_in_both_positions(command):
    flags = ["--kubeconfig", "k.yaml", "--context", "ctx", "--token-file", "t", "--request-timeout", "3"]
    before, after = vars(parse([*flags, *command])), vars(parse([*command, *flags]))
    assert before == after
    assert (before["kubeconfig"], before["context"], before["token_file"], before["request_timeout"]) == \
        ("k.yaml", "ctx", "t", 3.0)
    assert set(CONNECTION_FLAGS) == {"--kubeconfig", "--context", "--token-file", "--request-timeout"}


def test_tenantc_agent_before_the_command_uses_that_kubeconfig(tmp_path, capsys):
    """The same kubeconfig is read (and its absence reported) whichever side of the command it is on."""
    missing = tmp_path / "no-such-kubeconfig"
    assert agent_main.main(["--kubeconfig", str(missing), "sidecar"]) == 2
    before = capsys.readouterr().err
    assert agent_main.main(["sidecar", "--kubeconfig", str(missing)]) == 2
    assert before == capsys.readouterr().err and str(missing) in before
