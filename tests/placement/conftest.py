"""Fixtures of the placement oracle: one scheduling cluster and one placement run per session.

The cluster is a local control plane started with `scheduler=True`: the real kube-scheduler
(built from the same k8s.io/kubernetes module as the API server) and kwok (fake kubelets for
the Nodes the run creates). Binaries are built on first use like the control plane's; without
Go and without cached binaries the tests are skipped locally and fail under CI=true.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

PLACEMENT_RESULT = pytest.StashKey[object]()


@pytest.fixture(scope="session")
def scheduling_binaries() -> tuple[Path, Path]:
    """(control-plane binaries with kube-scheduler, kwok's folder), built when Go is there."""
    from compiler.cluster import BinariesUnavailable, ClusterError, find_binaries, find_kwok
    from compiler.cluster.binaries import COMPONENTS, SCHEDULING

    try:
        return find_binaries(components=COMPONENTS + SCHEDULING), find_kwok()
    except BinariesUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the placement tests, but: {exc}", pytrace=False)
        pytest.skip(f"NO SCHEDULER OR KWOK - placement tests skipped: {exc}")
    except ClusterError as exc:
        pytest.fail(f"building kube-scheduler or kwok failed: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def scheduling_plane(tmp_path_factory, scheduling_binaries):
    """A local control plane with kube-scheduler and kwok, started once per session."""
    from compiler.cluster import ControlPlane

    binaries, kwok = scheduling_binaries
    plane = ControlPlane(tmp_path_factory.mktemp("placement"), name="placement", binaries=binaries,
                         kwok_binaries=kwok, scheduler=True, bind_to_parent=True).up()
    yield plane
    plane.down()


@pytest.fixture(scope="session")
def placement(request, scheduling_plane):
    """The session's placement run (placement_run.Result): every example pod placed once."""
    from placement_run import Run

    started = time.monotonic()
    result = Run(scheduling_plane).run()
    result.timings["placement run"] = round(time.monotonic() - started, 1)
    request.config.stash[PLACEMENT_RESULT] = result
    return result


GENERATED_SEEDS = int(os.environ.get("TENANTC_PLACEMENT_SEEDS", "2"))  # more in a long run


@pytest.fixture(scope="session")
def generated_placements(scheduling_plane, placement, tmp_path_factory) -> list[tuple[int, object]]:
    """(seed, placement_run.Result) of each generated repository (placement_gen.py), placed on
    the session's scheduling cluster after the examples, on nodes of its own."""
    from placement_gen import write_repo
    from placement_run import Run

    out = []
    for i in range(GENERATED_SEEDS):
        seed = 7000 + i
        root = write_repo(tmp_path_factory.mktemp(f"placement-gen-{seed}"), seed)
        started = time.monotonic()
        result = Run(scheduling_plane, root, site=f"g{seed}-").run()
        result.timings["placement run"] = round(time.monotonic() - started, 1)
        out.append((seed, result))
    return out


def pytest_terminal_summary(terminalreporter, config):
    """The placement matrix, for the log: each pod template, its intended pools, where it went."""
    result = config.stash.get(PLACEMENT_RESULT, None)
    if result is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("placement matrix (intent -> nodes the real kube-scheduler chose)")
    for intent in result.intents.pods:
        outcomes = result.pods.get(intent.id, [])
        nodes: dict[str, int] = {}
        for o in outcomes:
            where = o.node or ("REFUSED" if o.rejected else "UNSCHEDULABLE" if o.unschedulable else "PENDING")
            nodes[where] = nodes.get(where, 0) + 1
        model = f" {intent.gpu_model}" if intent.gpu_model else ""
        write(f"{intent.id:<62} {intent.role + model:<10} {','.join(sorted(intent.pools)):<12} -> "
              + ", ".join(f"{n} x{c}" for n, c in sorted(nodes.items())))
    for intent_id, probes in result.near_cache.items():
        for o in probes:
            write(f"near cache: {intent_id:<58} -> {o.node or o.unschedulable}")
    admitted = [k for k, o in result.quota.items() if not o.rejected]
    write(f"beyond-quota pods: {len(result.quota)} sent, {len(result.quota) - len(admitted)} refused; "
          f"admitted: {', '.join(admitted) or 'none'}")
    placed = [k for k, o in result.across_models.items() if o.node]
    write(f"GPU of one model onto another model's pool: {len(result.across_models)} sent, "
          f"{len(result.across_models) - len(placed)} refused or unschedulable; placed: {', '.join(placed) or 'none'}")
    write(f"timings (s since the run began): {result.timings}")
