"""Command lines and health probes of etcd, kube-apiserver and kube-controller-manager.

Every flag that differs from upstream defaults is here with the reason. The command lines
are a pure function of (binaries, state dir, ports, extra args), all recorded in
state.json, so another process can restart a component exactly as `up` started it, on
the same ports (tests that kill the API server mid-operation rely on that).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compiler.cluster import api, readiness
from compiler.cluster.pki import Pki
from compiler.cluster.ports import LOOPBACK
from compiler.cluster.state import Layout

ETCD, APISERVER, CONTROLLER_MANAGER = "etcd", "kube-apiserver", "kube-controller-manager"
ORDER = (ETCD, APISERVER, CONTROLLER_MANAGER)  # start order; stop in reverse
PORTS = {ETCD: ("etcd-client", "etcd-peer"), APISERVER: ("apiserver",),
         CONTROLLER_MANAGER: ("controller-manager",)}  # which listener belongs to whom
PORT_NAMES = tuple(port for ports in PORTS.values() for port in ports)

SERVICE_CIDR = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Defaults (PodSecurity, Priority, webhooks ...) stay on; these are named explicitly because
# tenant isolation tests depend on them.
ADMISSION_PLUGINS = "NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota"
# What a cluster without nodes still needs: namespace deletion, quota status, ServiceAccounts
# and their tokens, owner-reference GC, the rules of the aggregated built-in ClusterRoles
# (admin/edit/view are empty without clusterrole-aggregation) and kube-root-ca.crt. Also the
# Deployment and ReplicaSet controllers (pods created by a controller pass admission as the
# controller, which the guardrail tests check) and the ValidatingAdmissionPolicy status
# controller (it type-checks policies' CEL and reports problems in status.typeChecking).
CONTROLLERS = ("namespace,resourcequota,serviceaccount,serviceaccount-token,garbagecollector,"
               "clusterrole-aggregation,root-ca-cert-publisher,deployment,replicaset,"
               "validatingadmissionpolicy-status-controller")
AUDIT_POLICY = """\
# Every request at Metadata level (who, verb, resource; no bodies): enough for tests to
# see which verbs a ServiceAccount used, without logging Secret contents.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
"""
# Installing the upstream CRDs is garbage-collection bound in the API server (every status
# update deep-copies and re-encodes schemas of hundreds of kB): collecting less often cuts
# its CPU time by about a quarter, and the soft limit keeps the heap near 1 GiB.
APISERVER_ENV = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}
START_TIMEOUT = {ETCD: 30.0, APISERVER: 120.0, CONTROLLER_MANAGER: 60.0}  # 2 busy cores are slow


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    probe: Callable[[], bool]
    timeout: float
    env: dict[str, str]


def apiserver_endpoint(pki: Pki, port: int) -> api.Endpoint:
    """The API server as the admin user (client certificate in group system:masters)."""
    return api.Endpoint(LOOPBACK, port, str(pki.ca), str(pki.cert("admin")), str(pki.key("admin")))


def build_components(binaries: Path, layout: Layout, pki: Pki, ports: dict[str, int],
                     extra_args: dict[str, list[str]] | None = None) -> dict[str, Component]:
    """The three components in start order, with their command lines and probes."""
    extra_args = extra_args or {}
    etcd_client = f"http://{LOOPBACK}:{ports['etcd-client']}"
    etcd_peer = f"http://{LOOPBACK}:{ports['etcd-peer']}"
    argv = {
        ETCD: [
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls={etcd_client}", f"--advertise-client-urls={etcd_client}",
            f"--listen-peer-urls={etcd_peer}", f"--initial-advertise-peer-urls={etcd_peer}",
            f"--initial-cluster=default={etcd_peer}",
            # A throwaway local cluster: losing the last writes on power loss is fine, and
            # skipping fsync makes every API write several times faster on slow disks.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        APISERVER: [
            f"--etcd-servers={etcd_client}",
            f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={pki.cert('apiserver')}", f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.ca}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            f"--enable-admission-plugins={ADMISSION_PLUGINS}",
            f"--audit-policy-file={layout.audit_policy}",
            f"--audit-log-path={layout.audit_log}",
            # No kubelet or node can serve a loopback endpoint for the `kubernetes` Service;
            # the endpoint reconciler would only log validation errors.
            "--endpoint-reconciler-type=none",
            # Graceful shutdown otherwise waits the full request timeout (60 s) for the
            # controller manager's open watches; this drains short requests, then closes in 2 s.
            "--shutdown-send-retry-after=true",
            "--allow-privileged=true",
            "--profiling=false",
        ],
        CONTROLLER_MANAGER: [
            f"--kubeconfig={layout.controller_manager_kubeconfig}",
            f"--bind-address={LOOPBACK}", f"--secure-port={ports['controller-manager']}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca}",
            "--use-service-account-credentials=true",
            f"--controllers={CONTROLLERS}",
            # One replica: election only adds start latency, and losing the lease while a
            # test stops the API server would make the controller manager exit.
            "--leader-elect=false",
            "--profiling=false",
        ],
    }
    probes = {
        ETCD: readiness.http_ok(LOOPBACK, ports["etcd-client"], "/health"),
        APISERVER: readiness.https_ok(apiserver_endpoint(pki, ports["apiserver"]), "/readyz"),
        CONTROLLER_MANAGER: readiness.https_ok(api.Endpoint(LOOPBACK, ports["controller-manager"]),
                                               "/healthz"),
    }
    return {name: Component(name, [str(binaries / name), *argv[name], *extra_args.get(name, [])],
                            probes[name], START_TIMEOUT[name], APISERVER_ENV if name == APISERVER else {})
            for name in ORDER}
