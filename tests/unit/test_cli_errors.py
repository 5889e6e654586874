"""Error messages of the real CLI: one broken thing per repository copy.

For each case: exit code 2, one line per problem naming the file and (where there is one)
the field path, no traceback, and rendered/ byte for byte as the good compile left it.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import PROBLEM_LINE, compile_cli, replace_once, snapshot


def _outside_import(root: Path) -> None:
    (root.parent / "outside.libsonnet").write_text("{ name: 'sandbox-interns' }")
    (root / "tenants/sandbox-interns.jsonnet").write_text("local x = import '../../outside.libsonnet';\nx\n")


def _duplicate(root: Path) -> None:
    (root / "tenants/vision.jsonnet").write_text(
        "{name: 'vision', displayName: 'V', owner: 'a@example.com', quota: {cpu: '1'},"
        " placement: {'gpu-east': {weight: 1}}}\n")


def _queue_cycle(root: Path) -> None:
    replace_once(root / "tenants/quant-research.yaml", "parent: research", "parent: ml-platform")
    replace_once(root / "tenants/ml-platform.yaml", "queue:\n  weight: 1\n",
                 "queue:\n  weight: 1\n  parent: quant-research\n")


def _only_platform(root: Path) -> None:
    for path in (root / "tenants").iterdir():
        if path.is_file() and path.name != "platform.yaml":
            path.unlink()


def _edit(file: str, old: str, new: str):
    return lambda root: replace_once(root / "tenants" / file, old, new)


# name -> (break the repository, expected line fragments: (file, field path or None, message part))
CASES = {
    "yaml-syntax": (_edit("vision.yaml", "quota:\n", "quota: [\n"),
                    [("tenants/vision.yaml", None, "YAML syntax error: line")]),
    "unknown-field": (_edit("vision.yaml", "owner: mei@example.com", "owner: mei@example.com\nownr: mei"),
                      [("tenants/vision.yaml", "ownr", "unknown field")]),
    "wrong-type": (_edit("vision.yaml", "  weight: 4\n", "  weight: lots\n"),
                   [("tenants/vision.yaml", "queue.weight", "valid integer")]),
    "negative-quantity": (_edit("vision.yaml", 'cpu: "512"', 'cpu: "-512"'),
                          [("tenants/vision.yaml", "quota.cpu", "must not be negative, got -512")]),
    "malformed-quantity": (_edit("vision.yaml", "memory: 4Ti", "memory: 4TB"),
                           [("tenants/vision.yaml", "quota.memory", "'4TB' is not a quantity")]),
    "fractional-gpus": (_edit("vision.yaml", "A100: 64}", "A100: 2.5}"),
                        [("tenants/vision.yaml", "quota.gpu.A100", "must be a whole number, got 2.5")]),
    "stem-differs": (lambda root: (root / "tenants/vision.yaml").rename(root / "tenants/visionx.yaml"),
                     [("tenants/visionx.yaml", "name", "'vision' differs from the file name 'visionx'")]),
    "duplicate-name": (_duplicate,
                       [("tenants/vision.yaml", "name",
                         "duplicate tenant name 'vision' (also in tenants/vision.jsonnet)")]),
    "jsonnet-runtime-error": (lambda root: (root / "tenants/sandbox-interns.jsonnet").write_text(
                                  "error 'no quota here'\n"),
                              [("tenants/sandbox-interns.jsonnet", None, "no quota here")]),
    "jsonnet-import-outside": (_outside_import,
                               [("tenants/sandbox-interns.jsonnet", None,
                                 "'../../outside.libsonnet' leaves the repository")]),
    "quota-over-capacity": (_edit("vision.yaml", "A100: 64}", "A100: 640}"),
                            [("tenants/platform.yaml", "clusters.gpu-east.capacity.nvidia.com/gpu", "vision")]),
    "gpu-model-missing": (_edit("recsys.yaml", "gpu: {A10: 16}", "gpu: {A10: 16, A100: 4}"),
                          [("tenants/recsys.yaml", "quota.gpu.A100", "no cluster of this tenant has A100 GPUs")]),
    # Issue 12: with the H100 pool advertised as nvidia.com/gpu like the A100s, per-model quota
    # cannot be enforced (ResourceQuota counts names), so every tenant holding either is refused.
    "gpu-models-share-a-resource-name": (
        _edit("platform.yaml", "        gpuResource: nvidia.com/h100\n", ""),
        [("tenants/ads-ranking.yaml", "placement.gpu-east.quota.gpu.A100",
          "GPU models A100 and H100 are all advertised as nvidia.com/gpu"),
         ("tenants/ads-ranking.yaml", "placement.gpu-east.quota.gpu.A100", "gpuResource of node pool gpu-h100"),
         ("tenants/vision.yaml", "quota.gpu.A100", "would let it take 64 GPUs of any of them")]),
    "unknown-allowed-from": (_edit("recsys.yaml", "allowFromTenants: [ads-ranking]", "allowFromTenants: [nobody]"),
                             [("tenants/recsys.yaml", "network.allowFromTenants[0]", "unknown tenant 'nobody'")]),
    "queue-cycle": (_queue_cycle,
                    [("tenants/quant-research.yaml", "queue.parent",
                      "cycle: quant-research -> ml-platform -> quant-research"),
                     ("tenants/ml-platform.yaml", "queue.parent",
                      "cycle: ml-platform -> quant-research -> ml-platform")]),
    "no-tenants": (_only_platform, [("tenants/", None, "no tenant files found")]),
    "wait-on-thin-dataset": (
        _edit("quant-research.yaml", "waitForData: {minCachedPercent: 95, datasets: [market-data]}",
              "waitForData: {minCachedPercent: 95}"),
        [("tenants/quant-research.yaml", "schedules[0].job.waitForData",
          "reports no cached percentage (cachedPercentage \"N/A\"), so this wait could never pass (wait only for "
          "datasets with a cache")]),
    "wait-on-unpreloaded-dataset": (
        _edit("ml-platform.yaml", "    preload: {paths: [/], loadMetadata: true}   # all of it", "    # no preload"),
        [("tenants/vision.yaml", "jobs[0].waitForData",
          "nothing preloads dataset 'imagenet' (shared from ml-platform/imagenet)"),
         ("tenants/vision.yaml", "jobs[0].waitForData", "(add preload: {paths: [/]} to dataset 'imagenet' in "
          "tenants/ml-platform.yaml, or remove waitForData)")]),
    "several-at-once": (lambda root: [_edit("vision.yaml", "owner: mei@example.com",
                                            "owner: mei@example.com\nownr: x")(root),
                                      _edit("recsys.yaml", 'cpu: "800"', 'cpu: "-800"')(root),
                                      _edit("ads-ranking.yaml", "quota:\n", "quota: [\n")(root)],
                        [("tenants/vision.yaml", "ownr", "unknown field"),
                         ("tenants/recsys.yaml", "quota.cpu", "must not be negative"),
                         ("tenants/ads-ranking.yaml", None, "YAML syntax error")]),
}


def _matches(line: str, file: str, path: str | None, fragment: str) -> bool:
    prefix = f"error: {file}: " + (f"{path}: " if path else "")
    return line.startswith(prefix) and fragment in line


@pytest.fixture(scope="module")
def runs(compiled_template, tmp_path_factory):
    """Case -> (CLI result, rendered/ before, rendered/ after). Every case gets its own copy of
    the compiled example repository; the CLI processes run a few at a time (each is a second
    of interpreter start and compile, and the cases are independent)."""
    prepared = {}
    for case, (breaker, _) in CASES.items():
        root = tmp_path_factory.mktemp(case) / "repo"
        shutil.copytree(compiled_template, root, symlinks=True)
        prepared[case] = (root, snapshot(root / "rendered"))
        breaker(root)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(prepared, pool.map(compile_cli, [root for root, _ in prepared.values()]), strict=True))
    return {case: (results[case], before, snapshot(root / "rendered")) for case, (root, before) in prepared.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_spec_is_reported_and_nothing_is_written(runs, case):
    """Exit 2, each problem on its own line with file and field path, rendered/ untouched."""
    result, before, after = runs[case]
    assert before, "the good repository compiles to files first"

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    problem_lines, summary = lines[:-1], lines[-1]
    assert summary == f"{len(problem_lines)} error(s); nothing was written"
    for line in problem_lines:
        assert PROBLEM_LINE.match(line), line
    for file, path, fragment in CASES[case][1]:
        assert any(_matches(line, file, path, fragment) for line in problem_lines), (file, path, fragment, lines)
    assert after == before
