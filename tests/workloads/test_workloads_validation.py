"""Every rendered object of the examples is checked against its schema (built-in kinds) or the
upstream CRDs (Volcano, Fluid), and a broken object is caught by the validate stage."""
from __future__ import annotations

import copy

import pytest

from compiler.errors import Problems
from compiler.validate import validate_objects


def test_every_example_object_is_validated(validated_examples):
    """No kind escapes validation: no 'not validated' warnings, every object counted."""
    result = validated_examples.result
    assert [w for w in result.warnings if "not validated" in w] == []
    assert result.validated == len(result.objects)
    kinds = {o["kind"] for o in result.objects.values()}
    assert {"Dataset", "JindoRuntime", "AlluxioRuntime", "JuiceFSRuntime", "ThinRuntime", "DataLoad",
            "Job", "CronJob", "JobFlow", "JobTemplate", "StatefulSet", "PersistentVolumeClaim"} <= kinds


def _set(obj: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    obj[last] = value


# (rendered file, dotted field, bad value, text the reported path must contain)
BROKEN = {
    "Volcano JobTemplate minAvailable not an integer": (
        "gpu-east/vision/jobtemplate.flow.volcano.sh-resnet50-ddp.yaml", "spec.minAvailable", "x", "spec.minAvailable"),
    "Dataset with an unknown field": (
        "cpu-west/quant-research/dataset.data.fluid.io-market-data.yaml", "spec.mountz", [], "spec"),
    "DataLoad policy outside the enum": (
        "cpu-west/quant-research/dataload.data.fluid.io-market-data-preload.yaml", "spec.policy", "Sometimes",
        "spec.policy"),
    "JindoRuntime tier with an unknown medium": (
        "cpu-west/quant-research/jindoruntime.data.fluid.io-market-data.yaml", "spec.tieredstore.levels.0.mediumtype",
        "NVME", "spec.tieredstore.levels[0].mediumtype"),
    "JobFlow retain policy outside the enum": (
        "gpu-east/vision/jobflow.flow.volcano.sh-resnet50-ddp.yaml", "spec.jobRetainPolicy", "keep",
        "spec.jobRetainPolicy"),
    "Volcano CronJob concurrency policy outside the enum": (
        "cpu-west/quant-research/cronjob.batch.volcano.sh-nightly-backtest.yaml", "spec.concurrencyPolicy", "Never",
        "spec.concurrencyPolicy"),
    "JobTemplate task policy event outside the enum": (
        "gpu-east/vision/jobtemplate.flow.volcano.sh-tpl-resnet.yaml", "spec.policies.0.event", "PodGone",
        "spec.policies[0].event"),
    "StatefulSet with an unknown field": (
        "gpu-east/vision/statefulset-nb-mei.yaml", "spec.replica", 1, "spec"),
}


@pytest.mark.parametrize("path, field, value, reported", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_object_is_reported(validated_examples, crds, path, field, value, reported):
    """validate_objects reports the broken field, with the rendered path and source file."""
    good = validated_examples[path]
    problems = Problems()
    validate_objects({path: good}, validated_examples.platform, crds, problems)
    assert not problems, f"the unbroken object should pass: {problems.items}"
    bad = copy.deepcopy(good)
    _set(bad, field, value)
    validate_objects({path: bad}, validated_examples.platform, crds, problems)
    assert problems.items, f"{field}={value!r} was not reported"
    assert all(p.file == good["metadata"]["annotations"]["tenantc.io/source"] for p in problems.items)
    assert any(p.path.startswith(f"rendered/{path}: ") and reported in p.path for p in problems.items), problems.items
