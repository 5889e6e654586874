"""The guardrails as CEL validations of ValidatingAdmissionPolicies, each with a Python twin.

A validation is (rule, CEL expression, CEL messageExpression, Python check). The check takes
the same inputs as the CEL (the object, the operation, the tenant's parameters, the cluster's
facts) and returns the message the API server would return, or None when it admits. Tests run
a shared table of cases through both (tests/guardrails/).

Policies are cut by object *shape* (where the pod specs, the queue, the class live), not by
rule: the API server type-checks a policy's CEL against every kind it matches, and a field
path valid for a Pod is not for a Deployment. So each shape's policy carries every rule that
applies to it, and every denial message starts with the rule id and the tenant:

    registries: tenant vision: images must come from registry.example.com/ml/; got docker.io/x

Notes on the CEL, measured against kube-apiserver 1.37:
  - lists in parameters are single-space separated strings, split and filtered of '' here;
  - container `resources` are read through dyn(): the type checker's Pod model has no
    `limits`/`requests` (quantity maps), while admission evaluates them fine;
  - the Kubernetes quantity library compares GPU counts, so '0', 0 and '0m' are all zero.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compiler import fluid
from compiler.guardrails.rules import (
    FLUID_STORAGE_CLASS,
    INGRESS_CLASS_ANNOTATION,
    PARAMS_NAME,
    POLICY_PREFIX,
    QUEUE_ANNOTATIONS,
    VOLUME_TYPES,
    VOLUME_WORDS,
    ClusterFacts,
    TenantParams,
    host_allowed,
    image_allowed,
    one_of,
)
from compiler.quantity import Quantity, QuantityError


def lit(value: Any) -> str:
    """A Python string, list or dict of strings as a CEL literal (JSON's syntax is CEL's)."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True)


@dataclass(frozen=True)
class Admission:
    """What a validation sees: the CEL variables `object`, `oldObject`, `request` and `params`,
    plus whether the requester may change guardrails (the CEL `authorizer` check)."""

    obj: dict
    operation: str = "CREATE"
    namespace: str = ""
    params: TenantParams | None = None
    facts: ClusterFacts | None = None
    may_manage_guardrails: bool = False
    namespace_terminating: bool = False

    def p(self, key: str) -> tuple[str, ...]:
        return self.params.get(key) if self.params else ()

    @property
    def tenant(self) -> str:
        return self.namespace


Check = Callable[[Admission], "str | None"]


@dataclass(frozen=True)
class Validation:
    """One CEL validation of a policy and its Python twin."""

    rule: str
    expression: str
    message: str  # a CEL messageExpression
    check: Check


@dataclass(frozen=True)
class Shape:
    """Objects whose fields sit in the same places; one policy each."""

    name: str
    resources: tuple[tuple[str, str, tuple[str, ...]], ...]  # (group, version, resources)
    operations: tuple[str, ...]
    templates: Callable[[dict], list[dict]] | None = None  # pod-like {metadata, spec} objects
    templates_cel: str | None = None
    pod_queues: bool = False  # the templates' queue annotations count (no job-level queue)
    queue: Callable[[dict], str | None] | None = None  # the job-level queue field
    queue_cel: str | None = None
    priority: Callable[[dict], str | None] | None = None  # a job-level priorityClassName
    priority_cel: str | None = None
    params: bool = True  # reads the tenant's parameters
    resource_names: tuple[str, ...] = ()
    # CEL: an UPDATE is judged only when this is true (it changed what the rules read).
    changed: str = "object.spec != oldObject.spec"

    @property
    def policy_name(self) -> str:
        return POLICY_PREFIX + self.name


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _tasks(spec: dict | None) -> list[dict]:
    return [t.get("template") or {} for t in (spec or {}).get("tasks") or []]


CORE, APPS, BATCH = "", "apps", "batch"
# pod queue annotations, the legacy ingress class annotation
_ANNOTATIONS_CHANGED = ("(has(object.metadata.annotations) ? object.metadata.annotations : {}) != "
                        "(has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {})")
VOLCANO_BATCH, VOLCANO_FLOW, VOLCANO_SCHEDULING = "batch.volcano.sh", "flow.volcano.sh", "scheduling.volcano.sh"
WRITE = ("CREATE", "UPDATE")

