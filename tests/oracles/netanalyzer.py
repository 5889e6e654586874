"""The outside NetworkPolicy analyzer: network-config-analyzer ("nca", IBM/np-guard, PyPI).

nca pins exact versions of its own dependencies (PyYAML==6.0.2 among them) while tenantc's
kubernetes client needs PyYAML>=6.0.3, so the two cannot share one environment without
downgrading tenantc's runtime libraries. nca therefore gets a virtualenv of its own in the
user cache, keyed by its version (like the control plane binaries), and runs as a separate
process: nothing of tenantc is imported on its side, it only reads the YAML files we hand it.

`python tests/oracles/netanalyzer.py` installs it (`make test` does this first);
`--cached` only reports whether it is there. Set TENANTC_NCA to an `nca` executable to use
another installation.

Output read here: the connectivity map (`connectivityMap` query of a scheme file, format
`txt_no_fw_rules`, endpoints `pods`), one line per allowed (source, destination, connection
cube): `ns/pod => 10.40.0.0-10.40.255.255 : {protocols:TCP,dst_ports:443,9092}`. Pairs that
are not listed have no connection at all.
"""
from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

VERSION = "2.1.0"
REQUIREMENT = f"network-config-analyzer=={VERSION}"
PROTOCOLS = ("TCP", "UDP", "SCTP")

# What nca may say on stderr/stdout about our inputs without the analysis being wrong: a
# namespaceSelector for a namespace that has no pods on this cluster (an allowed tenant that is
# placed elsewhere) selects nothing, and the scheme-level (global) lists are empty on purpose.
BENIGN = (
    re.compile(r"selects no pods"),
    re.compile(r"^Warning: global - namespaces and pods were not found"),
    re.compile(r"^Warning: policies will be taken from the provided networkPolicy list key"),
)
NOISE = re.compile(r"^(global|[\w.-]+): cluster has \d+ unique endpoints|^Finished parsing|^Running query|"
                   r"^wrote query output|^Query .* finished|^(Parsing|Queries|Total) (run )?time|^$")


class AnalyzerUnavailable(Exception):
    """nca could not be installed (no package index reachable, no Python venv module)."""


def home() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tenantc" / f"nca-{VERSION}"


def executable() -> Path:
    return Path(os.environ["TENANTC_NCA"]) if os.environ.get("TENANTC_NCA") else home() / "bin" / "nca"


def installed() -> Path | None:
    exe = executable()
    ready = exe.exists() and (os.environ.get("TENANTC_NCA") or (home() / ".installed").exists())
    return exe if ready else None


def install(python: str = sys.executable) -> Path:
    """The analyzer in its own venv (made once; concurrent callers wait on a lock): its executable."""
    if (found := installed()) is not None:
        return found
    target = home()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".nca-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (found := installed()) is not None:
            return found
        shutil.rmtree(target, ignore_errors=True)  # a half-made venv from an interrupted run
        steps = [[python, "-m", "venv", str(target)],
                 [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  REQUIREMENT]]
        for argv in steps:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                raise AnalyzerUnavailable(f"{' '.join(argv[:4])} ... failed:\n{result.stderr[-2000:]}")
        (target / ".installed").write_text(REQUIREMENT + "\n")
    return target / "bin" / "nca"


# ---- connections ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Connections:
    """A set of (protocol, port) pairs, as nca prints it: all, none, or cubes of protocols x ports."""

    everything: bool = False
    cubes: tuple[tuple[frozenset[str], tuple[tuple[int, int], ...] | None], ...] = ()  # ports None = all
    negated: bool = False  # "All but {...}"

    def allows(self, protocol: str, port: int) -> bool:
        if self.everything:
            return True
        hit = any(protocol in protocols and (ports is None or any(lo <= port <= hi for lo, hi in ports))
                  for protocols, ports in self.cubes)
        return hit != self.negated


def parse_connections(text: str) -> Connections:
    """'All connections' | 'No connections' | 'All but <cubes>' | '{protocols:TCP, UDP,dst_ports:53,80-90},{...}'.

    Anything else (source ports, ICMP types, HTTP methods: nca's other dimensions) raises, so a
    connection the oracle does not understand can never read as closed."""
    text = text.strip()
    if text == "All connections":
        return Connections(everything=True)
    if text == "No connections":
        return Connections()
    negated = text.startswith("All but ")
    body = text[len("All but "):] if negated else text
    cubes = re.findall(r"\{([^{}]*)\}", body)
    if not cubes or ",".join("{" + c + "}" for c in cubes) != body.replace("}, {", "},{"):
        raise ValueError(f"unknown nca connection format: {text!r}")
    parsed = []
    for cube in cubes:
        fields: dict[str, list[str]] = {}
        current = None
        for piece in cube.split(","):
            piece = piece.strip()
            if ":" in piece:
                current, _, piece = piece.partition(":")
                fields[current] = []
            if current is None:
                raise ValueError(f"unknown nca connection format: {text!r}")
            fields[current].append(piece.strip())
        unknown = set(fields) - {"protocols", "dst_ports"}
        if unknown:
            raise ValueError(f"nca reports dimensions the oracle does not model ({sorted(unknown)}): {text!r}")
        protocols = frozenset(fields.get("protocols", PROTOCOLS))
        if not protocols <= set(PROTOCOLS):
            raise ValueError(f"unknown protocols in {text!r}")
        ports = None
        if "dst_ports" in fields:
            ports = tuple((int(p.split("-")[0]), int(p.split("-")[-1])) for p in fields["dst_ports"])
        parsed.append((protocols, ports))
    return Connections(cubes=tuple(parsed), negated=negated)


