"""Workload specs: job templates (with `extends`), Volcano jobs, schedules, pipelines, notebooks.

Templates are partial on purpose: a role may leave image or replicas to the template it
extends or to the job; `compiler.plan.templates` merges them and `compiler.plan.jobs` checks the
result.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from compiler.model.checks import HostPattern, ImageRef, TimeZone
from compiler.model.common import CountField, DnsName, QuantityField, Spec
from compiler.model.data import Cron
from compiler.model.notebook_auth import NotebookAuth
from compiler.model.pods import PodExtras, Policy

ROLE_NAMES = ("master", "worker", "ps", "chief", "launcher", "evaluator")


class Resources(Spec):
    cpu: QuantityField | None = None
    memory: QuantityField | None = None
    gpu: CountField | None = Field(default=None, description="GPUs per replica (the model is the job's gpuModel)")


class Role(Spec):
    name: Literal["master", "worker", "ps", "chief", "launcher", "evaluator"]
    replicas: int | None = Field(default=None, ge=1)
    image: ImageRef | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = Field(default=None, description="plain values only; no secrets")
    resources: Resources | None = None
    ports: list[int] | None = None
    pool: Literal["cpu", "gpu"] | None = Field(default=None, description="default: gpu when the role asks for GPUs")


class Template(Spec):
    name: DnsName
    extends: str | None = None
    framework: Literal["pytorch", "tensorflow", "mpi"] | None = None
    roles: list[Role] = Field(default_factory=list)
    max_retry: int | None = Field(default=None, ge=0)
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    publish: bool = Field(default=False, description="also render as a Volcano JobTemplate users can submit from")


class WaitForData(Spec):
    """Start the job only once its datasets are cached this much. The wait runs before the
    job takes any resources it would hold idle: a job that asks for GPUs runs as a JobFlow
    whose first step, one small CPU pod, waits; a CPU-only job waits in an init container.
    Every waited dataset must be one Fluid can report a cached percentage for (not a thin
    runtime) and that a preload of the whole dataset warms."""

    min_cached_percent: int = Field(default=90, ge=1, le=100)
    datasets: list[str] | None = Field(default=None, description="the datasets to wait for (default: every "
                                       "dataset the job mounts)")


class Lifecycle(Spec):
    """What Volcano does with a job's pods: shared by jobs, schedules' jobs and pipeline steps
    (each step is a Volcano Job of its own)."""

    policies: list[Policy] | None = Field(default=None, description="Volcano lifecycle policies, event -> action "
                                          "(default: PodEvicted -> RestartJob)")
    preemptable: bool | None = Field(default=None, description="may Volcano evict its pods for higher-priority "
                                     "work or another queue's reclaim (default: the scheduler's)")


class JobSpec(PodExtras, Lifecycle):
    """A job: a template plus overrides, placed on one cluster; `envRefs`, `extraVolumes`,
    `shmSize`, `imagePullSecrets` and `containers` apply to every task's pods."""

    template: str
    cluster: str
    roles: list[Role] = Field(default_factory=list, description="overrides, merged with the template's by name")
    gpu_model: str | None = None
    min_available: int | None = Field(default=None, ge=1)
    priority_class: str | None = None
    datasets: list[str] = Field(default_factory=list, description="datasets (own or imported) to mount")
    wait_for_data: WaitForData | None = None
    volumes: list[Literal["project", "home"]] = Field(default_factory=list,
                                                      description="project (home volumes belong to notebooks)")
    max_retry: int | None = Field(default=None, ge=0)


class Job(JobSpec):
    name: DnsName


class Schedule(Spec):
    name: DnsName
    schedule: Cron
    time_zone: TimeZone | None = None
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"
    successful_history: int = Field(default=3, ge=0)
    failed_history: int = Field(default=3, ge=0)
    job: JobSpec


class Step(PodExtras, Lifecycle):
    """A pipeline step: a job of its template and roles on the pipeline's cluster. Its pod
    extras (`envRefs`, `extraVolumes`, `shmSize`, `imagePullSecrets`, `containers`) apply to
    every task's pods of the step, as a job's do, and its `policies` and `preemptable` are its
    Volcano Job's. Each of those fields it leaves out is the pipeline's; one it sets replaces
    the pipeline's (`envRefs: []` takes none), as a Volcano task's policies replace its job's."""

    name: DnsName
    template: str
    roles: list[Role] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)


class Pipeline(PodExtras, Lifecycle):
    """Steps run as a Volcano JobFlow, each when the steps it depends on have completed. With
    a schedule, a CronJob starts a new run (a new JobFlow) at each scheduled time. Its pod
    extras and lifecycle fields are every step's that does not set its own (see Step)."""

    name: DnsName
    cluster: str
    gpu_model: str | None = None
    datasets: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    schedule: Cron | None = Field(default=None, description="start a run at these times (default: run once)")
    time_zone: TimeZone | None = Field(default=None, description="of the schedule (default: the controller's)")
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = Field(
        default="Forbid", description="when the previous run has not finished: Forbid skips the new one, "
        "Replace deletes the old one, Allow runs both")
    successful_history: int = Field(default=3, ge=0, description="succeeded runs kept")
    failed_history: int = Field(default=3, ge=0, description="failed runs kept")


class Notebook(Spec):
    user: str = Field(description="a member user of the tenant, or a user a member group lists under `users`")
    name: DnsName | None = Field(default=None, description="tells a member's notebooks apart (e.g. cpu, gpu): "
                                 "StatefulSet and host nb-<user>-<name>; a member's first may go without")
    image: str | None = Field(default=None, description="one of the platform's notebook images (default: "
                              "notebookDefaults.image)")
    size: str | None = Field(default=None, description="one of the platform's notebook sizes (default: "
                             "notebookDefaults.size, else small)")
    cluster: str | None = Field(default=None, description="default: notebookDefaults.cluster, else the tenant's "
                                "first cluster")
    datasets: list[str] = Field(default_factory=list)
    ingress: bool | None = Field(default=None, description="default: notebookDefaults.ingress, else false")
    running: bool = Field(default=True, description="false stops it: no pods and no GPUs held, its volumes kept")


class NotebookDefaults(Spec):
    """What a tenant's notebooks get where they say nothing (each from the platform's choices)."""

    image: str | None = None
    size: str | None = None
    cluster: str | None = None
    ingress: bool | None = None


class NotebookSize(Spec):
    cpu: QuantityField
    memory: QuantityField
    gpu: CountField | None = None
    gpu_model: str | None = None


class NotebookSettings(Spec):
    images: dict[str, ImageRef] = Field(default_factory=dict, description="choice -> image reference")
    sizes: dict[str, NotebookSize] = Field(default_factory=dict)
    ingress_host: HostPattern = Field(default="{user}.{tenant}.notebooks.example.com",
                              description="host pattern with {user} and {tenant}")
    ingress_class: str | None = None
    auth: NotebookAuth | None = Field(default=None, description="authenticate every notebook Ingress at this "
                                      "endpoint, letting through the notebook's member only")


__all__ = ["Template", "Job", "JobSpec", "Schedule", "Pipeline", "Notebook", "NotebookDefaults", "NotebookSettings",
           "Role",
           "ROLE_NAMES", "DnsName"]
