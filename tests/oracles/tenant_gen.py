"""A seeded generator of valid repositories (platform file + tenant specs) for the oracles.

Each seed gives one repository built on the example platform (its clusters, pools, images,
templates), with the platform namespaces, API server addresses and ports varied, and 3 to 7
tenants whose network wishes, notebooks, jobs and placement are drawn at random: overlapping
egress CIDRs with and without ports on every protocol, allowed tenants on the same cluster,
on another cluster only, twice or themselves, notebooks with and without an Ingress in tenants
that do or do not let the gateway in, and projects (namespaces of their own; drawn from a
generator of their own, so the draws above stay what they were for every seed). Everything it
draws must compile; a spec the compiler rejects is a bug of the generator and fails the test
that asked for it.
"""
from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import yaml
from helpers import write_specs

REPO = Path(__file__).resolve().parents[2]
WORDS = ["alpha", "bravo", "coral", "delta", "ember", "fjord", "gamma", "harbor", "indigo", "juniper", "kepler",
         "lumen", "meadow", "nova", "orbit", "pixel", "quartz", "raven", "sierra", "tundra"]
PORTS = [22, 53, 443, 2222, 5432, 6379, 8080, 8888, 9092, 9999]


def _platform(rng: random.Random) -> dict:
    platform = yaml.safe_load((REPO / "tenants" / "platform.yaml").read_text())
    platform.pop("globalDatasets", None)  # they name an example tenant
    for cluster in platform["clusters"]:
        for pool in cluster.get("nodePools", []):
            pool.pop("tenant", None)  # resource groups name example tenants too: shared pools here
    dns, ingress, monitoring = rng.choice([
        ("kube-system", "ingress-nginx", "monitoring"),
        ("dns", "gateway", "observability"),
        ("kube-system", "istio-ingress", "prometheus")])
    platform.update(dnsNamespace=dns, ingressNamespace=ingress, monitoringNamespace=monitoring)
    # Generated egress includes 0.0.0.0/0 (prefix 0 below), which tenantc refuses without this
    # explicit opt-in (issue 14); the network oracle keeps checking what such a policy opens.
    platform["policy"] = {"allowEgressEverywhere": True}
    for cluster in platform["clusters"]:
        cluster["apiServerCidrs"] = sorted({_cidr(rng, rng.choice([32, 32, 30, 24])) for _ in range(rng.randint(0, 2))})
        cluster["apiServerPort"] = rng.choice([443, 6443])
    return platform


def _cidr(rng: random.Random, prefix: int | None = None) -> str:
    prefix = prefix if prefix is not None else rng.choice([0, 8, 12, 16, 20, 24, 28, 31, 32])
    base = rng.choice([0x0A000000, 0xAC100000, 0xC0A80000, 0xCB007100])  # 10/8, 172.16/12, 192.168/16, 203.0.113/24
    address = ipaddress.IPv4Address(base + rng.randrange(0, 1 << 16))
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _egress(rng: random.Random, earlier: list[str]) -> dict:
    cidr = rng.choice(earlier) if earlier and rng.random() < 0.2 else _cidr(rng)
    rule: dict = {"cidr": cidr}
    if rng.random() < 0.7:
        ports = []
        for _ in range(rng.randint(1, 3)):
            entry: dict = {"port": rng.choice(PORTS) if rng.random() < 0.7 else rng.randint(1, 65535)}
            protocol = rng.choice(["TCP", "TCP", "UDP", "SCTP", None])
            if protocol:
                entry["protocol"] = protocol
            ports.append(entry)
        rule["ports"] = ports
    return rule


def _tenant(rng: random.Random, name: str, names: list[str], clusters: list[str], platform: dict) -> dict:
    placed = rng.sample(clusters, rng.randint(1, len(clusters)))
    users = [f"{rng.choice(WORDS)}.{i}@example.com" for i in range(rng.randint(1, 3))]
    members = [{"user": users[0], "role": "admin"}, {"group": f"{name}-eng", "role": "edit"}]
    members += [{"user": u, "role": rng.choice(["edit", "view"])} for u in users[1:]]
    if rng.random() < 0.4:
        members.append({"group": f"{name}-readers", "role": "view"})
    if rng.random() < 0.3:
        # Once a user listed twice with another role; refused since issue 14 (one role per member).
        # The draws stay, so every seed generates the same repository otherwise.
        rng.choice(["edit", "view"])
    others = [n for n in names if n != name]
    allowed = rng.sample(others, rng.randint(0, min(3, len(others)))) if rng.random() < 0.7 else []
    if allowed and rng.random() < 0.15:
        allowed.append(allowed[0])  # listed twice
    if rng.random() < 0.1:
        allowed.append(name)  # itself
    network: dict = {"allowFromTenants": allowed}
    if rng.random() < 0.4:
        network["allowFromIngress"] = rng.random() < 0.5
    cidrs: list[str] = []
    rules = []
    for _ in range(rng.randint(0, 3)):
        rule = _egress(rng, cidrs)
        cidrs.append(rule["cidr"])
        rules.append(rule)
    if rules:
        network["egress"] = rules
    spec: dict = {
        "name": name, "displayName": name.title(), "owner": users[0], "members": members,
        "quota": {"cpu": "32", "memory": "128Gi", "pods": 100, "pvcs": 60, "storage": "3000Gi"},
        "placement": {c: {"weight": rng.randint(1, 3)} for c in placed},
        "queue": {"weight": 1, "parent": rng.choice(["research", "production"])},
        "network": network,
    }
    if rng.random() < 0.5:
        spec["storage"] = {"home": {"size": "10Gi"}}
    notebooks = []
    for user in rng.sample(users, rng.randint(0, len(users))):
        notebook: dict = {"user": user, "image": rng.choice(sorted(platform["notebooks"]["images"])), "size": "small"}
        if rng.random() < 0.5:
            notebook["cluster"] = rng.choice(placed)
        if rng.random() < 0.6:
            notebook["ingress"] = True
        notebooks.append(notebook)
    if notebooks:
        spec["notebooks"] = notebooks
    _projects(spec, name, users)
    if rng.random() < 0.5:
        spec["jobs"] = [{"name": "batch", "template": "cpu-batch", "cluster": rng.choice(placed),
                         "roles": [{"name": "worker", "image": "registry.example.com/ml/batch:1"}]}]
    return spec


def _projects(spec: dict, name: str, users: list[str]) -> None:
    """A third of the tenants get one or two projects, each with a member of its own."""
    rng = random.Random(f"{name}-projects")
    if rng.random() >= 0.35:
        return
    spec["ownShare"] = {"weight": 2}
    spec["projects"] = [{"name": word, "share": {"weight": 1},
                         "members": [{"user": f"{word}.{name}@example.com", "role": rng.choice(["edit", "view"])}]
                         + ([{"user": users[-1], "role": "view"}] if rng.random() < 0.5 else [])}
                        for word in rng.sample(WORDS, rng.randint(1, 2))]


def generate(seed: int) -> tuple[dict, list[dict]]:
    """(platform file, tenant specs) of one seed."""
    rng = random.Random(seed)
    platform = _platform(rng)
    names = [f"{w}-{seed}" for w in rng.sample(WORDS, rng.randint(3, 7))]
    clusters = [c["name"] for c in platform["clusters"]]
    return platform, [_tenant(rng, n, names, clusters, platform) for n in names]


def write_repo(root: Path, seed: int) -> Path:
    return write_specs(root, *generate(seed))
