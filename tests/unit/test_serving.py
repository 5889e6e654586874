"""Servings, checked over what the examples render against what their specs say (the specs
are read here, not the plan): a Deployment the HPA scales and nothing else, a Service, probes,
PDB and Ingress that all lead to the same pods and port, placement on the pool the size asks
for, quota counted at maxReplicas, and Argo CD and `tenantc apply` leaving the HPA's replicas alone.

Kubernetes behaviour relied on:
- https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling
  (leave spec.replicas out of a workload an HPA scales; each apply of a value would reset it);
- https://kubernetes.io/docs/concepts/policy/resource-quotas/ (pods beyond the quota are refused
  at creation, so a serving must fit at its maximum);
- https://argo-cd.readthedocs.io/en/stable/user-guide/diffing/ (ignoreDifferences by group,
  kind, name, namespace and jsonPointers).
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from compiler import delivery
from compiler.identity import ObjectRef, RenderedPath
from compiler.model.pods import SECRET_LIKE_NAME
from compiler.quantity import Quantity


def _servings(example):
    """(tenant spec, serving spec, the unit's objects by (kind, name))."""
    for spec in example.specs.tenants:
        for serving in spec.tenant.servings:
            unit = {}
            for path, obj in example.objects.items():
                rendered = RenderedPath.parse(path)
                if rendered.in_cluster and (rendered.cluster, rendered.unit) == (serving.cluster, spec.tenant.name):
                    unit[(obj["kind"], obj["metadata"]["name"])] = obj
            yield spec, serving, unit


def test_examples_serve_models(example):
    assert {(t.tenant.name, s.name) for t, s, _ in _servings(example)} >= {("ads-ranking", "ctr"), ("recsys", "ranker")}


def test_every_serving_is_a_deployment_the_hpa_scales_behind_a_service(example):
    platform = example.specs.platform
    templates = {t.name: t for t in platform.serving.templates}
    for _, serving, unit in _servings(example):
        deployment = unit[("Deployment", serving.name)]
        assert "replicas" not in deployment["spec"], "the HPA owns spec.replicas"
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        hpa = unit[("HorizontalPodAutoscaler", serving.name)]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": serving.name}
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (serving.replicas.min, serving.replicas.max)
        [metric] = hpa["spec"]["metrics"]
        assert metric["resource"]["target"]["averageUtilization"] == serving.target_cpu_utilization
        for kind in ("Service", "PodDisruptionBudget"):
            obj = unit[(kind, serving.name)]
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert selector.items() <= labels.items(), kind
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert unit[("PodDisruptionBudget", serving.name)]["spec"]["maxUnavailable"] == serving.max_unavailable
        [container] = pod["spec"]["containers"]
        port = templates[serving.template].port
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            assert named[container[probe]["httpGet"]["port"]] == port, probe
        assert container["image"] == serving.image or templates[serving.template].image
        service_port = unit[("Service", serving.name)]["spec"]["ports"][0]
        assert named[service_port["targetPort"]] == port
        model = serving.model or serving.name
        assert container["readinessProbe"]["httpGet"]["path"] == \
            templates[serving.template].readiness.path.replace("{model}", model)


def test_serving_pods_run_on_the_pool_their_size_asks_for(example):
    for _, serving, unit in _servings(example):
        cluster = example.specs.platform.cluster(serving.cluster)
        pod = unit[("Deployment", serving.name)]["spec"]["template"]["spec"]
        gpus = (serving.resources.gpu if serving.resources and serving.resources.gpu else Quantity.parse(0)).value
        pools = [p for p in cluster.node_pools if (p.role == "gpu") == bool(gpus)
                 and (not gpus or p.gpu_model == serving.gpu_model)]
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        wanted = [{(k, v) for k, v in p.labels.items()} for p in pools]
        got = [{(e["key"], e["values"][0]) for e in t["matchExpressions"]} for t in terms]
        assert got == wanted
        tolerated = {(t["key"], t["effect"]) for t in pod.get("tolerations", [])}
        assert tolerated == {(t.key, t.effect) for p in pools for t in p.taints}
        limits = pod["containers"][0]["resources"]["limits"]
        resource = next((p.gpu_resource for p in pools), None)
        assert (limits.get(resource) == str(int(gpus))) if gpus else not any("gpu" in k for k in limits)


def test_env_is_plain_values_then_references(example):
    """The server's env: its plain `env` (sorted, none named like a secret), then its `envRefs`
    as Secret or ConfigMap key references only."""
    for _, serving, unit in _servings(example):
        env = unit[("Deployment", serving.name)]["spec"]["template"]["spec"]["containers"][0].get("env", [])
        plain = sorted((serving.env or {}).items())
        assert [(e["name"], e["value"]) for e in env[:len(plain)]] == plain
        assert not any(SECRET_LIKE_NAME.search(name) for name, _ in plain)
        refs = env[len(plain):]
        assert [e["name"] for e in refs] == [r.name for r in serving.env_refs]
        assert all("value" not in e and set(e["valueFrom"]) <= {"secretKeyRef", "configMapKeyRef"} for e in refs)


def test_ingress_and_gateway_policy_lead_to_the_serving_port(example):
    platform = example.specs.platform
    exposed = 0
    for spec, serving, unit in _servings(example):
        if not serving.ingress:
            assert ("Ingress", serving.name) not in unit
            continue
        exposed += 1
        ingress = unit[("Ingress", serving.name)]
        [rule] = ingress["spec"]["rules"]
        assert rule["host"] == platform.serving.ingress_host.format(name=serving.name, tenant=spec.tenant.name)
        backend = rule["http"]["paths"][0]["backend"]["service"]
        service = unit[("Service", backend["name"])]
        assert backend["port"]["number"] in [p["port"] for p in service["spec"]["ports"]]
        policy = unit[("NetworkPolicy", f"{serving.name}-from-ingress")]
        port = service["spec"]["ports"][0]["port"]
        assert policy["spec"]["ingress"][0]["ports"] == [{"port": port, "protocol": "TCP"}]
        assert policy["spec"]["podSelector"]["matchLabels"] == service["spec"]["selector"]
    assert exposed


def test_servings_fit_the_quota_at_max_replicas(example):
    """Each unit's servings at maxReplicas, summed from what their rendered pods request (the
    server and the platform's containers the serving adds: a native sidecar runs, and is
    requested, beside it for the pod's life), within the tenant's ResourceQuota."""
    sidecars = 0
    for spec, serving, unit in _servings(example):
        hard = unit[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
        need: dict[str, Decimal] = {}
        for other in spec.tenant.servings:
            if other.cluster != serving.cluster:
                continue
            pod = unit[("Deployment", other.name)]["spec"]["template"]["spec"]
            for container in pod["containers"] + pod.get("initContainers", []):
                sidecars += container.get("restartPolicy") == "Always"
                for resource, amount in container["resources"].get("requests", {}).items():
                    need[resource] = need.get(resource, Decimal(0)) + Quantity.parse(amount).value * other.replicas.max
        assert need["cpu"] <= Quantity.parse(hard["requests.cpu"]).value
        assert need["memory"] <= Quantity.parse(hard["requests.memory"]).value
    assert sidecars  # ads-ranking's ctr runs the platform's ticket renewer


def test_hpa_scaled_replicas_are_a_run_time_field_argocd_ignores_and_apply_never_sends(example):
    fields = delivery.run_time_fields(example.objects.values())
    ref = ObjectRef("apps", "Deployment", "ads-ranking", "ctr")
    [field] = [f for f in fields if f.ref == ref]
    assert (field.path, field.manager) == (("spec", "replicas"), delivery.HPA_FIELD_MANAGER)
    appset = next(o for p, o in example.objects.items() if o["kind"] == "ApplicationSet")
    ignored = appset["spec"]["template"]["spec"]["ignoreDifferences"]
    assert {"group": "apps", "kind": "Deployment", "namespace": "ads-ranking", "name": "ctr",
            "jsonPointers": ["/spec/replicas"]} in ignored
    desired = next(o for p, o in example.objects.items() if p == "cpu-west/ads-ranking/deployment-ctr.yaml")
    live = {**desired, "spec": {**desired["spec"], "replicas": 7}}
    applied = delivery.with_live_values(desired, live, fields)
    assert "replicas" not in applied["spec"], "tenantc must not own (or race) the HPA's field"
    assert delivery.without_run_time_fields(live, fields) == delivery.without_run_time_fields(desired, fields)


@pytest.mark.parametrize("kind", ["Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"])
def test_new_kinds_have_a_stage_and_are_pruned_like_the_rest(kind):
    from compiler.kinds import KNOWN_KINDS

    assert any(k == kind for _, k in KNOWN_KINDS)
