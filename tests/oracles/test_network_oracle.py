"""Network intent oracle: the connectivity the specs ask for, checked by an outside analyzer
(network-config-analyzer) over the rendered NetworkPolicies. See network_intent.py for the
intent and netanalyzer.py for how the analyzer is run and read."""
from __future__ import annotations

import os
import time

from netanalyzer import connectivity
from network_intent import compare, worlds_of
from tenant_gen import write_repo


def _judge(worlds, nca, workdir, label: str, names: list[str] | None = None):
    started = time.perf_counter()
    names = names or [f"{label}-{w.cluster}" for w in worlds]
    maps = connectivity(nca, [w.config(n) for w, n in zip(worlds, names, strict=True)], workdir)
    verdicts = [compare(w, maps[n]) for w, n in zip(worlds, names, strict=True)]
    wrong = [line for v in verdicts for line in v.wrong]
    checked = sum(v.checked for v in verdicts)
    print(f"{label}: {checked} checks ({sum(v.open_checked for v in verdicts)} must be open) over "
          f"{sum(len(w.pods) for w in worlds)} pods and {sum(len(w.addresses) for w in worlds)} addresses, "
          f"{len(wrong)} endpoint pairs wrong, {time.perf_counter() - started:.1f} s")
    return checked, wrong


def test_examples_connect_exactly_as_their_specs_ask(example, nca, tmp_path):
    worlds = worlds_of(example)
    checked, wrong = _judge(worlds, nca, tmp_path, "examples")
    assert checked > 10_000
    assert not wrong, f"{len(wrong)} endpoint pairs wrong ({checked} checks):\n" + "\n".join(wrong[:60])


SEEDS = int(os.environ.get("TENANTC_ORACLE_SEEDS", "16"))  # more in a long run: TENANTC_ORACLE_SEEDS=200


def test_generated_tenants_connect_exactly_as_their_specs_ask(nca, tmp_path):
    from compiler.pipeline import compile_repo

    worlds = []
    for seed in range(SEEDS):
        result = compile_repo(write_repo(tmp_path / f"repo-{seed}", seed), serialize=False)
        worlds += [(f"seed{seed}", w) for w in worlds_of(result) if w.tenants]  # clusters with tenants
    checked, wrong = _judge([w for _, w in worlds], nca, tmp_path / "nca", "generated",
                            names=[f"{label}-{w.cluster}" for label, w in worlds])
    assert checked > 10_000
    assert not wrong, f"{len(wrong)} endpoint pairs wrong ({checked} checks):\n" + "\n".join(wrong[:60])


def _mutations(world) -> dict[str, list[dict]]:
    """Policy sets that each break one intent, so the oracle is seen to notice."""
    import copy

    def edit(name: str, change) -> list[dict]:
        policies = copy.deepcopy(world.policies)
        hits = [p for p in policies if p["metadata"]["name"] == name]
        assert hits, name
        for policy in hits[:1]:
            change(policy["spec"])
        return policies

    def dns_namespace_wide(spec):
        spec["egress"][0]["to"][0].pop("podSelector")

    def egress_all_ports(spec):
        for rule in spec["egress"]:
            rule.pop("ports", None)

    def open_to_all_namespaces(spec):
        spec["ingress"] = [{"from": [{"namespaceSelector": {}}]}]

    def apiserver_for_every_pod(spec):  # what tenantc rendered before: notebooks reached the API server
        spec["podSelector"] = {}

    return {
        "dns-namespace-wide": edit("allow-dns", dns_namespace_wide),
        "egress-all-ports": edit("allow-egress-cidrs", egress_all_ports),
        "no-monitoring": [p for p in world.policies if p["metadata"]["name"] != "allow-monitoring"],
        "open-to-all-namespaces": edit("allow-monitoring", open_to_all_namespaces),
        "apiserver-for-every-pod": edit("allow-apiserver-egress", apiserver_for_every_pod),
        "no-apiserver": [p for p in world.policies if p["metadata"]["name"] != "allow-apiserver-egress"],
        "no-policies-in-one-tenant": [p for p in world.policies
                                      if p["metadata"]["namespace"] != world.policies[0]["metadata"]["namespace"]],
    }


def test_the_oracle_notices_each_broken_intent(example, nca, tmp_path):
    """Mutated policy sets (a DNS rule open to the whole DNS namespace, egress CIDRs on every
    port, no monitoring, a namespace open to all, the API server open to every pod or to none,
    a tenant with no policies) each fail."""
    import dataclasses

    world = next(w for w in worlds_of(example) if w.cluster == "cpu-west")
    mutants = {name: dataclasses.replace(world, policies=policies) for name, policies in _mutations(world).items()}
    maps = connectivity(nca, [m.config(name) for name, m in mutants.items()], tmp_path)
    unnoticed = [name for name, m in mutants.items() if not compare(m, maps[name]).wrong]
    assert not unnoticed
