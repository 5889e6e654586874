"""Command lines and health probes of etcd, kube-apiserver, kube-controller-manager and,
in a cluster started with the scheduler, kube-scheduler and kwok.

Every flag that differs from upstream defaults is here with the reason. The command lines
are a pure function of (binaries, state dir, ports, extra args), all recorded in
state.json, so another process can restart a component exactly as `up` started it, on
the same ports (tests that kill the API server mid-operation rely on that).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compiler.cluster import readiness
from compiler.cluster.pki import Pki
from compiler.cluster.ports import LOOPBACK
from compiler.cluster.state import Layout
from compiler.kube.transport import Endpoint

ETCD, APISERVER, CONTROLLER_MANAGER = "etcd", "kube-apiserver", "kube-controller-manager"
SCHEDULER, KWOK = "kube-scheduler", "kwok"
ORDER = (ETCD, APISERVER, CONTROLLER_MANAGER)  # start order; stop in reverse
SCHEDULING_ORDER = (*ORDER, SCHEDULER, KWOK)  # a cluster started with scheduler=True
PORTS = {ETCD: ("etcd-client", "etcd-peer"), APISERVER: ("apiserver",),
         CONTROLLER_MANAGER: ("controller-manager",), SCHEDULER: ("scheduler",),
         KWOK: ("kwok",)}  # which listener belongs to whom


def order(scheduling: bool) -> tuple[str, ...]:
    """The components of a cluster, in start order."""
    return SCHEDULING_ORDER if scheduling else ORDER


def port_names(scheduling: bool) -> list[str]:
    return [port for name in order(scheduling) for port in PORTS[name]]


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
# What scheduling onto kwok's nodes needs besides: StatefulSets create their pods (notebooks),
# node lifecycle removes the not-ready taint the TaintNodesByCondition admission plugin puts
# on every new Node once kwok reports it Ready, and the PV binder binds claims to volumes.
SCHEDULING_CONTROLLERS = "statefulset-controller,node-lifecycle-controller,persistentvolume-binder-controller"
# kwok manages only Nodes carrying this annotation, i.e. the ones tests create on purpose.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
KWOK_POD_CIDR = "10.244.0.1/16"  # pod IPs kwok hands out; apart from the service range
KWOK_CONFIG = """\
# Written by tenantc; read by kwok only (never a user's ~/.kwok/kwok.yaml). kwok v0.8 does
# nothing without stages, so these are the smallest kubelet stand-in scheduling needs:
# a managed Node reports Ready once (keeping the capacity its creator gave it) and kwok then
# renews its Lease (every 40 s by default), which keeps node lifecycle from marking it
# unreachable; a pod bound to a managed Node becomes Running with a pod IP; a deleted pod
# goes away at once, as a kubelet would confirm it. No KwokConfiguration document: kwok
# applies its option defaults only when there is none.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: tenantc-node-ready
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select(.type == "Ready") | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      {{ end }}
      addresses:
      - type: InternalIP
        address: {{ NodeIP | Quote }}
      - type: Hostname
        address: {{ .metadata.name | Quote }}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: tenantc-pod-running
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: DoesNotExist
    - key: .status.phase
      operator: In
      values: [Pending]
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      startTime: {{ $now | Quote }}
      conditions:
      {{ range list "PodScheduled" "Initialized" "ContainersReady" "Ready" }}
      - type: {{ . }}
        status: "True"
        lastTransitionTime: {{ $now | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        restartCount: 0
      {{ if eq (or .restartPolicy "") "Always" }}
        ready: true
        started: true
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ else }}
        ready: true
        state:
          terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}
      {{ end }}
      {{ end }}
      {{ with NodeIPsWith .spec.nodeName }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ with PodIPsWith .spec.nodeName false .metadata.uid .metadata.name .metadata.namespace }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: tenantc-pod-deleted
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: .metadata.deletionTimestamp
      operator: Exists
  next:
    delete: true
