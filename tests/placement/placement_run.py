"""One placement run per session: nodes, tenancy, volumes, every pod, then what became of them.

Phases (each waits with a deadline, polling the API server a few times a second):
1. Nodes from the platform's pools, then (2) at once; wait until kwok reports each Ready and
   node lifecycle has lifted the not-ready taint the TaintNodesByCondition admission plugin
   puts on new Nodes.
2. Per tenant and cluster: Namespace, LimitRange, ResourceQuota, ServiceAccounts and volumes;
   wait for the quota controller's status (quota admission refuses pods until then), the
   default ServiceAccounts and Bound claims (the PV binder binds one claim at a time).
3. Every pod at once: Volcano task templates as plain pods, notebook StatefulSets through
   the statefulset controller, the cache scaler's CronJob template, Fluid cache workers.
   Wait until each is bound (and Running, by kwok) or marked Unschedulable.
4. Near the cache: label the nodes that run a dataset's cache workers as Fluid does, then
   submit each job task and notebook that mounts cached data once more with the affinity
   Fluid's webhook injects for `fluid.io/dataset.<name>.sched: required`, to the cache on its
   own kind of pool (and record which caches its claims are).
5. Beyond the quota: one pod per tenant, cluster and resource (each GPU model apart) that asks
   for more than the spec allows there; the API server must refuse it.
6. Across GPU models: for each GPU model a tenant has quota for on a cluster, a pod asking for
   one GPU of that model's resource but required onto another model's pool (tolerating its
   taints): refused, or placed nowhere, since that pool advertises another resource. So one
   model's quota can never be spent on another model's GPUs.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from placement_harness import (
    CLUSTER_LABEL,
    RUN_LABEL,
    Api,
    NodeInfo,
    Outcome,
    add_required_node_expression,
    build_nodes,
    cache_worker_template,
    confine_statefulset,
    endpoint_of,
    fluid_cache_label,
    namespace_for,
    pod_from_template,
    volume_objects,
)
from placement_intent import NEAR_CACHE_KINDS, Intent, Intents, QuotaIntent, example_intents

from compiler.kube.errors import ApiError
from compiler.pipeline import compile_repo

REPO = Path(__file__).resolve().parents[2]
NODE_TIMEOUT = 90.0
SETUP_TIMEOUT = 180.0  # the quota controller can be slow on a busy 2-core machine
PLACE_TIMEOUT = 120.0
VOLCANO = ("batch.volcano.sh", "flow.volcano.sh")
POD_TEMPLATE_KINDS = {("apps", "StatefulSet"), ("apps", "Deployment"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
                      ("batch", "Job"), ("batch", "CronJob"), ("", "Pod"), ("batch.volcano.sh", "Job"),
                      ("batch.volcano.sh", "CronJob"), ("flow.volcano.sh", "JobTemplate")}
CACHE_RUNTIMES = {"AlluxioRuntime", "JindoRuntime", "JuiceFSRuntime", "GooseFSRuntime", "EFCRuntime",
                  "VineyardRuntime"}  # ThinRuntime keeps no cache
TENANCY_KINDS = ("LimitRange", "ResourceQuota", "ServiceAccount")


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@dataclass
class Result:
    """Everything the tests assert on, gathered once per session."""

    intents: Intents
    nodes: dict[str, NodeInfo]
    pods: dict[str, list[Outcome]] = field(default_factory=dict)       # intent id -> its pods
    missing: dict[str, str] = field(default_factory=dict)              # intent id -> what was not rendered
    near_cache: dict[str, list[Outcome]] = field(default_factory=dict)  # intent id -> probes
    mounted: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # intent id -> (owner, Dataset) it mounts
    cache_nodes: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)  # (cluster, owner, ds)
    quota: dict[str, Outcome] = field(default_factory=dict)            # cluster/tenant/resource -> probe
    across_models: dict[str, Outcome] = field(default_factory=dict)    # cluster/tenant/model-on-model -> probe
    uncovered: list[str] = field(default_factory=list)                 # rendered pod templates nobody meant
    timings: dict[str, float] = field(default_factory=dict)


class Run:
    """The phases above against one scheduling ControlPlane; `run()` returns the Result."""

    def __init__(self, plane, root: Path = REPO, site: str = ""):
        """`root`: the repository to place (default: the examples); `site`: a prefix for the node
        names and the cluster label value of this run (see build_nodes)."""
        self.api = Api(endpoint_of(plane))
        self.site = site
        self.intents = example_intents(root)
        self.objects = compile_repo(root, serialize=False).objects
        self.index: dict[tuple[str, str, str, str], dict] = {}  # (cluster, tenant, kind, name)
        for path, obj in self.objects.items():
            cluster, tenant, _ = path.split("/", 2) if path.count("/") == 2 else ("", "", "")
            if cluster and not tenant.startswith("_"):
                key = (cluster, tenant, obj["kind"], obj["metadata"]["name"])
                assert key not in self.index, f"two rendered {key[2]}s named {key[3]} in {path}: look them up by group"
                self.index[key] = obj
        self.claimed: set[tuple[str, str, str, str]] = set()
        nodes, self.node_info = build_nodes(self.intents.specs.platform, site)
        self.node_bodies = nodes
        self.result = Result(self.intents, self.node_info)
        self.cases: list[tuple[str, str]] = []  # case index -> (phase, intent id)
        self.rejected: dict[tuple[str, str], Outcome] = {}
        self.started = time.monotonic()

    # -- helpers -------------------------------------------------------------------------
    def lap(self, name: str) -> None:
        self.result.timings[name] = round(time.monotonic() - self.started, 1)

    def obj(self, cluster: str, tenant: str, kind: str, name: str) -> dict | None:
        key = (cluster, tenant, kind, name)
        found = self.index.get(key)
        if found is not None:
            self.claimed.add(key)
        return found

    def units(self) -> list[tuple[str, str]]:
        return sorted({(c, t) for c, t, _, _ in self.index})

    def case(self, phase: str, intent_id: str) -> int:
        self.cases.append((phase, intent_id))
        return len(self.cases) - 1

    # -- phases ----------------------------------------------------------------------------
    def run(self) -> Result:
        wait_for_nodes = self.make_nodes()  # kwok readies them while the tenancy is made
        settled = self.make_tenancy()
        wait_for_nodes()
        self.lap("nodes ready")
        settled()
        self.lap("tenancy ready")
        self.place()
        self.lap("pods placed")
        self.near_cache()
        self.lap("near-cache probes placed")
        self.beyond_quota()
        self.lap("quota probes answered")
        self.across_models()
        self.lap("cross-model probes answered")
        self.result.uncovered = self.uncovered()
        return self.result

    def make_nodes(self) -> Callable[[], object]:
        """Create the nodes; returns the wait until they are Ready and untainted."""
        for body in self.node_bodies:
            self.api.create(body)
        names = set(self.node_info)

        def ready() -> bool:
            nodes = {n["metadata"]["name"]: n for n in self.api.items("Node")}
            for name in names:
                node = nodes.get(name) or {}
                conditions = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
                taints = {t["key"] for t in (node.get("spec") or {}).get("taints") or []}
                if conditions.get("Ready") != "True" or "node.kubernetes.io/not-ready" in taints:
                    return False
            return True

        return lambda: self.api.wait(f"nodes {sorted(names)} Ready and without the not-ready taint", ready,
                                     NODE_TIMEOUT)

    def make_tenancy(self) -> Callable[[], object]:
        """Create namespaces, tenancy objects and volumes; returns the wait until they settled."""
        claims_by_ns: dict[str, list[str]] = {}
        for cluster, tenant in self.units():
            ns = namespace_for(tenant, cluster)
            namespace = copy.deepcopy(self.obj(cluster, tenant, "Namespace", tenant))
            assert namespace is not None, f"{cluster}/{tenant}: no Namespace rendered"
            namespace["metadata"]["name"] = ns
            self.api.create(namespace)
            for (c, t, kind, _name), obj in sorted(self.index.items()):
                if (c, t) == (cluster, tenant) and kind in TENANCY_KINDS:
                    self.claimed.add((c, t, kind, _name))
                    body = copy.deepcopy(obj)
                    body["metadata"]["namespace"] = ns
                    self.api.create(body)
            unit = {(k, n): o for (c, t, k, n), o in self.index.items() if (c, t) == (cluster, tenant)}
            claims = [o for (k, _), o in unit.items() if k == "PersistentVolumeClaim"]
            datasets = [o for (k, _), o in unit.items() if k == "Dataset"]
            runtimes = {n: o for (k, n), o in unit.items() if k.endswith("Runtime")}
            for obj in volume_objects(ns, claims, datasets, runtimes):
                self.api.create(obj)
            for claim in claims:
                body = copy.deepcopy(claim)
                body["metadata"]["namespace"] = ns
                self.api.create(body)
            claims_by_ns[ns] = [c["metadata"]["name"] for c in claims] + [d["metadata"]["name"] for d in datasets]
        namespaces = [namespace_for(t, c) for c, t in self.units()]

        def settled() -> bool:
            for ns in namespaces:
                if any(not (q.get("status") or {}).get("hard") for q in self.api.items("ResourceQuota", ns)):
                    return False
                if not self.api.items("ServiceAccount", ns, fieldSelector="metadata.name=default"):
                    return False
                phases = {c["metadata"]["name"]: (c.get("status") or {}).get("phase")
                          for c in self.api.items("PersistentVolumeClaim", ns)}
                if any(phases.get(name) != "Bound" for name in claims_by_ns[ns]):
                    return False
            return True

        return lambda: self.api.wait("quota status, default ServiceAccounts and Bound claims in every namespace",
                                     settled, SETUP_TIMEOUT, interval=0.5)

    def place(self) -> None:
        expected: dict[str, list[tuple[str, str]]] = {}  # intent id -> (namespace, pod)
        for intent in self.intents.pods:
            ns = namespace_for(intent.tenant, intent.cluster)
            pods = self.pods_for(intent, ns)
            if pods is None:
                continue
            expected[intent.id] = []
            for pod in pods:
                if pod["kind"] == "StatefulSet":
                    self.api.create(pod)
                    replicas = pod["spec"].get("replicas", 1)
                    expected[intent.id] += [(ns, f"{pod['metadata']['name']}-{i}") for i in range(replicas)]
                else:
                    expected[intent.id].append((ns, pod["metadata"]["name"]))
                    self.submit(pod)
        self.result.pods = self.wait_placed(expected)

    def submit(self, pod: dict) -> Outcome | None:
        """Create a pod; an admission refusal is recorded as its outcome."""
        try:
            self.api.create(pod)
        except ApiError as exc:
            outcome = Outcome(pod["metadata"]["name"], pod["metadata"]["namespace"], rejected=str(exc))
            self.rejected[(outcome.namespace, outcome.pod)] = outcome
            return outcome
        return None

    def wait_placed(self, expected: dict[str, list[tuple[str, str]]]) -> dict[str, list[Outcome]]:
        wanted = {key for keys in expected.values() for key in keys}
        latest: dict[tuple[str, str], Outcome] = {}

        def decided() -> bool:
            latest.clear()
            latest.update(self.api.outcomes(RUN_LABEL))
            latest.update(self.rejected)
            # A bound pod counts once kwok runs it: proof its node is a live (fake) kubelet.
            return all(k in latest and latest[k].decided and (not latest[k].node or latest[k].phase == "Running")
                       for k in wanted)

        try:
            self.api.wait("every pod bound and Running, or Unschedulable", decided, PLACE_TIMEOUT, interval=0.5)
        except AssertionError:
            pass  # the tests report each undecided pod with what is known about it
        return {intent_id: [latest.get(k) or Outcome(k[1], k[0]) for k in keys] for intent_id, keys in expected.items()}

    def pods_for(self, intent: Intent, ns: str, name_suffix: str = "") -> list[dict] | None:
        """The pods (or the StatefulSet) for an intent, from what tenantc rendered."""
        case = self.case("place" if not name_suffix else "near-cache", intent.id)
        c, t = intent.cluster, intent.tenant
        confine = self.site + c  # the nodes' cluster label value of this run
        if intent.kind == "notebook":
            sts = self.obj(c, t, "StatefulSet", f"nb-{intent.workload}")
            if sts is None:
                return self.missing(intent, f"StatefulSet nb-{intent.workload}")
            if name_suffix:
                return [pod_from_template(sts["spec"]["template"], f"{sts['metadata']['name']}{name_suffix}",
                                          ns, confine, case)]
            return [confine_statefulset(sts, ns, confine, case)]
        if intent.kind == "serving":  # the Deployment's pod template, at the HPA's maxReplicas
            deployment = self.obj(c, t, "Deployment", intent.workload)
            if deployment is None:
                return self.missing(intent, f"Deployment {intent.workload}")
            template = deployment["spec"]["template"]
            if name_suffix:
                return [pod_from_template(template, f"{intent.workload}{name_suffix}", ns, confine, case)]
            return [pod_from_template(template, f"{intent.workload}-{i}", ns, confine, case)
                    for i in range(intent.replicas)]
        if intent.kind == "cache-scaler":
            name = f"{intent.workload}-{intent.task}"
            cron = self.obj(c, t, "CronJob", name)
            if cron is None or group_of(cron["apiVersion"]) != "batch":
                return self.missing(intent, f"batch/v1 CronJob {name}")
            return [pod_from_template(cron["spec"]["jobTemplate"]["spec"]["template"], f"{name}-0", ns, confine, case)]
        if intent.kind == "flow-runner":
            cron = self.obj(c, t, "CronJob", intent.workload)
            if cron is None or group_of(cron["apiVersion"]) != "batch":
                return self.missing(intent, f"batch/v1 CronJob {intent.workload}")
            template = cron["spec"]["jobTemplate"]["spec"]["template"]
            name = f"{intent.workload}-{intent.task}{name_suffix or '-0'}"
            return [pod_from_template(template, name, ns, confine, case)]
        if intent.kind == "cache-worker":
            dataset = self.obj(c, t, "Dataset", intent.workload)
            runtime = next((o for (oc, ot, k, n), o in self.index.items()
                            if (oc, ot, n) == (c, t, intent.workload) and k in CACHE_RUNTIMES), None)
            if dataset is None or runtime is None:
                return self.missing(intent, f"Dataset and cache runtime {intent.workload}")
            self.claimed.add((c, t, runtime["kind"], intent.workload))
            replicas = (runtime.get("spec") or {}).get("replicas", 1)
            template = cache_worker_template(runtime, dataset)
            return [pod_from_template(template, f"{intent.workload}-worker-{i}", ns, confine, case)
                    for i in range(replicas)]
        kind, name = {
            "job": ("Job", intent.workload),
            "schedule": ("CronJob", intent.workload),
            "flow-job": ("JobTemplate", intent.workload),
            "flow-schedule": ("JobTemplate", intent.workload),
            "data-gate": ("JobTemplate", f"{intent.workload}-data"),
            "pipeline-step": ("JobTemplate", intent.workload.replace("/", "-")),
            "template": ("JobTemplate", f"tpl-{intent.workload}"),
        }[intent.kind]
        obj = self.obj(c, t, kind, name)
        if obj is None or group_of(obj["apiVersion"]) not in VOLCANO:
            return self.missing(intent, f"Volcano {kind} {name}")
        job_spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
        task = next((x for x in job_spec.get("tasks", []) if x["name"] == intent.task), None)
        if task is None:
            return self.missing(intent, f"task {intent.task} of Volcano {kind} {name}")
        if name_suffix:
            return [pod_from_template(task["template"], f"{name}-{intent.task}{name_suffix}", ns, confine, case)]
        return [pod_from_template(task["template"], f"{name}-{intent.task}-{i}", ns, confine, case)
                for i in range(task.get("replicas", 1))]

    def missing(self, intent: Intent, what: str) -> list[dict] | None:
        """Record that tenantc rendered nothing for `intent`; there are no pods to make."""
        self.result.missing[intent.id] = f"{what} is not rendered for {intent.cluster}/{intent.tenant}"
        return None

    def near_cache(self) -> None:
        """Label cache nodes as Fluid does, then place each pod template that mounts cached data
        with Fluid's required cache affinity (fluid docs/en/operation/pod_schedule_optimization.md)
        to the cache on its own kind of pool, after checking that the claims it mounts are that
        cache's (Fluid's webhook follows the claims a pod mounts to their Datasets)."""
        labels: dict[str, dict[str, str]] = {}
        for intent in self.intents.pods:
            if intent.kind != "cache-worker":
                continue
            ns = namespace_for(intent.tenant, intent.cluster)
            nodes = {o.node for o in self.result.pods.get(intent.id, []) if o.node}
            self.result.cache_nodes[(intent.cluster, intent.tenant, intent.workload)] = nodes
            for node in nodes:
                labels.setdefault(node, {})[fluid_cache_label(ns, intent.workload)] = "true"
        for node, node_labels in labels.items():
            self.api.merge_patch("Node", node, {"metadata": {"labels": node_labels}})
        expected: dict[str, list[tuple[str, str]]] = {}
        for intent in self.intents.pods:
            if not intent.datasets or intent.kind not in NEAR_CACHE_KINDS:
                continue
            ns = namespace_for(intent.tenant, intent.cluster)
            pods = self.pods_for(intent, ns, name_suffix="-near-cache")
            if not pods:
                continue
            pod = pods[0]
            mounted = self.mounted_caches(intent.cluster, intent.tenant, pod)
            self.result.mounted[intent.id] = mounted
            for owner, cache in intent.caches:
                add_required_node_expression(pod["spec"], {
                    "key": fluid_cache_label(namespace_for(owner, intent.cluster), cache),
                    "operator": "In", "values": ["true"]})
            expected[intent.id] = [(ns, pod["metadata"]["name"])]
            self.submit(pod)
        self.result.near_cache = self.wait_placed(expected)

    def mounted_caches(self, cluster: str, tenant: str, pod: dict) -> set[tuple[str, str]]:
        """(owner, Dataset) behind each claim the pod mounts, as Fluid resolves them: the
        tenant's own Dataset of the claim's name, or the one a dataset:// mount refers to."""
        out = set()
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            dataset = self.index.get((cluster, tenant, "Dataset", claim)) if claim else None
            if dataset is None:
                continue
            points = [m["mountPoint"] for m in dataset["spec"]["mounts"]]
            if len(points) == 1 and points[0].startswith("dataset://"):
                owner, _, name = points[0].removeprefix("dataset://").partition("/")
                out.add((owner, name))
            else:
                out.add((tenant, claim))
        return out

    def beyond_quota(self) -> None:
        limits = self.intents.specs.platform.defaults.limit_range.max
        max_cpu = limits["cpu"].value if "cpu" in limits else None
        max_memory = limits["memory"].value if "memory" in limits else None
        for quota in self.intents.quotas:
            ns = namespace_for(quota.tenant, quota.cluster)
            for resource, pod in _quota_probes(quota, ns, max_cpu, max_memory):
                key = f"{quota.cluster}/{quota.tenant}/{resource}"
                try:
                    self.api.create(pod)
                except ApiError as exc:
                    self.result.quota[key] = Outcome(pod["metadata"]["name"], ns, rejected=str(exc))
                    continue
                hard = {q["metadata"]["name"]: q["spec"].get("hard") for q in self.api.items("ResourceQuota", ns)}
                asked = [c["resources"]["requests"] for c in pod["spec"]["containers"]]
                self.result.quota[key] = Outcome(pod["metadata"]["name"], ns,  # admitted
                                                 note=f"it asked for {asked}; ResourceQuota hard: {hard}")
                self.api.delete("Pod", pod["metadata"]["name"], ns)

    def across_models(self) -> None:
        """One GPU of a model's resource, required onto another model's pool: never placed."""
        platform = self.intents.specs.platform
        expected: dict[str, list[tuple[str, str]]] = {}
        for quota in self.intents.quotas:
            ns = namespace_for(quota.tenant, quota.cluster)
            cluster = platform.cluster(quota.cluster)
            assert cluster is not None
            for model, count in sorted(quota.gpus.items()):
                for other in sorted(set(quota.gpus) - {model}):
                    if count < 1:
                        continue
                    key = f"{quota.cluster}/{quota.tenant}/{model}-on-{other}"
                    pools = [p for p in cluster.pools("gpu") if p.gpu_model == other]
                    name = f"gpu-{model}-on-{other}".lower()
                    pod = pod_from_template(_other_model_template(quota.gpu_resources[model], pools), name, ns,
                                            self.site + quota.cluster, self.case("across-models", key))
                    expected[key] = [(ns, name)]
                    self.submit(pod)
        self.result.across_models = {k: v[0] for k, v in self.wait_placed(expected).items()}

    def uncovered(self) -> list[str]:
        out = []
        for (c, t, kind, name), obj in sorted(self.index.items()):
            if (c, t, kind, name) in self.claimed:
                continue
            if (group_of(obj["apiVersion"]), kind) in POD_TEMPLATE_KINDS or kind in CACHE_RUNTIMES:
                out.append(f"{c}/{t}: {kind} {name}")
        return out


