"""One table of admission cases for the guardrails, run twice: through the Python twin of
each policy (test_guardrails_offline.py) and as impersonated tenant members against the real
API server (test_guardrails_admission.py). Both must give exactly the message below (None:
admitted), which is how the rule the compiler checks and the rule the cluster enforces are
shown to be one rule.

The tenants are the examples on gpu-east: vision (A100 quota, queue under research), ads-ranking
(A100 quota, under production, imports click-logs), quant-research and ml-platform (no GPUs
there). Each violating object sits next to the closest object that is admitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

REG = "registry.example.com/ml/ or registry.example.com/platform/"
GOOD_IMAGE = "registry.example.com/ml/vision/resnet:2.0"
A100 = {"node.example.com/pool": "gpu-a100", "nvidia.com/gpu.product": "A100-SXM4-80GB"}
A100_WORDS = "gpu-a100 (node.example.com/pool=gpu-a100, nvidia.com/gpu.product=A100-SXM4-80GB)"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
CPU_OFF_GPU = ("pods without GPUs must not tolerate the GPU pools' taints (nvidia.com/gpu=present:NoSchedule), "
               "except the workers of the tenant's own caches on them")
# Fluid labels its cache workers `fluid.io/dataset: <namespace>-<dataset>` (fluid
# charts/alluxio/templates/worker/statefulset.yaml); ml-platform caches imagenet for A100 readers
# on gpu-a100 as `imagenet-a100` (and at home on the CPU pools as `imagenet`).
CACHE_WORKER = {"fluid.io/dataset": "ml-platform-imagenet-a100"}
VOLUME_WORDS = ("pods mount data only through claims, emptyDir, configMap, secret, projected, downwardAPI, "
                "ephemeral and image volumes (datasets through their claims); got volume ")

# Who acts for each tenant: a made-up user in the tenant's group with the edit (or admin) role.
MEMBER_GROUPS = {"vision": "vision-eng", "ads-ranking": "ads-ml", "quant-research": "quant-researchers",
                 "ml-platform": "platform-eng"}
MEMBER_USER = "guard-test@example.com"
# Members may not write PodGroups (tenantc's member roles); a subject bound to the built-in edit
# role (with the Volcano grants the conftest installs) may, and the queues guardrail must still
# hold it to its tenant's queue.
POD_GROUP_WRITER = "guard-edit@example.com"
POD_SECURITY = "PodSecurity"  # `by`: rejected by Pod Security Admission, before the guardrails


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    tenant: str
    obj: dict
    message: str | None  # the denial after "denied request: ", or None when admitted
    by: str = "guardrails"  # or POD_SECURITY: the level already forbids it (no guardrail renders)
    operation: str = "CREATE"
    tags: tuple[str, ...] = field(default_factory=tuple)


def affinity(labels: dict[str, str]) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(labels.items())]}]}}}


def container(image: str = GOOD_IMAGE, gpu: int = 0, name: str = "main") -> dict:
    c: dict = {"name": name, "image": image}
    if gpu:
        c["resources"] = {"limits": {"nvidia.com/gpu": str(gpu)}}
    return c


def pod(tenant: str, name: str, containers: list[dict] | None = None, annotations: dict | None = None,
        labels: dict | None = None, **spec) -> dict:
    metadata: dict = {"name": name, "namespace": tenant}
    if annotations:
        metadata["annotations"] = annotations
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": containers or [container()], **spec}}


def statefulset(tenant: str, name: str, labels: dict[str, str], **spec) -> dict:
    template = {"metadata": {"labels": labels}, "spec": {"containers": [container()], **spec}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": tenant},
            "spec": {"selector": {"matchLabels": labels}, "serviceName": name, "template": template}}


def volcano_job(tenant: str, name: str, queue: str | None, image: str = GOOD_IMAGE, **spec) -> dict:
    body: dict = {"minAvailable": 1, "schedulerName": "volcano",
                  "tasks": [{"name": "worker", "replicas": 1, "template": {"spec": {
                      "restartPolicy": "OnFailure", "containers": [container(image)]}}}], **spec}
    if queue is not None:
        body["queue"] = queue
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job",
            "metadata": {"name": name, "namespace": tenant}, "spec": body}


def podgroup(tenant: str, name: str, queue: str | None) -> dict:
    spec: dict = {"minMember": 1}
    if queue is not None:
        spec["queue"] = queue
    return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
            "metadata": {"name": name, "namespace": tenant}, "spec": spec}


def claim(tenant: str, name: str, storage_class: str | None, volume: str | None = None) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    if volume:
        spec["volumeName"] = volume
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": tenant},
            "spec": spec}


def ingress(tenant: str, name: str, host: str | None, ingress_class: str | None = "nginx", **extra) -> dict:
    spec: dict = dict(extra)
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    if host is not None:
        spec["rules"] = [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}}}}]}}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": tenant},
            "spec": spec}


def dataset(tenant: str, name: str, mount_point: str, read_only: bool | None = True,
            modes: list[str] | None = None) -> dict:
    mount: dict = {"mountPoint": mount_point, "name": name}
    if read_only is not None:
        mount["readOnly"] = read_only
    spec: dict = {"mounts": [mount]}
    if modes is not None:
        spec["accessModes"] = modes
    return {"apiVersion": "data.fluid.io/v1alpha1", "kind": "Dataset", "metadata": {"name": name, "namespace": tenant},
            "spec": spec}


def deployment(tenant: str, name: str, image: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": tenant},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container(image)]}}}}


def cronjob(tenant: str, name: str, image: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": tenant},
            "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [container(image)]}}}}}}


def volcano_cronjob(tenant: str, name: str, queue: str) -> dict:
    job = volcano_job(tenant, name, queue)
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": tenant},
            "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": job["spec"]}}}


def params_configmap(tenant: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tenantc-guardrails", "namespace": tenant},
            "data": data}


def _m(rule: str, tenant: str, text: str) -> str:
    return f"{rule}: tenant {tenant}: {text}"


CASES: list[Case] = [
    # registries: the prefix ends at a '/', and every container (init too) counts
    Case("registries-docker-hub", "registries", "vision",
         pod("vision", "hub", [container("docker.io/library/busybox:1.36")]),
         _m("registries", "vision", f"images must come from {REG}; got docker.io/library/busybox:1.36")),
    Case("registries-lookalike-host", "registries", "vision",
         pod("vision", "evil", [container("registry.example.com.evil/ml/x:1")]),
         _m("registries", "vision", f"images must come from {REG}; got registry.example.com.evil/ml/x:1")),
    Case("registries-init-container", "registries", "ads-ranking",
         pod("ads-ranking", "init", [container()], initContainers=[container("ghcr.io/x/fetch:1", name="fetch")]),
         _m("registries", "ads-ranking", f"images must come from {REG}; got ghcr.io/x/fetch:1")),
    Case("registries-allowed", "registries", "vision", pod("vision", "ok", [container()]), None),
    Case("registries-deployment-template", "registries", "ml-platform",
         deployment("ml-platform", "web", "docker.io/nginx:1.27"),
         _m("registries", "ml-platform", f"images must come from {REG}; got docker.io/nginx:1.27")),
    Case("registries-deployment-allowed", "registries", "ml-platform",
         deployment("ml-platform", "web", "registry.example.com/platform/web:1"), None),
    Case("registries-cronjob", "registries", "quant-research", cronjob("quant-research", "nightly", "quay.io/q/x:1"),
         _m("registries", "quant-research", f"images must come from {REG}; got quay.io/q/x:1")),
    # queues: Volcano jobs, pod groups and volcano-scheduled pods
    Case("queues-other-tenant", "queues", "vision", volcano_job("vision", "steal", "ads-ranking"),
         _m("queues", "vision", "spec.queue must be vision; got ads-ranking")),
    Case("queues-platform-parent", "queues", "vision", volcano_job("vision", "parent", "research"),
         _m("queues", "vision", "spec.queue must be vision; got research")),
    Case("queues-own", "queues", "vision", volcano_job("vision", "own", "vision"), None),
    # (the PodGroup CRD defaults spec.queue to 'default' before admission sees it)
    Case("queues-podgroup-default", "queues", "quant-research", podgroup("quant-research", "pg", "default"),
         _m("queues", "quant-research", "spec.queue must be quant-research; got default")),
    Case("queues-podgroup-own", "queues", "quant-research", podgroup("quant-research", "pg", "quant-research"), None),
    Case("queues-volcano-cronjob", "queues", "quant-research", volcano_cronjob("quant-research", "cron", "production"),
         _m("queues", "quant-research", "spec.queue must be quant-research; got production")),
    Case("queues-pod-annotation", "queues", "ml-platform",
         pod("ml-platform", "vc", annotations={"scheduling.volcano.sh/queue-name": "vision"}, schedulerName="volcano"),
         _m("queues", "ml-platform", "pods scheduled by Volcano must name queue ml-platform; got vision")),
    Case("queues-pod-annotation-own", "queues", "ml-platform",
         pod("ml-platform", "vc", annotations={"scheduling.volcano.sh/queue-name": "ml-platform"},
             schedulerName="volcano"), None),
    # priority classes: production-high only under the production queue
    Case("priority-research-tenant", "priority-classes", "vision",
         pod("vision", "prio", priorityClassName="production-high"),
         _m("priority-classes", "vision", "priorityClassName must be one of batch-low, training-normal; "
                                          "got production-high")),
    Case("priority-production-tenant", "priority-classes", "ads-ranking",
         pod("ads-ranking", "prio", priorityClassName="production-high"), None),
    Case("priority-volcano-job", "priority-classes", "vision",
         volcano_job("vision", "prio", "vision", priorityClassName="production-high"),
         _m("priority-classes", "vision", "priorityClassName must be one of batch-low, training-normal; "
                                          "got production-high")),
    Case("priority-allowed", "priority-classes", "vision",
         pod("vision", "prio", priorityClassName="training-normal"), None),
    # storage classes
    Case("storage-unknown-class", "storage-classes", "vision", claim("vision", "scratch", "premium-ssd"),
         _m("storage-classes", "vision", "storageClassName must be one of ssd-rwo, nas-rwx; got premium-ssd")),
    Case("storage-named-volume", "storage-classes", "vision", claim("vision", "scratch", "ssd-rwo", "pv-of-someone"),
         _m("storage-classes", "vision", "claims must not bind a named volume (spec.volumeName); got pv-of-someone")),
    Case("storage-allowed", "storage-classes", "vision", claim("vision", "scratch", "nas-rwx"), None),
    Case("storage-fluid-own-dataset", "storage-classes", "vision",
         claim("vision", "imagenet", "fluid", "vision-imagenet"),
         None),
    Case("storage-fluid-other-namespace", "storage-classes", "vision",
         claim("vision", "imagenet", "fluid", "ml-platform-imagenet"),
         _m("storage-classes", "vision", "storageClassName must be one of ssd-rwo, nas-rwx; got fluid")),
    # ingress: class, hosts of the tenant, no catch-all
    Case("ingress-class", "ingress", "vision", ingress("vision", "web", "mei.vision.notebooks.example.com", "traefik"),
         _m("ingress", "vision", "ingressClassName must be nginx; got traefik")),
    Case("ingress-other-tenant-host", "ingress", "vision",
         ingress("vision", "web", "x.ads-ranking.notebooks.example.com"),
         _m("ingress", "vision", "hosts must match one of *.vision.notebooks.example.com, *.vision.models.example.com; "
                                 "got x.ads-ranking.notebooks.example.com")),
    Case("ingress-two-labels", "ingress", "vision", ingress("vision", "web", "a.b.vision.notebooks.example.com"),
         _m("ingress", "vision", "hosts must match one of *.vision.notebooks.example.com, *.vision.models.example.com; "
                                 "got a.b.vision.notebooks.example.com")),
    Case("ingress-catch-all", "ingress", "vision",
         ingress("vision", "web", None, defaultBackend={"service": {"name": "web", "port": {"number": 80}}}),
         _m("ingress", "vision", "an Ingress must not set defaultBackend (it would take unmatched "
                                 "traffic of every host)")),
    Case("ingress-allowed", "ingress", "vision", ingress("vision", "web", "mei.vision.notebooks.example.com"), None),
    # a serving's host (platform serving.ingressHost, issue 16)
    Case("ingress-serving-allowed", "ingress", "vision",
         ingress("vision", "web", "detector.vision.models.example.com"), None),
    # GPU pools
    Case("gpu-without-affinity", "gpu-pools", "vision", pod("vision", "gpu", [container(gpu=1)]),
         _m("gpu-pools", "vision", f"pods that request GPUs must require node affinity (or a "
                                   f"nodeSelector) to {A100_WORDS}")),
    Case("gpu-without-quota", "gpu-pools", "quant-research",
         pod("quant-research", "gpu", [container(gpu=1)], affinity=affinity(A100), tolerations=[GPU_TOLERATION]),
         _m("gpu-pools", "quant-research", "the tenant has no GPU quota on gpu-east; pods must not "
                                           "request nvidia.com/gpu, nvidia.com/h100")),
    Case("gpu-pinned", "gpu-pools", "ads-ranking",
         pod("ads-ranking", "gpu", [container(gpu=2)], affinity=affinity(A100), tolerations=[GPU_TOLERATION]), None),
    Case("gpu-node-selector", "gpu-pools", "vision",
         pod("vision", "gpu", [container(gpu=1)], nodeSelector=dict(A100)), None),
    Case("cpu-tolerates-gpu-taint", "gpu-pools", "ml-platform", pod("ml-platform", "cpu", tolerations=[GPU_TOLERATION]),
         _m("gpu-pools", "ml-platform", CPU_OFF_GPU)),
    Case("cpu-tolerates-everything", "gpu-pools", "ml-platform",
         pod("ml-platform", "cpu", tolerations=[{"operator": "Exists"}]),
         _m("gpu-pools", "ml-platform", CPU_OFF_GPU)),
    Case("cache-worker-on-its-gpu-pool", "gpu-pools", "ml-platform",
         pod("ml-platform", "imagenet-a100-worker-0", labels=CACHE_WORKER, affinity=affinity(A100),
             tolerations=[GPU_TOLERATION]), None),
    Case("cache-worker-statefulset", "gpu-pools", "ml-platform",
         statefulset("ml-platform", "imagenet-a100-worker", CACHE_WORKER, affinity=affinity(A100),
                      tolerations=[GPU_TOLERATION]), None),
    Case("cache-worker-unpinned", "gpu-pools", "ml-platform",
         pod("ml-platform", "imagenet-a100-worker-0", labels=CACHE_WORKER, tolerations=[GPU_TOLERATION]),
         _m("gpu-pools", "ml-platform", CPU_OFF_GPU)),
    Case("cache-worker-of-a-cpu-cache", "gpu-pools", "ml-platform",
         pod("ml-platform", "imagenet-worker-0", labels={"fluid.io/dataset": "ml-platform-imagenet"},
             affinity=affinity(A100), tolerations=[GPU_TOLERATION]),
         _m("gpu-pools", "ml-platform", CPU_OFF_GPU)),
    Case("cache-worker-of-another-tenant", "gpu-pools", "vision",
         pod("vision", "imagenet-a100-worker-0", labels=CACHE_WORKER, affinity=affinity(A100),
             tolerations=[GPU_TOLERATION]),
         _m("gpu-pools", "vision", CPU_OFF_GPU)),
    Case("cpu-other-toleration", "gpu-pools", "ml-platform",
         pod("ml-platform", "cpu", tolerations=[{"key": "fluid.io/cache", "operator": "Exists"}]), None),
    Case("node-name", "gpu-pools", "vision", pod("vision", "pinned", nodeName="gpu-node-1"),
         _m("gpu-pools", "vision", "pods must not set nodeName (it skips the scheduler and every pool rule); "
                                   "got gpu-node-1")),
    # datasets
    Case("datasets-not-exported", "datasets", "vision",
         dataset("vision", "results", "dataset://quant-research/backtest-results"),
         _m("datasets", "vision", "Datasets may mount only the tenant's datasets and imports "
                                  "(one of dataset://ml-platform/imagenet, dataset://ml-platform/imagenet-a100); "
                                  "got dataset://quant-research/backtest-results")),
    Case("datasets-import-read-only", "datasets", "ads-ranking",
         dataset("ads-ranking", "click-logs", "dataset://ml-platform/click-logs", read_only=False,
                 modes=["ReadWriteMany"]),
         _m("datasets", "ads-ranking", "an imported dataset is read-only unless its owner grants "
                                       "write (readOnly: true, "
                                       "accessModes [ReadOnlyMany]); got dataset://ml-platform/click-logs")),
    Case("datasets-import-allowed", "datasets", "ads-ranking",
         # a name of its own: the rendered Dataset click-logs may exist (the permissions oracle applies it)
         dataset("ads-ranking", "click-logs-case", "dataset://ml-platform/click-logs", modes=["ReadOnlyMany"]), None),
    Case("datasets-pod-nfs", "datasets", "vision",
         pod("vision", "nfs", volumes=[{"name": "data", "nfs": {"server": "nas.example.com", "path": "/exports/ads"}}]),
         _m("datasets", "vision", VOLUME_WORDS + "data")),
    Case("datasets-pod-claim", "datasets", "vision",
         pod("vision", "claim", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "imagenet"}}]), None),
    # host access: the example's baseline level already forbids it (Pod Security answers first)
    Case("host-network-baseline", "host-access", "vision",
         pod("vision", "host", hostNetwork=True), None, by=POD_SECURITY),
]


def case_ids() -> list[str]:
    return [c.id for c in CASES]