SHAPES: tuple[Shape, ...] = (
    Shape("pods", ((CORE, "v1", ("pods", "pods/ephemeralcontainers")),), WRITE,
          templates=lambda o: [o], templates_cel="[object]", pod_queues=True,
          changed="object.spec != oldObject.spec || " + _ANNOTATIONS_CHANGED),
    Shape("pod-templates", ((APPS, "v1", ("deployments", "replicasets", "statefulsets", "daemonsets")),
                            (BATCH, "v1", ("jobs",)), (CORE, "v1", ("replicationcontrollers",))),
          WRITE, templates=lambda o: [_get(o, "spec", "template") or {}],
          templates_cel="[object.spec.template]", pod_queues=True,
          changed="object.spec.template != oldObject.spec.template"),
    Shape("cronjobs", ((BATCH, "v1", ("cronjobs",)),), WRITE,
          templates=lambda o: [_get(o, "spec", "jobTemplate", "spec", "template") or {}],
          templates_cel="[object.spec.jobTemplate.spec.template]", pod_queues=True,
          changed="object.spec.jobTemplate != oldObject.spec.jobTemplate"),
    Shape("volcano-jobs", ((VOLCANO_BATCH, "v1alpha1", ("jobs",)), (VOLCANO_FLOW, "v1alpha1", ("jobtemplates",))),
          WRITE, templates=lambda o: _tasks(o.get("spec")),
          templates_cel="has(object.spec.tasks) ? object.spec.tasks.map(t, t.template) : []",
          queue=lambda o: _get(o, "spec", "queue") or "",
          queue_cel="has(object.spec.queue) ? object.spec.queue : ''",
          priority=lambda o: _get(o, "spec", "priorityClassName"),
          priority_cel="has(object.spec.priorityClassName) ? [object.spec.priorityClassName] : []"),
    Shape("volcano-cronjobs", ((VOLCANO_BATCH, "v1alpha1", ("cronjobs",)),), WRITE,
          templates=lambda o: _tasks(_get(o, "spec", "jobTemplate", "spec")),
          templates_cel="has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.tasks) ? "
                        "object.spec.jobTemplate.spec.tasks.map(t, t.template) : []",
          queue=lambda o: _get(o, "spec", "jobTemplate", "spec", "queue") or "",
          queue_cel="has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.queue) ? "
                    "object.spec.jobTemplate.spec.queue : ''",
          priority=lambda o: _get(o, "spec", "jobTemplate", "spec", "priorityClassName"),
          priority_cel="has(object.spec.jobTemplate.spec) && has(object.spec.jobTemplate.spec.priorityClassName) "
                       "? [object.spec.jobTemplate.spec.priorityClassName] : []",
          changed="object.spec.jobTemplate != oldObject.spec.jobTemplate"),
    Shape("podgroups", ((VOLCANO_SCHEDULING, "v1beta1", ("podgroups",)),), WRITE,
          queue=lambda o: _get(o, "spec", "queue") or "",
          queue_cel="has(object.spec.queue) ? object.spec.queue : ''",
          priority=lambda o: _get(o, "spec", "priorityClassName"),
          priority_cel="has(object.spec.priorityClassName) ? [object.spec.priorityClassName] : []",
          changed="(has(object.spec.queue) ? object.spec.queue : '') != (has(oldObject.spec.queue) ? "
                  "oldObject.spec.queue : '') || (has(object.spec.priorityClassName) ? object.spec.priorityClassName "
                  ": '') != (has(oldObject.spec.priorityClassName) ? oldObject.spec.priorityClassName : '')"),
    Shape("claims", ((CORE, "v1", ("persistentvolumeclaims",)),), ("CREATE",)),
    Shape("ingresses", (("networking.k8s.io", "v1", ("ingresses",)),), WRITE,
          changed="object.spec != oldObject.spec || " + _ANNOTATIONS_CHANGED),
    Shape("datasets", (("data.fluid.io", "v1alpha1", ("datasets",)),), WRITE),
    Shape("parameters", ((CORE, "v1", ("configmaps",)),), ("CREATE", "UPDATE", "DELETE"), params=False,
          resource_names=(PARAMS_NAME,)),
)
SHAPE_BY_NAME = {s.name: s for s in SHAPES}


# -- parameters and messages -------------------------------------------------------------------

def param(key: str) -> str:
    """The CEL list of a parameter (a space-separated string in the ConfigMap)."""
    return f"params.data[{lit(key)}].split(' ').filter(x, x != '')"


def _prefix(rule: str) -> str:
    return f"{lit(rule + ': tenant ')} + request.namespace + {lit(': ')}"


def _py_prefix(rule: str, a: Admission) -> str:
    return f"{rule}: tenant {a.tenant}: "


def _one_of_cel(var: str, none: str) -> str:
    """CEL twin of rules.one_of."""
    return f"({var}.size() == 0 ? {lit(none)} : {var}.size() == 1 ? {var}[0] : 'one of ' + {var}.join(', '))"


# -- pod specs ---------------------------------------------------------------------------------

def _containers(s: str) -> str:
    """CEL: init and app containers of pod spec `s` (same type, so they concatenate)."""
    return f"((has({s}.initContainers) ? {s}.initContainers : []) + (has({s}.containers) ? {s}.containers : []))"


def _py_containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


IMAGES = ("variables.specs.map(s, "
          "(has(s.initContainers) ? s.initContainers.map(c, has(c.image) ? c.image : '') : []) + "
          "(has(s.containers) ? s.containers.map(c, has(c.image) ? c.image : '') : []) + "
          "(has(s.ephemeralContainers) ? s.ephemeralContainers.map(c, has(c.image) ? c.image : '') : []) + "
          "(has(s.volumes) ? s.volumes.filter(v, has(v.image)).map(v, has(v.image.reference) ? v.image.reference : '') "
          ": [])).flatten()")


def _py_images(specs: list[dict]) -> list[str]:
    out = []
    for s in specs:
        for key in ("initContainers", "containers", "ephemeralContainers"):
            out += [c.get("image", "") for c in s.get(key) or []]
        out += [(v["image"] or {}).get("reference", "") for v in s.get("volumes") or [] if "image" in v]
    return out