"""
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
START_TIMEOUT = {ETCD: 30.0, APISERVER: 120.0, CONTROLLER_MANAGER: 60.0,  # 2 busy cores are slow
                 SCHEDULER: 60.0, KWOK: 60.0}


@dataclass(frozen=True)
class Component:
    """One process to run: its command line, environment and how to tell it is ready."""

    name: str
    argv: list[str]
    probe: Callable[[], bool]
    timeout: float
    env: dict[str, str]


def apiserver_endpoint(pki: Pki, port: int) -> Endpoint:
    """The API server as the admin user (client certificate in group system:masters)."""
    return Endpoint(f"https://{LOOPBACK}:{port}", str(pki.ca), str(pki.cert("admin")), str(pki.key("admin")))


def build_components(binaries: Path, layout: Layout, pki: Pki, ports: dict[str, int],
                     extra_args: dict[str, list[str]] | None = None,
                     kwok_binaries: Path | None = None) -> dict[str, Component]:
    """The components in start order, with their command lines and probes; with
    `kwok_binaries`, a scheduling cluster (kube-scheduler and kwok too)."""
    extra_args = extra_args or {}
    scheduling = kwok_binaries is not None
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
            # Static bearer tokens (CSV: token,user,uid,"groups"), read at start; empty unless a
            # caller adds one (ControlPlane.add_static_token), so clients can be tested with tokens.
            f"--token-auth-file={layout.token_auth_file}",
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
            f"--controllers={CONTROLLERS}" + (f",{SCHEDULING_CONTROLLERS}" if scheduling else ""),
            # The PV binder retries a claim whose bind raced with another write only on its
            # periodic sync (15 s by default); tests binding dozens of claims wait for that.
            *(["--pvclaimbinder-sync-period=2s"] if scheduling else []),
            # One replica: election only adds start latency, and losing the lease while a
            # test stops the API server would make the controller manager exit.
            "--leader-elect=false",
            "--profiling=false",
        ],
    }
    probes = {
        ETCD: readiness.http_ok(LOOPBACK, ports["etcd-client"], "/health"),
        APISERVER: readiness.https_ok(apiserver_endpoint(pki, ports["apiserver"]), "/readyz"),
        # Self-signed health endpoints: liveness is all that is asked and nothing is sent.
        CONTROLLER_MANAGER: readiness.https_ok(
            Endpoint(f"https://{LOOPBACK}:{ports['controller-manager']}", insecure=True), "/healthz"),
    }
    programs = {name: binaries / name for name in ORDER}
    if kwok_binaries is not None:
        argv[SCHEDULER] = [
            f"--kubeconfig={layout.scheduler_kubeconfig}",
            f"--bind-address={LOOPBACK}", f"--secure-port={ports['scheduler']}",
            # One replica, as for the controller manager.
            "--leader-elect=false",
            "--profiling=false",
        ]
        argv[KWOK] = [
            f"--config={layout.kwok_config}",
            f"--kubeconfig={layout.kwok_kubeconfig}",
            # Only Nodes a test creates with the annotation: never a node it did not make.
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={'='.join(KWOK_NODE_ANNOTATION)}",
            f"--cidr={KWOK_POD_CIDR}",
            f"--node-ip={LOOPBACK}",
            # Plain-HTTP health and metrics on loopback only (the readiness probe).
            f"--server-address={LOOPBACK}:{ports['kwok']}",
        ]
        probes[SCHEDULER] = readiness.https_ok(
            Endpoint(f"https://{LOOPBACK}:{ports['scheduler']}", insecure=True), "/healthz")
        probes[KWOK] = readiness.http_ok(LOOPBACK, ports["kwok"], "/healthz")
        programs[SCHEDULER] = binaries / SCHEDULER
        programs[KWOK] = kwok_binaries / KWOK
    return {name: Component(name, [str(programs[name]), *argv[name], *extra_args.get(name, [])],
                            probes[name], START_TIMEOUT[name], APISERVER_ENV if name == APISERVER else {})
            for name in order(scheduling)}
