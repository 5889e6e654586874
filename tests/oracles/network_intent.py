"""The connectivity a platform file and its tenant specs ask for, and its comparison with what
the outside analyzer computes over the rendered NetworkPolicies.

The intent below is written from the specs alone (never from tenantc's rendered policies):

* pods of one tenant reach each other on every port, within and across its namespaces (its
  own and its projects' '<tenant>-<project>');
* a tenant's pods reach the cluster DNS (pods labelled `k8s-app: kube-dns` in the platform's
  DNS namespace) on 53/UDP and 53/TCP, and nothing else there;
* a tenant's pods reach each `network.egress` CIDR on its listed ports (every port when none
  is listed);
* only the pods that run tenantc-agent (a container with the platform's `agentImage`: job
  sidecars, data gates, cache scalers, pipeline runners) reach the cluster's `apiServerCidrs`
  on its `apiServerPort`/TCP; a notebook, a member's own pod or a cache worker does not
  (NetworkPolicies cannot tell a sidecar from its pod, so the whole pod of a job gets it);
* the monitoring namespace reaches every pod of every tenant (scrapes; no port is specified);
* the ingress gateway namespace reaches a notebook's pod on Jupyter's port (8888/TCP), and a
  serving's pods on its serving template's port (the platform file's `serving.templates`), when
  the notebook or serving asks for an Ingress and the tenant keeps `allowFromIngress` (the
  default); nothing else of the tenant;
* tenant A reaches every pod of tenant B when B lists A in `network.allowFromTenants`: B's
  ingress and A's egress must both allow it, or the traffic does not flow; from and to every
  namespace of each (projects included);
* everything else to or from a tenant pod is closed (other tenants, other pods of the DNS,
  gateway and monitoring namespaces, unrelated namespaces, any other address).

Traffic between two non-tenant endpoints is not tenantc's business and is not judged.

Representative pods per tenant namespace: one pod per distinct label set among the pod
templates the tenant's rendered objects carry (StatefulSets, Deployments, Volcano Job/CronJob tasks, flow
JobTemplates, CronJobs: what their controllers create), plus one bare pod standing for anything
else (a member's own pod, Fluid's cache workers); and a bare pod in each project's namespace,
named by the spec ('<tenant>-<project>').
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

from netanalyzer import ConnectivityMap, NetworkConfig

JUPYTER_PORT = 8888  # Jupyter's documented default port; what the notebook Ingress leads to
DNS_LABELS = {"k8s-app": "kube-dns"}  # how CoreDNS/kube-dns pods are labelled in kube-system
NS_NAME = "kubernetes.io/metadata.name"  # set on every Namespace by the API server
OUTSIDER_NAMESPACE = "default"  # a namespace no tenant owns (tenant names exclude it)
# Ports probed on every pair besides those the specs name: common service ports, a high port,
# the lowest port, and each protocol.
BASE_PROBES = [("TCP", 53), ("UDP", 53), ("TCP", JUPYTER_PORT), ("TCP", 80), ("TCP", 443), ("TCP", 8080),
               ("TCP", 9090), ("UDP", 9000), ("SCTP", 9999), ("TCP", 1), ("TCP", 65535)]


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    tenant: str | None = None  # tenant namespace it lives in
    stands_for: tuple[str, ...] = ()  # 'Kind/name' of the rendered objects whose pods it represents
    runs_agent: bool = False  # one of its containers runs the platform's agent image

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def manifest(self) -> dict:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)},
                "spec": {"containers": [{"name": "main", "image": "registry.example.com/any:1"}]}}


@dataclass
class ClusterWorld:
    """One cluster: the specs that concern it and the endpoints standing for its traffic."""

    cluster: str
    platform: object  # compiler.model.platform.Platform
    tenants: dict  # tenant name -> Tenant spec, for tenants placed on this cluster
    all_tenants: dict  # every tenant spec of the repository
    policies: list[dict]
    pods: list[Pod] = field(default_factory=list)
    addresses: list[ipaddress.IPv4Address] = field(default_factory=list)
    gateway_targets: dict[str, int] = field(default_factory=dict)  # pod key -> the port the gateway must reach

    @property
    def spec_cluster(self):
        return next(c for c in self.platform.clusters if c.name == self.cluster)

    def namespaces(self) -> list[str]:
        p = self.platform
        projects = {n for t in self.tenants.values() for n in project_namespaces(t)}
        return sorted({*self.tenants, *projects, p.dns_namespace, p.ingress_namespace, p.monitoring_namespace,
                       OUTSIDER_NAMESPACE})

    def config(self, name: str) -> NetworkConfig:
        return NetworkConfig(
            name=name,
            namespaces=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {NS_NAME: n}}}
                        for n in self.namespaces()],
            pods=[p.manifest() for p in self.pods],
            policies=self.policies,
        )

    def probes(self) -> list[tuple[str, int]]:
        extra = {(p.protocol, p.port) for t in self.tenants.values() for r in t.network.egress for p in r.ports}
        extra.add(("TCP", self.spec_cluster.api_server_port))
        extra |= {("TCP", port) for port in self.gateway_targets.values()}
        return sorted(set(BASE_PROBES) | extra)


def project_namespaces(tenant) -> list[str]:
    """The namespaces of a tenant's projects, as the spec names them (issue 16)."""
    return [f"{tenant.name}-{p.name}" for p in tenant.projects]