# ---- endpoints and the map -----------------------------------------------------------------

IpRange = tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]


def _endpoint(text: str) -> str | IpRange:
    """'ns/pod' stays a string; '10.0.0.0-10.0.255.255' or '10.96.0.1' becomes an address range."""
    if "/" in text:
        return text
    low, _, high = text.partition("-")
    return ipaddress.IPv4Address(low), ipaddress.IPv4Address(high or low)


@dataclass
class ConnectivityMap:
    """What nca says is allowed between the pods and address ranges of one configuration."""

    lines: list[tuple[str | IpRange, str | IpRange, Connections]] = field(default_factory=list)

    def _matches(self, side: str | IpRange, endpoint: str | ipaddress.IPv4Address) -> bool:
        if isinstance(endpoint, str):
            return side == endpoint
        return isinstance(side, tuple) and side[0] <= endpoint <= side[1]

    def between(self, src: str | ipaddress.IPv4Address, dst: str | ipaddress.IPv4Address) -> list[Connections]:
        return [conn for s, d, conn in self.lines if self._matches(s, src) and self._matches(d, dst)]

    def allows(self, src, dst, protocol: str, port: int) -> bool:
        return any(c.allows(protocol, port) for c in self.between(src, dst))


def parse_map(text: str) -> ConnectivityMap:
    out = ConnectivityMap()
    for line in text.splitlines():
        if not line.strip():
            continue
        match = re.fullmatch(r"(\S+) => (\S+) : (.+)", line.strip())
        if not match:
            raise ValueError(f"unexpected nca output line: {line!r}")
        out.lines.append((_endpoint(match[1]), _endpoint(match[2]), parse_connections(match[3])))
    return out


# ---- running it ----------------------------------------------------------------------------

@dataclass
class NetworkConfig:
    """One cluster as nca sees it: its namespaces, representative pods and NetworkPolicies."""

    name: str
    namespaces: list[dict]
    pods: list[dict]
    policies: list[dict]


class AnalyzerError(Exception):
    """nca failed, or said something about our inputs that could make its answer wrong."""


def connectivity(nca: Path, configs: list[NetworkConfig], workdir: Path) -> dict[str, ConnectivityMap]:
    """Connectivity maps of many configurations from one nca process (a scheme file with one
    `connectivityMap` query per configuration)."""
    workdir.mkdir(parents=True, exist_ok=True)
    scheme: dict = {"networkConfigList": [], "queries": []}
    for config in configs:
        folder = workdir / config.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "namespaces.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList",
                                                                "items": config.namespaces}))
        (folder / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": config.pods}))
        (folder / "policies.yaml").write_text(yaml.safe_dump_all(config.policies) if config.policies else "")
        scheme["networkConfigList"].append({
            "name": config.name, "namespaceList": str(folder / "namespaces.yaml"),
            "podList": str(folder / "pods.yaml"), "networkPolicyList": [str(folder / "policies.yaml")]})
        scheme["queries"].append({
            "name": f"map-{config.name}", "connectivityMap": [config.name],
            "outputConfiguration": {"outputFormat": "txt_no_fw_rules", "outputEndpoints": "pods",
                                    "outputPath": str(folder / "connectivity.txt")}})
    (workdir / "scheme.yaml").write_text(yaml.safe_dump(scheme, sort_keys=False))
    result = subprocess.run([str(nca), "--scheme", str(workdir / "scheme.yaml")], capture_output=True, text=True,
                            timeout=900, cwd=workdir)
    said = [line for line in (result.stdout + "\n" + result.stderr).splitlines()
            if not NOISE.search(line) and not any(p.search(line) for p in BENIGN)]
    if result.returncode != 0 or said:
        raise AnalyzerError(f"nca exit {result.returncode}; it said:\n" + "\n".join(said[:40]))
    return {c.name: parse_map((workdir / c.name / "connectivity.txt").read_text()) for c in configs}


if __name__ == "__main__":
    if sys.argv[1:] == ["--cached"]:
        sys.exit(0 if installed() else 1)
    print(install())