def _quota_probes(quota: QuotaIntent, ns: str, max_cpu: Decimal | None,
                  max_memory: Decimal | None) -> Iterable[tuple[str, dict]]:
    """Pods asking for one unit more than the spec allows, split into containers that each
    respect the LimitRange maximum (so that only the quota can refuse them)."""
    if quota.cpu is not None:
        yield "cpu", _probe(ns, "cpu", _split(quota.cpu + 1, max_cpu), lambda v: f"{int(v * 1000)}m")
    if quota.memory is not None:
        yield "memory", _probe(ns, "memory", _split(quota.memory + 2**20, max_memory), lambda v: str(int(v)))
    for model, count in sorted(quota.gpus.items()):
        yield f"gpu-{model}", _probe(ns, quota.gpu_resources[model], [Decimal(count + 1)], lambda v: str(int(v)))


def _other_model_template(resource: str, pools: list) -> dict:
    """A pod asking for one GPU under `resource`, required onto `pools` and tolerating their taints."""
    request = {"cpu": "10m", "memory": "32Mi", resource: "1"}
    terms = [{"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(p.labels.items())]}
             for p in pools]
    tolerations = [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
                   for p in pools for t in p.taints]
    return {"spec": {"containers": [{"name": "probe", "image": "registry.example.com/ml/probe:1",
                                     "resources": {"requests": dict(request), "limits": dict(request)}}],
                     "restartPolicy": "Never", "tolerations": tolerations,
                     "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                         "nodeSelectorTerms": terms}}}}}


def _split(total: Decimal, most: Decimal | None) -> list[Decimal]:
    if most is None or total <= most:
        return [total]
    count = math.ceil(total / most)
    parts = [most] * (count - 1)
    return parts + [total - sum(parts)]


def _probe(ns: str, resource: str, amounts: list[Decimal], fmt) -> dict:
    containers = []
    for i, amount in enumerate(amounts):
        resources = {"cpu": "10m", "memory": "32Mi"}
        resources[resource] = fmt(amount)
        containers.append({"name": f"c{i}", "image": "registry.example.com/ml/probe:1",
                           "resources": {"requests": dict(resources), "limits": dict(resources)}})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"beyond-quota-{resource.replace('/', '-').replace('.', '-')}".lower(),
                         "namespace": ns},
            "spec": {"containers": containers, "restartPolicy": "Never",
                     "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                         "nodeSelectorTerms": [{"matchExpressions": [
                             {"key": CLUSTER_LABEL, "operator": "In", "values": ["none"]}]}]}}}}}