def _pod_templates(value, path: str = "") -> Iterator[dict]:
    """Every pod template inside a rendered object (a dict whose spec has containers)."""
    if isinstance(value, dict):
        spec = value.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("containers"), list):
            yield value
            return
        for child in value.values():
            yield from _pod_templates(child)
    elif isinstance(value, list):
        for child in value:
            yield from _pod_templates(child)


def build_world(cluster: str, platform, tenant_specs: list, objects: dict,
                gateway_pods: dict[str, int]) -> ClusterWorld:
    """The world of one cluster from the specs (who is where, what is wanted) and the rendered
    objects of that cluster (the NetworkPolicies under test, and the pod templates whose pods
    will exist). `gateway_pods` maps 'tenant/Kind/name' of each notebook StatefulSet and
    serving Deployment whose spec asks for the gateway to the port it must reach."""
    placed = {t.name: t for t in tenant_specs if cluster in t.placement}
    world = ClusterWorld(cluster, platform, placed, {t.name: t for t in tenant_specs}, policies=[])
    by_tenant: dict[str, dict[tuple, list[str]]] = {name: {} for name in placed}  # (labels, agent) -> sources
    for path, obj in sorted(objects.items()):
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != cluster or parts[1] not in placed:
            continue
        if obj["kind"] == "NetworkPolicy":
            world.policies.append(obj)
        for template in _pod_templates(obj.get("spec", {})):
            labels = tuple(sorted((template.get("metadata") or {}).get("labels", {}).items()))
            key = (labels, _runs_agent(template["spec"], platform.agent_image))
            by_tenant[parts[1]].setdefault(key, []).append(f"{obj['kind']}/{obj['metadata']['name']}")
    for tenant, groups in by_tenant.items():
        bare = ("a pod without labels", *groups.pop(((), False), []))
        world.pods.append(Pod(tenant, "bare", (), tenant, bare))
        for i, ((labels, agent), sources) in enumerate(sorted(groups.items())):
            pod = Pod(tenant, f"pod-{i}", labels, tenant, tuple(sources), runs_agent=agent)
            world.pods.append(pod)
            for source in sources:
                if f"{tenant}/{source}" in gateway_pods:
                    world.gateway_targets[pod.key] = gateway_pods[f"{tenant}/{source}"]
    for tenant in placed.values():
        world.pods += [Pod(ns, "bare", (), tenant.name, ("a pod of the project",)) for ns in project_namespaces(tenant)]
    p = platform
    world.pods += [
        Pod(p.dns_namespace, "kube-dns", tuple(DNS_LABELS.items())),
        Pod(p.dns_namespace, "metrics-server", (("k8s-app", "metrics-server"),)),
        Pod(p.ingress_namespace, "gateway", (("app.kubernetes.io/name", "ingress-nginx"),)),
        Pod(p.monitoring_namespace, "prometheus", (("app.kubernetes.io/name", "prometheus"),)),
        Pod(OUTSIDER_NAMESPACE, "web", (("app", "web"),)),
    ]
    world.addresses = _addresses(world)
    return world


def _runs_agent(pod_spec: dict, agent_image: str) -> bool:
    containers = [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]
    return any(c.get("image") == agent_image for c in containers)


def _addresses(world: ClusterWorld) -> list[ipaddress.IPv4Address]:
    """Addresses at and just beyond both ends of every CIDR the specs name, plus far-away ones."""
    cidrs = [ipaddress.ip_network(r.cidr) for t in world.tenants.values() for r in t.network.egress]
    cidrs += [ipaddress.ip_network(c) for c in world.spec_cluster.api_server_cidrs]
    out = {ipaddress.IPv4Address("8.8.8.8"), ipaddress.IPv4Address("192.168.200.7"),
           ipaddress.IPv4Address("172.31.255.254")}
    for net in cidrs:
        if net.version != 4:
            continue
        for address in (int(net.network_address) - 1, int(net.network_address), int(net.broadcast_address),
                        int(net.broadcast_address) + 1):
            if 0 <= address < 2 ** 32:
                out.add(ipaddress.IPv4Address(address))
    return sorted(out)