def _gpu_quantity_cel(res: str, g: str) -> str:
    return " || ".join(f"(has({res}.{part}) && {g} in {res}.{part} && "
                       f"quantity(string({res}.{part}[{g}])).isGreaterThan(quantity('0')))"
                       for part in ("limits", "requests"))


def _requests_gpu_cel(s: str, facts: ClusterFacts) -> str:
    res = "dyn(c.resources)"
    return (f"{_containers(s)}.exists(c, has(c.resources) && {lit(list(facts.gpu_resources))}.exists(g, "
            f"{_gpu_quantity_cel(res, 'g')}))")


def _positive(value: Any) -> bool:
    try:
        return Quantity.parse(str(value)).value > 0
    except QuantityError:
        return False


def _py_requests_gpu(spec: dict, facts: ClusterFacts) -> bool:
    for c in _py_containers(spec):
        resources = c.get("resources") or {}
        for g in facts.gpu_resources:
            for part in ("limits", "requests"):
                amounts = resources.get(part) or {}
                if g in amounts and _positive(amounts[g]):
                    return True
    return False


def _pins_cel(facts: ClusterFacts, pools: str = "variables.allowedPools") -> str:
    """CEL over pod spec `s`: pinned to one of `pools` (the allowed pools; `variables.poolLabels`:
    any GPU pool) by nodeSelector, or by required node affinity whose every term pins one of them
    (terms are ORed)."""
    term_pins = (f"{pools}.exists(p, variables.poolLabels[p].all(k, has(t.matchExpressions) && "
                 "t.matchExpressions.exists(e, e.key == k && e.operator == 'In' && has(e.values) && "
                 "e.values.size() > 0 && e.values.all(x, x == variables.poolLabels[p][k]))))")
    req = "s.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    return (f"((has(s.nodeSelector) && {pools}.exists(p, variables.poolLabels[p].all(k, "
            "k in s.nodeSelector && s.nodeSelector[k] == variables.poolLabels[p][k]))) || "
            f"(has(s.affinity) && has(s.affinity.nodeAffinity) && has({req}) && "
            f"has({req}.nodeSelectorTerms) && {req}.nodeSelectorTerms.size() > 0 && "
            f"{req}.nodeSelectorTerms.all(t, {term_pins})))")


def _py_pins(spec: dict, pools: list[dict[str, str]]) -> bool:
    selector = spec.get("nodeSelector") or {}
    if any(all(selector.get(k) == v for k, v in labels.items()) for labels in pools):
        return True
    terms = _get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                 "nodeSelectorTerms") or []

    def term_pins(term: dict, labels: dict[str, str]) -> bool:
        return all(any(e.get("key") == k and e.get("operator") == "In" and e.get("values")
                       and all(x == v for x in e["values"]) for e in term.get("matchExpressions") or [])
                   for k, v in labels.items())

    return bool(terms) and all(any(term_pins(t, labels) for labels in pools) for t in terms)


def _tolerates_cel(t: str, x: str) -> str:
    return (f"((!has({t}.effect) || {t}.effect == '' || {t}.effect == {x}.effect) && "
            f"((has({t}.operator) && {t}.operator == 'Exists') ? "
            f"(!has({t}.key) || {t}.key == '' || {t}.key == {x}.key) "
            f": (has({t}.key) && {t}.key == {x}.key && (has({t}.value) ? {t}.value : '') == {x}.value)))")


def _py_tolerates(t: dict, taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    if t.get("effect") and t["effect"] != effect:
        return False
    if t.get("operator") == "Exists":
        return not t.get("key") or t["key"] == key
    return bool(t.get("key")) and t["key"] == key and t.get("value", "") == value


def _taint_words(facts: ClusterFacts) -> str:
    return ", ".join(f"{k}={v}:{e}" if v else f"{k}:{e}" for k, v, e in facts.gpu_taints())


# -- the validations, per rule -------------------------------------------------------------------

def _registries(shape: Shape) -> list[Validation]:
    def check(a: Admission) -> str | None:
        allowed = a.p("registries")
        bad = [i for i in _py_images(_specs(shape, a.obj)) if not image_allowed(i, allowed)]
        if not bad:
            return None
        return _py_prefix("registries", a) + f"images must come from {' or '.join(allowed)}; got {bad[0]}"

    return [Validation(
        "registries", "variables.badImages.size() == 0",
        f"{_prefix('registries')} + 'images must come from ' + variables.registries.join(' or ') + "
        "'; got ' + variables.badImages[0]", check)]


def _priority_names(shape: Shape, obj: dict) -> list[str]:
    names = [s.get("priorityClassName") for s in _specs(shape, obj)]
    if shape.priority is not None:
        names.insert(0, shape.priority(obj))
    return [n for n in names if n]


def _priority_classes(shape: Shape) -> list[Validation]:
    none = "unset (the tenant may use no priority class)"

    def check(a: Admission) -> str | None:
        allowed = a.p("priorityClasses")
        bad = [n for n in _priority_names(shape, a.obj) if n not in allowed]
        if not bad:
            return None
        return _py_prefix("priority-classes", a) + f"priorityClassName must be {one_of(allowed, none)}; got {bad[0]}"

    return [Validation(
        "priority-classes", "variables.badPriorities.size() == 0",
        f"{_prefix('priority-classes')} + 'priorityClassName must be ' + "
        f"{_one_of_cel('variables.priorityClasses', none)} + '; got ' + variables.badPriorities[0]", check)]


def _queue_words(queue: str) -> str:
    return queue or "none (Volcano's default queue)"


def _queues(shape: Shape) -> list[Validation]:
    none = "none (the tenant has no queue on this cluster)"
    out = []
    if shape.queue is not None:
        def job_check(a: Admission) -> str | None:
            allowed, queue = a.p("queues"), shape.queue(a.obj) if shape.queue else ""
            if queue in allowed:
                return None
            return _py_prefix("queues", a) + f"spec.queue must be {one_of(allowed, none)}; " \
                                             f"got {_queue_words(queue or '')}"

        out.append(Validation(
            "queues", "variables.queue in variables.queues",
            f"{_prefix('queues')} + 'spec.queue must be ' + {_one_of_cel('variables.queues', none)} + '; got ' + "
            "(variables.queue == '' ? \"none (Volcano's default queue)\" : variables.queue)", job_check))
    if shape.pod_queues:
        def pod_check(a: Admission) -> str | None:
            allowed = a.p("queues")
            bad = [q for q in _py_pod_queues(shape, a.obj) if q not in allowed]
            if not bad:
                return None
            return _py_prefix("queues", a) + f"pods scheduled by Volcano must name queue {one_of(allowed, none)}; " \
                                             f"got {bad[0]}"

        out.append(Validation(
            "queues", "variables.badPodQueues.size() == 0",
            f"{_prefix('queues')} + 'pods scheduled by Volcano must name queue ' + "
            f"{_one_of_cel('variables.queues', none)} + '; got ' + variables.badPodQueues[0]", pod_check))
    return out


POD_QUEUES = ("variables.templates.filter(t, has(t.spec.schedulerName) && t.spec.schedulerName == 'volcano' && "
              "has(t.metadata) && has(t.metadata.annotations)).map(t, "
              f"{lit(list(QUEUE_ANNOTATIONS))}.filter(k, k in t.metadata.annotations)"
              ".map(k, t.metadata.annotations[k])).flatten()")


def _py_pod_queues(shape: Shape, obj: dict) -> list[str]:
    out = []
    for t in shape.templates(obj) if shape.templates else []:
        if _get(t, "spec", "schedulerName") != "volcano":
            continue
        annotations = _get(t, "metadata", "annotations") or {}
        out += [annotations[k] for k in QUEUE_ANNOTATIONS if k in annotations]
    return out


def _gpu_pools(facts: ClusterFacts) -> list[Validation]:
    resources = ", ".join(facts.gpu_resources)

    def pools_words(allowed: list[str]) -> str:
        pools = [facts.pool(p) for p in allowed]
        return " or ".join(f"{p.name} ({p.describe()})" for p in pools if p)

    def pinned_check(a: Admission) -> str | None:
        allowed = [p for p in a.p("gpuPools") if facts.pool(p)]
        labels = [facts.pool(p).labels for p in allowed]  # type: ignore[union-attr]
        for s in _specs_of(a):
            if _py_requests_gpu(s, facts) and not _py_pins(s, labels):
                if not allowed:
                    return _py_prefix("gpu-pools", a) + f"the tenant has no GPU quota on {facts.cluster}; " \
                                                        f"pods must not request {resources}"
                return _py_prefix("gpu-pools", a) + "pods that request GPUs must require node affinity (or a " \
                                                    f"nodeSelector) to {pools_words(allowed)}"
        return None

    out = [Validation(
        "gpu-pools", f"variables.specs.all(s, !({_requests_gpu_cel('s', facts)}) || {_pins_cel(facts)})",
        f"{_prefix('gpu-pools')} + (variables.allowedPools.size() == 0 ? "
        f"{lit(f'the tenant has no GPU quota on {facts.cluster}; pods must not request {resources}')} : "
        "'pods that request GPUs must require node affinity (or a nodeSelector) to ' + "
        "variables.allowedPools.map(p, p + ' (' + variables.poolWords[p] + ')').join(' or '))", pinned_check)]
    taints = facts.gpu_taints()
    if facts.cpu_off_gpu_pools and taints:
        words = _taint_words(facts)

        taint_words = f"pods without GPUs must not tolerate the GPU pools' taints ({words}), except the " \
                      f"workers of the tenant's own caches on them"

        def taint_check(a: Admission) -> str | None:
            if _py_gpu_cache_worker(a, facts):
                return None
            for s in _specs_of(a):
                if not _py_requests_gpu(s, facts) and any(_py_tolerates(t, x) for t in s.get("tolerations") or []
                                                          for x in taints):
                    return _py_prefix("gpu-pools", a) + taint_words
            return None
        out.append(Validation(
            "gpu-pools", f"(variables.gpuCacheWorker && variables.specs.all(s, "
                         f"{_pins_cel(facts, 'variables.poolLabels')})) || "
                         f"variables.specs.all(s, {_requests_gpu_cel('s', facts)} || !has(s.tolerations) || "
                         f"s.tolerations.all(t, !variables.gpuTaints.exists(x, {_tolerates_cel('t', 'x')})))",
            f"{_prefix('gpu-pools')} + {lit(taint_words)}", taint_check))
    return out


# A cache worker: Fluid labels it with its dataset (compiler.fluid.WORKER_DATASET_LABEL), one of the
# tenant's caches on a GPU pool (parameter gpuCaches). It may tolerate the GPU taints only pinned to
# a GPU pool (as Fluid pins it, from the Dataset's node affinity): the cache of a tenant without
# GPU quota of its own serves the tenants that import its dataset.
GPU_CACHE_WORKER_CEL = (f"variables.templates.all(t, has(t.metadata) && has(t.metadata.labels) && "
                        f"{lit(fluid.WORKER_DATASET_LABEL)} in t.metadata.labels && "
                        f"t.metadata.labels[{lit(fluid.WORKER_DATASET_LABEL)}] in {param('gpuCaches')})")


def _py_gpu_cache_worker(a: Admission, facts: ClusterFacts) -> bool:
    shape = SHAPE_BY_NAME[_shape_of(a.obj)]
    templates = shape.templates(a.obj) if shape.templates else []
    caches = a.p("gpuCaches")
    labels = [pool.labels for pool in facts.gpu_pools]
    return all((_get(t, "metadata", "labels") or {}).get(fluid.WORKER_DATASET_LABEL) in caches for t in templates) \
        and all(_py_pins(t["spec"], labels) for t in templates if "spec" in t)


def _node_name(shape: Shape) -> Validation:
    def check(a: Admission) -> str | None:
        for s in _specs_of(a):
            if s.get("nodeName"):
                return _py_prefix("gpu-pools", a) + "pods must not set nodeName (it skips the scheduler and " \
                                                    f"every pool rule); got {s['nodeName']}"
        return None

    return Validation(
        "gpu-pools", "variables.specs.all(s, !has(s.nodeName) || s.nodeName == '')",
        f"{_prefix('gpu-pools')} + 'pods must not set nodeName (it skips the scheduler and every pool rule); got ' + "
        "variables.specs.filter(s, has(s.nodeName) && s.nodeName != '')[0].nodeName", check)


_HOST_CEL = {
    "privileged": "variables.specs.all(s, "
                  f"{_containers('s')}.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || "
                  "!c.securityContext.privileged) && (!has(s.ephemeralContainers) || s.ephemeralContainers.all(c, "
                  "!has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)))",
    "hostPath": "variables.specs.all(s, !has(s.volumes) || s.volumes.all(v, !has(v.hostPath)))",
    "hostNetwork": "variables.specs.all(s, !has(s.hostNetwork) || !s.hostNetwork)",
    "hostPID": "variables.specs.all(s, !has(s.hostPID) || !s.hostPID)",
}
_HOST_WORDS = {"privileged": "privileged containers", "hostPath": "hostPath volumes",
               "hostNetwork": "hostNetwork", "hostPID": "hostPID"}


def _py_host(feature: str, spec: dict) -> bool:
    if feature == "privileged":
        containers = _py_containers(spec) + list(spec.get("ephemeralContainers") or [])
        return any(_get(c, "securityContext", "privileged") for c in containers)
    if feature == "hostPath":
        return any("hostPath" in v for v in spec.get("volumes") or [])
    return bool(spec.get(feature))


def _host_access(facts: ClusterFacts) -> list[Validation]:
    out = []
    for feature in facts.host_features:
        words = f"pods must not use {_HOST_WORDS[feature]} (the platform forbids it)"

        def check(a: Admission, feature: str = feature, words: str = words) -> str | None:
            return _py_prefix("host-access", a) + words if any(_py_host(feature, s) for s in _specs_of(a)) else None

        out.append(Validation("host-access", _HOST_CEL[feature], f"{_prefix('host-access')} + {lit(words)}", check))
    return out


def _volume_ok_cel(v: str) -> str:
    return "(" + " || ".join(f"has({v}.{t})" for t in VOLUME_TYPES) + ")"


def _pod_volumes() -> Validation:
    words = f"pods mount data only through {VOLUME_WORDS} (datasets through their claims); got volume "

    def check(a: Admission) -> str | None:
        for s in _specs_of(a):
            for v in s.get("volumes") or []:
                if not any(t in v for t in VOLUME_TYPES):
                    return _py_prefix("datasets", a) + words + str(v.get("name", ""))
        return None

    return Validation(
        "datasets", "variables.badVolumes.size() == 0",
        f"{_prefix('datasets')} + {lit(words)} + variables.badVolumes[0]", check)


def _specs(shape: Shape, obj: dict) -> list[dict]:
    return [t.get("spec") or {} for t in shape.templates(obj)] if shape.templates else []


def _specs_of(a: Admission) -> list[dict]:
    shape = SHAPE_BY_NAME[_shape_of(a.obj)]
    return _specs(shape, a.obj)


def _shape_of(obj: dict) -> str:
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    for shape in SHAPES:
        for g, _, resources in shape.resources:
            if g == group and any(_KIND_OF.get(r) == kind for r in resources):
                return shape.name
    raise KeyError(f"no guardrail shape for {api_version} {kind}")


_KIND_OF = {"pods": "Pod", "deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
            "daemonsets": "DaemonSet", "jobs": "Job", "replicationcontrollers": "ReplicationController",
            "cronjobs": "CronJob", "jobtemplates": "JobTemplate",
            "podgroups": "PodGroup", "persistentvolumeclaims": "PersistentVolumeClaim", "ingresses": "Ingress",
            "datasets": "Dataset", "configmaps": "ConfigMap"}


def shape_of(obj: dict) -> Shape | None:
    try:
        return SHAPE_BY_NAME[_shape_of(obj)]
    except KeyError:
        return None


# -- object-specific rules ---------------------------------------------------------------------

def _claims() -> list[Validation]:
    none = "none (the platform declares no storage classes)"

    def fluid(a: Admission) -> bool:
        spec = a.obj.get("spec") or {}
        return spec.get("storageClassName") == FLUID_STORAGE_CLASS and \
            spec.get("volumeName") == f"{a.namespace}-{_get(a.obj, 'metadata', 'name')}"

    def class_check(a: Admission) -> str | None:
        allowed, cls = a.p("storageClasses"), _get(a.obj, "spec", "storageClassName") or ""
        if fluid(a) or cls in allowed:
            return None
        return _py_prefix("storage-classes", a) + f"storageClassName must be {one_of(allowed, none)}; " \
                                                  f"got {cls or 'none'}"

    def volume_check(a: Admission) -> str | None:
        name = _get(a.obj, "spec", "volumeName") or ""
        if fluid(a) or not name:
            return None
        return _py_prefix("storage-classes", a) + "claims must not bind a named volume (spec.volumeName); got " + name

    return [
        Validation("storage-classes", "variables.fluidClaim || variables.claimClass in variables.storageClasses",
                   f"{_prefix('storage-classes')} + 'storageClassName must be ' + "
                   f"{_one_of_cel('variables.storageClasses', none)} + '; got ' + "
                   "(variables.claimClass == '' ? 'none' : variables.claimClass)", class_check),
        Validation("storage-classes",
                   "variables.fluidClaim || !has(object.spec.volumeName) || object.spec.volumeName == ''",
                   f"{_prefix('storage-classes')} + 'claims must not bind a named volume (spec.volumeName); got ' + "
                   "object.spec.volumeName", volume_check),
    ]


HOST_MATCH = ("variables.ingressHosts.exists(p, h == p || (p.startsWith('*.') && h.endsWith(p.substring(1)) && "
              "h.size() > p.size() - 1 && !h.substring(0, h.size() - p.size() + 1).contains('.')))")


def _py_ingress_classes(obj: dict) -> list[str]:
    names = [_get(obj, "spec", "ingressClassName"), (_get(obj, "metadata", "annotations") or {}).get(
        INGRESS_CLASS_ANNOTATION)]
    return [n for n in names if n is not None]


def _py_ingress_hosts(obj: dict) -> list[str]:
    spec = obj.get("spec") or {}
    hosts = [r.get("host", "") for r in spec.get("rules") or []]
    return hosts + [h for t in spec.get("tls") or [] for h in t.get("hosts") or []]


def _ingress() -> list[Validation]:
    none_class = "none (the platform allows the tenant no ingress class)"
    none_host = "none (the platform allows the tenant no ingress host)"

    def class_check(a: Admission) -> str | None:
        allowed, names = a.p("ingressClasses"), _py_ingress_classes(a.obj)
        bad = [n for n in names if n not in allowed] or ([] if names else [""])
        if not bad:
            return None
        return _py_prefix("ingress", a) + f"ingressClassName must be {one_of(allowed, none_class)}; " \
                                          f"got {bad[0] or 'none'}"

    def host_check(a: Admission) -> str | None:
        allowed = a.p("ingressHosts")
        bad = [h for h in _py_ingress_hosts(a.obj) if not host_allowed(h, allowed)]
        if not bad:
            return None
        return _py_prefix("ingress", a) + f"hosts must match {one_of(allowed, none_host)}; " \
                                          f"got {bad[0] or 'a rule without host'}"

    def backend_check(a: Admission) -> str | None:
        if _get(a.obj, "spec", "defaultBackend") is None:
            return None
        return _py_prefix("ingress", a) + "an Ingress must not set defaultBackend (it would take unmatched " \
                                          "traffic of every host)"

    return [
        Validation("ingress", "variables.badIngressClasses.size() == 0",
                   f"{_prefix('ingress')} + 'ingressClassName must be ' + "
                   f"{_one_of_cel('variables.ingressClasses', none_class)} "
                   "+ '; got ' + (variables.badIngressClasses[0] == '' ? 'none' : variables.badIngressClasses[0])",
                   class_check),
        Validation("ingress", "variables.badHosts.size() == 0",
                   f"{_prefix('ingress')} + 'hosts must match ' + {_one_of_cel('variables.ingressHosts', none_host)} + "
                   "'; got ' + (variables.badHosts[0] == '' ? 'a rule without host' : variables.badHosts[0])",
                   host_check),
        Validation("ingress", "!has(object.spec.defaultBackend)",
                   f"{_prefix('ingress')} + 'an Ingress must not set defaultBackend (it would take unmatched traffic "
                   "of every host)'", backend_check),
    ]


def _datasets() -> list[Validation]:
    none = "none (the tenant has no datasets on this cluster)"

    def mounts(obj: dict) -> list[dict]:
        return list(_get(obj, "spec", "mounts") or [])

    def mount_check(a: Admission) -> str | None:
        allowed = a.p("datasetMounts")
        bad = [m.get("mountPoint", "") for m in mounts(a.obj) if m.get("mountPoint", "") not in allowed]
        if not bad:
            return None
        return _py_prefix("datasets", a) + f"Datasets may mount only the tenant's datasets and imports " \
                                           f"({one_of(allowed, none)}); got {bad[0]}"

    def read_only_check(a: Admission) -> str | None:
        writable = a.p("writableDatasets")
        modes = _get(a.obj, "spec", "accessModes")
        for m in mounts(a.obj):
            point = m.get("mountPoint", "")
            if point.startswith("dataset://") and point not in writable and not (
                    m.get("readOnly") and (modes is None or all(x == "ReadOnlyMany" for x in modes))):
                return _py_prefix("datasets", a) + "an imported dataset is read-only unless its owner grants write " \
                                                   f"(readOnly: true, accessModes [ReadOnlyMany]); got {point}"
        return None

    ro = ("variables.mounts.filter(m, m.mountPoint.startsWith('dataset://') && "
          "!(m.mountPoint in variables.writableDatasets) && !(has(m.readOnly) && m.readOnly && "
          "(!has(object.spec.accessModes) || object.spec.accessModes.all(x, x == 'ReadOnlyMany'))))")
    return [
        Validation("datasets", "variables.badMounts.size() == 0",
                   f"{_prefix('datasets')} + \"Datasets may mount only the tenant's datasets and imports (\" + "
                   f"{_one_of_cel('variables.datasetMounts', none)} + '); got ' + variables.badMounts[0]", mount_check),
        Validation("datasets", f"{ro}.size() == 0",
                   f"{_prefix('datasets')} + 'an imported dataset is read-only unless its owner grants write "
                   f"(readOnly: true, accessModes [ReadOnlyMany]); got ' + {ro}[0].mountPoint", read_only_check),
    ]


MANAGE_GUARDRAILS = ("authorizer.group('admissionregistration.k8s.io')"
                     ".resource('validatingadmissionpolicybindings').check('update').allowed()")


def _parameters() -> list[Validation]:
    words = (f"ConfigMap {PARAMS_NAME} holds the tenant's guardrail parameters; only the platform changes it "
             "(from the tenant's spec, with tenantc)")

    def check(a: Admission) -> str | None:
        if a.may_manage_guardrails or (a.operation == "DELETE" and a.namespace_terminating):
            return None
        return _py_prefix("parameters", a) + words

    return [Validation(
        "parameters", f"{MANAGE_GUARDRAILS} || (request.operation == 'DELETE' && namespaceObject.status.phase == "
                      "'Terminating')", f"{_prefix('parameters')} + {lit(words)}", check)]


# -- a policy ------------------------------------------------------------------------------------

def _pod_rules(shape: Shape, facts: ClusterFacts) -> list[Validation]:
    out: list[Validation] = []
    if "registries" in facts.rules:
        out += _registries(shape)
    if "queues" in facts.rules:
        out += _queues(shape)
    if "priority-classes" in facts.rules:
        out += _priority_classes(shape)
    if "gpu-pools" in facts.rules:
        out += _gpu_pools(facts)
        out.append(_node_name(shape))
    if "host-access" in facts.rules:
        out += _host_access(facts)
    if "datasets" in facts.rules:
        out.append(_pod_volumes())
    return out


def validations(shape: Shape, facts: ClusterFacts) -> list[Validation]:
    """Every validation of a shape's policy on a cluster, in the order the policy lists them."""
    if shape.templates is not None:
        return _pod_rules(shape, facts)
    if shape.name == "podgroups":
        return (_queues(shape) if "queues" in facts.rules else []) + \
            (_priority_classes(shape) if "priority-classes" in facts.rules else [])
    if shape.name == "claims":
        return _claims() if "storage-classes" in facts.rules else []
    if shape.name == "ingresses":
        return _ingress() if "ingress" in facts.rules else []
    if shape.name == "datasets":
        return _datasets() if "datasets" in facts.rules else []
    if shape.name == "parameters":
        return _parameters()
    raise KeyError(shape.name)


# complexity: one flat section per rule, in the order the validations' expressions refer to them;
# split apart, the order that CEL variable references depend on would be spread over functions.
def variables(shape: Shape, facts: ClusterFacts, used: list[Validation]) -> list[dict[str, str]]:
    """The policy's variables: parameters as lists, cluster constants, the values checked."""
    rules = {v.rule for v in used}
    out: list[tuple[str, str]] = []
    if shape.templates_cel:
        out += [("templates", shape.templates_cel),
                ("specs", "variables.templates.filter(t, has(t.spec)).map(t, t.spec)")]
    if "registries" in rules:
        out += [("registries", param("registries")), ("images", IMAGES),
                ("badImages", "variables.images.filter(i, !variables.registries.exists(p, i.startsWith(p)))")]
    if "queues" in rules:
        out.append(("queues", param("queues")))
        if shape.queue_cel:
            out.append(("queue", shape.queue_cel))
        if shape.pod_queues:
            out += [("podQueues", POD_QUEUES),
                    ("badPodQueues", "variables.podQueues.filter(q, !(q in variables.queues))")]
    if "priority-classes" in rules:
        names = []
        if shape.priority_cel:
            names.append(f"({shape.priority_cel})")
        if shape.templates_cel:
            names.append("variables.specs.filter(s, has(s.priorityClassName) && s.priorityClassName != '')"
                         ".map(s, s.priorityClassName)")
        out += [("priorityClasses", param("priorityClasses")),
                ("badPriorities", f"({' + '.join(names)}).filter(n, !(n in variables.priorityClasses))")]
    if "gpu-pools" in rules and "gpu-pools" in facts.rules:
        labels = {p.name: dict(sorted(p.labels.items())) for p in facts.gpu_pools}
        out += [("poolLabels", lit(labels)), ("poolWords", lit({p.name: p.describe() for p in facts.gpu_pools})),
                ("allowedPools", f"{param('gpuPools')}.filter(p, p in variables.poolLabels)"),
                ("gpuTaints", lit([{"key": k, "value": v, "effect": e} for k, v, e in facts.gpu_taints()]))]
        if shape.templates_cel and facts.cpu_off_gpu_pools and facts.gpu_taints():
            out.append(("gpuCacheWorker", GPU_CACHE_WORKER_CEL))
    if shape.templates_cel and "datasets" in rules:
        out.append(("badVolumes", "variables.specs.map(s, has(s.volumes) ? s.volumes.filter(v, !"
                                  f"{_volume_ok_cel('v')}).map(v, v.name) : []).flatten()"))
    if "storage-classes" in rules:
        out += [("storageClasses", param("storageClasses")),
                ("claimClass", "has(object.spec.storageClassName) ? object.spec.storageClassName : ''"),
                ("fluidClaim", f"variables.claimClass == {lit(FLUID_STORAGE_CLASS)} && has(object.spec.volumeName) && "
                               "object.spec.volumeName == request.namespace + '-' + object.metadata.name")]
    if "ingress" in rules:
        annotation = lit(INGRESS_CLASS_ANNOTATION)
        out += [("ingressClasses", param("ingressClasses")), ("ingressHosts", param("ingressHosts")),
                ("ingressClassNames", "(has(object.spec.ingressClassName) ? [object.spec.ingressClassName] : []) + "
                                      f"(has(object.metadata.annotations) && "
                                      f"{annotation} in object.metadata.annotations"
                                      f" ? [object.metadata.annotations[{annotation}]] : [])"),
                ("badIngressClasses", "variables.ingressClassNames.size() == 0 ? [''] : "
                                      "variables.ingressClassNames.filter(n, !(n in variables.ingressClasses))"),
                ("hosts", "(has(object.spec.rules) ? object.spec.rules.map(r, has(r.host) ? r.host : '') : []) + "
                          "(has(object.spec.tls) ? object.spec.tls.map(t, has(t.hosts) ? t.hosts : []).flatten() "
                          ": [])"),
                ("badHosts", f"variables.hosts.filter(h, !({HOST_MATCH}))")]
    if "datasets" in rules and shape.name == "datasets":
        out += [("datasetMounts", param("datasetMounts")), ("writableDatasets", param("writableDatasets")),
                ("mounts", "has(object.spec.mounts) ? object.spec.mounts : []"),
                ("badMounts", "variables.mounts.map(m, m.mountPoint).filter(m, !(m in variables.datasetMounts))")]
    return [{"name": name, "expression": expression} for name, expression in out]


def match_conditions(shape: Shape) -> list[dict[str, str]]:
    """Updates are judged only when they change what the rules read, so controllers may still
    update objects admitted under older rules: finalizers, owner references, and the replicas
    of a ReplicaSet its Deployment scales (its new pods are judged one by one instead)."""
    if "UPDATE" not in shape.operations or shape.name == "parameters":
        return []
    return [{"name": "create-or-changed", "expression": f"request.operation != 'UPDATE' || {shape.changed}"}]


def evaluate(obj: dict, params: TenantParams | None, facts: ClusterFacts, operation: str = "CREATE",
             namespace: str | None = None, may_manage_guardrails: bool = False) -> list[str]:
    """The Python twin of the whole policy for `obj`'s shape: every denial message, in policy
    order (the API server reports the first failing validation's message). It judges the object
    as on CREATE: the policies' matchConditions skip updates that change nothing the rules read."""
    shape = shape_of(obj)
    if shape is None or (shape.resource_names and _get(obj, "metadata", "name") not in shape.resource_names):
        return []
    admission = Admission(obj, operation, namespace or _get(obj, "metadata", "namespace") or "", params, facts,
                          may_manage_guardrails)
    return [m for v in validations(shape, facts) if (m := v.check(admission)) is not None]
