"""Model serving specs: the platform's serving templates (TF Serving, a generic HTTP server) and
a tenant's servings, each a Deployment scaled by a HorizontalPodAutoscaler between its min and
max replicas, behind a Service, kept available by a PodDisruptionBudget, optionally exposed by
an Ingress. `compiler.plan.serving` checks and resolves them; `compiler.render.serving` draws them.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from compiler.model.common import DnsName, Spec
from compiler.model.pods import PodExtras
from compiler.model.workloads import Resources


class Probe(Spec):
    """An HTTP GET probe on the server's port; `{model}` in the path is the serving's model name."""

    path: str = Field(description="e.g. /v1/models/{model} (TF Serving's model status)")
    initial_delay_seconds: int = Field(default=0, ge=0)
    period_seconds: int = Field(default=10, ge=1)
    failure_threshold: int = Field(default=3, ge=1)


class ServingTemplate(Spec):
    """How one kind of model server runs: image, arguments, port, probes and default size.
    `{model}` and `{modelPath}` in args are the serving's model name and path."""

    name: DnsName
    image: str | None = Field(default=None, description="the server's image; None: each serving names its own")
    command: list[str] | None = None
    args: list[str] = Field(default_factory=list)
    port: int = Field(ge=1, le=65535, description="the HTTP port the server answers on (and probes ask)")
    readiness: Probe
    liveness: Probe
    resources: Resources = Field(default_factory=Resources, description="per replica; a serving may override")


class Replicas(Spec):
    min: int = Field(default=1, ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Serving(PodExtras):
    """A model served online on one cluster. Its quota is counted at maxReplicas: the
    autoscaler may run that many, and each must fit the tenant's ResourceQuota there. Its pod
    extras (`envRefs`, `extraVolumes`, `shmSize`, `imagePullSecrets`, `containers`) are a job's,
    by reference only, in every replica."""

    name: DnsName
    template: str = Field(description="one of the platform's serving templates")
    cluster: str
    image: str | None = Field(default=None, description="overrides the template's image")
    model: str | None = Field(default=None, description="the model's name (default: the serving's name)")
    model_path: str | None = Field(default=None, description="where the server loads the model from, e.g. "
                                   "/data/<dataset>/<model> or /project/models/<model>")
    resources: Resources | None = Field(default=None, description="per replica, merged over the template's")
    env: dict[str, str] | None = Field(default=None, description="the server's plain env (no secrets: envRefs)")
    gpu_model: str | None = None
    replicas: Replicas
    target_cpu_utilization: int = Field(default=70, ge=1, le=100,
                                        description="the autoscaler keeps average CPU use near this % of requests")
    max_unavailable: int = Field(default=1, ge=1, description="at most this many replicas down for voluntary "
                                 "disruptions (node drains), by the PodDisruptionBudget")
    datasets: list[str] = Field(default_factory=list, description="datasets (own or imported) to mount read-only")
    volumes: list[Literal["project"]] = Field(default_factory=list)
    ingress: bool = Field(default=False, description="expose it through the platform's ingress gateway")


class ServingSettings(Spec):
    templates: list[ServingTemplate] = Field(default_factory=list)
    ingress_host: str = Field(default="{name}.{tenant}.models.example.com",
                              description="host pattern with {name} (the serving) and {tenant}")
    ingress_class: str | None = None

    def host(self, serving: str, tenant: str) -> str:
        """A serving's Ingress host: the pattern with {name} and {tenant}."""
        return self.ingress_host.replace("{name}", serving).replace("{tenant}", tenant)


__all__ = ["Probe", "ServingTemplate", "Replicas", "Serving", "ServingSettings"]