# ---- the intent ----------------------------------------------------------------------------

def intended(world: ClusterWorld, src: Pod | ipaddress.IPv4Address, dst: Pod | ipaddress.IPv4Address,
             protocol: str, port: int) -> bool | None:
    """Whether the specs ask for this connection to be open; None when tenantc has no say."""
    p, cluster = world.platform, world.spec_cluster
    src_tenant = src.tenant if isinstance(src, Pod) else None
    dst_tenant = dst.tenant if isinstance(dst, Pod) else None
    if src_tenant is None and dst_tenant is None:
        return None
    if src_tenant and dst_tenant:
        if src_tenant == dst_tenant:
            return True
        return src_tenant in world.tenants[dst_tenant].network.allow_from_tenants
    if src_tenant:  # from a tenant to the platform, an outsider or an address
        spec = world.tenants[src_tenant]
        if isinstance(dst, Pod):
            is_dns = dst.namespace == p.dns_namespace and set(DNS_LABELS.items()) <= set(dst.labels)
            return is_dns and port == 53 and protocol in ("UDP", "TCP")
        for rule in spec.network.egress:
            if dst in ipaddress.ip_network(rule.cidr) and (
                    not rule.ports or any((x.protocol, x.port) == (protocol, port) for x in rule.ports)):
                return True
        in_api = any(dst in ipaddress.ip_network(c) for c in cluster.api_server_cidrs)
        return src.runs_agent and in_api and protocol == "TCP" and port == cluster.api_server_port
    # into a tenant from the platform, an outsider or an address
    assert isinstance(dst, Pod) and dst_tenant
    if not isinstance(src, Pod):
        return False
    if src.namespace == p.monitoring_namespace:
        return True
    if src.namespace == p.ingress_namespace:
        return (dst.key in world.gateway_targets and world.tenants[dst_tenant].network.allow_from_ingress
                and (protocol, port) == ("TCP", world.gateway_targets[dst.key]))
    return False


@dataclass
class Verdict:
    checked: int = 0
    open_checked: int = 0
    wrong: list[str] = field(default_factory=list)


def compare(world: ClusterWorld, analysed: ConnectivityMap) -> Verdict:
    """Every (source, destination, protocol/port) the intent judges, against the analyzer."""
    verdict = Verdict()
    endpoints: list[Pod | ipaddress.IPv4Address] = [*world.pods, *world.addresses]
    probes = world.probes()
    for src in endpoints:
        for dst in endpoints:
            if src == dst or (not isinstance(src, Pod) and not isinstance(dst, Pod)):
                continue
            connections = analysed.between(_key(src), _key(dst))
            misses: dict[bool, list[str]] = {True: [], False: []}
            for protocol, port in probes:
                want = intended(world, src, dst, protocol, port)
                if want is None:
                    continue
                got = any(c.allows(protocol, port) for c in connections)
                verdict.checked += 1
                verdict.open_checked += want
                if got != want:
                    misses[want].append(f"{protocol}/{port}")
            for want, ports in misses.items():
                if ports:
                    verdict.wrong.append(f"{world.cluster}: {_name(src)} -> {_name(dst)}: intended "
                                         f"{'open' if want else 'closed'}, analyzer says {'closed' if want else 'open'}"
                                         f" on {', '.join(ports)}")
    return verdict


def _key(endpoint):
    return endpoint.key if isinstance(endpoint, Pod) else endpoint


def _name(endpoint) -> str:
    if isinstance(endpoint, Pod):
        return endpoint.key + (f" ({', '.join(endpoint.stands_for[:2])})" if endpoint.tenant else "")
    return str(endpoint)


def worlds_of(result) -> list[ClusterWorld]:
    """One world per cluster of a compiled repository (a compiler.pipeline.CompileResult)."""
    from helpers import notebook_intents  # how a notebook's objects are named, what it leaves to defaults

    tenants = [t.tenant for t in result.specs.tenants]
    ports = {t.name: t.port for t in result.specs.platform.serving.templates}
    gateway = {f"{t.name}/StatefulSet/{nb.name}": JUPYTER_PORT
               for t in tenants for nb in notebook_intents(t) if nb.ingress}
    gateway |= {f"{t.name}/Deployment/{sv.name}": ports[sv.template]
                for t in tenants for sv in t.servings if sv.ingress}
    objects = dict(result.objects.items())
    return [build_world(c.name, result.specs.platform, tenants, objects, gateway)
            for c in result.specs.platform.clusters]
