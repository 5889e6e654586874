"""Pod additions resolved (compiler/model/pods.py) for jobs, schedules, pipeline steps and
servings alike: env and volumes by reference, the /dev/shm size, image pull secrets, the
platform's sidecars and init containers, and (jobs and schedules only) Volcano lifecycle
policies and preemptability. Plain env whose name says it is a secret is refused here: its
value would sit in Git and in rendered/.

/dev/shm is an emptyDir of medium Memory, a tmpfs whose pages count against the memory limit
of the container writing them (https://kubernetes.io/docs/concepts/storage/volumes/#emptydir),
so a shmSize above a main container's memory could never be filled: that container would be
OOM-killed first. It is refused for every kind of pod the same way."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from compiler.errors import Problems
from compiler.model import Specs
from compiler.model.pods import SECRET_LIKE_NAME, EnvRef, PodTemplate, VolumeRef
from compiler.model.pods import PodExtras as PodExtrasSpec
from compiler.model.workloads import Lifecycle
from compiler.plan.scope import TenantScope
from compiler.quantity import FORMAT_BINARY, Quantity, canonical

SIDECAR_CPU, SIDECAR_MEMORY = Quantity.parse("50m").value, Quantity.parse("64Mi").value


@dataclass(frozen=True)
class ResolvedContainer:
    """A platform pod template as a job adds it, sized."""

    template: PodTemplate
    cpu: Decimal
    memory: Decimal


@dataclass(frozen=True)
class PodExtras:
    """What a job, step or serving adds to each of its pods, decided."""

    env_refs: list[EnvRef] = field(default_factory=list)
    extra_volumes: list[VolumeRef] = field(default_factory=list)
    shm_size: Decimal | None = None
    image_pull_secrets: list[str] = field(default_factory=list)
    containers: list[ResolvedContainer] = field(default_factory=list)
    policies: list[dict[str, str]] | None = None  # None: tenantc's default (compiler.volcano)
    preemptable: bool | None = None

    def per_pod(self) -> dict[str, Decimal]:
        """The cpu and memory every pod asks for on top of its main container: the sidecars'
        (running beside it) and init containers' (counted as if they did too: an upper bound)."""
        return {"cpu": sum((c.cpu for c in self.containers), Decimal(0)),
                "memory": sum((c.memory for c in self.containers), Decimal(0))}


def check_pod_templates(specs: Specs, problems: Problems) -> None:
    """The platform's pod templates use allowed registries (the guardrail would refuse them)."""
    platform = specs.platform
    for i, template in enumerate(platform.pod_templates):
        if not platform.image_allowed(template.image):
            problems.add(specs.platform_source.path, f"podTemplates[{i}].image", f"image '{template.image}' is not "
                         "from an allowed registry", f"use one of: {', '.join(platform.allowed_registries)}")
    for i, serving in enumerate(platform.serving.templates):
        if serving.image and not platform.image_allowed(serving.image):
            problems.add(specs.platform_source.path, f"serving.templates[{i}].image", f"image '{serving.image}' is "
                         "not from an allowed registry", f"use one of: {', '.join(platform.allowed_registries)}")


def check_plain_env(scope: TenantScope, env: dict[str, str], where: str) -> None:
    """Plain env whose name says it holds a secret (PASSWORD, TOKEN, ...) is refused."""
    for name in sorted(env):
        if SECRET_LIKE_NAME.search(name):
            scope.problems.add(scope.file, f"{where}.env.{name}", "looks like a secret value in plain env (it "
                               "would be committed to Git and rendered for everyone with read access)",
                               f"reference a Secret instead: envRefs: [{{name: {name}, secret: {{name: <secret>, "
                               "key: <key>}}]")


def resolve_pod_extras(scope: TenantScope, spec: PodExtrasSpec, at: str,
                       memory: dict[str, Decimal | None] | None = None,
                       extras_at: Mapping[str, str] | None = None) -> PodExtras:
    """`spec`'s extras (a job's, a step's or a serving's, at `at`), its pod templates found and
    sized; `memory` is each main container's memory limit by name (None: no limit), which the
    /dev/shm size must not exceed. `extras_at` (field name -> path) says where the fields written
    elsewhere were written (a pipeline step's that are its pipeline's)."""
    def where(name: str) -> str:
        return (extras_at or {}).get(name, at)
    containers = _containers(scope, spec.containers, where("containers"))
    names = [v.name for v in spec.extra_volumes] + [v.name for c in containers for v in c.template.volumes]
    for i, volume in enumerate(spec.extra_volumes):
        if names.count(volume.name) > 1:
            scope.problems.add(scope.file, f"{where('extra_volumes')}.extraVolumes[{i}].name", f"volume name "
                               f"'{volume.name}' is used twice (by this spec or a pod template it adds)", "rename it")
    shm = spec.shm_size.value if spec.shm_size is not None else None
    if spec.shm_size is not None:
        _check_shm(scope, spec.shm_size, memory or {}, where("shm_size"))
    job = spec if isinstance(spec, Lifecycle) else None  # Volcano's lifecycle: jobs, schedules and steps (not servings)
    return PodExtras(
        env_refs=list(spec.env_refs), extra_volumes=list(spec.extra_volumes), shm_size=shm,
        image_pull_secrets=list(spec.image_pull_secrets), containers=containers,
        policies=[{"event": p.event, "action": p.action} for p in job.policies]
        if job is not None and job.policies is not None else None,
        preemptable=job.preemptable if job is not None else None)


def _containers(scope: TenantScope, names: list[str], at: str) -> list[ResolvedContainer]:
    """The platform's pod templates named at `at`.containers, sized (unknown ones reported)."""
    templates = {t.name: t for t in scope.specs.platform.pod_templates}
    containers = []
    for i, name in enumerate(names):
        template = templates.get(name)
        if template is None:
            scope.problems.add(scope.file, f"{at}.containers[{i}]", f"unknown pod template '{name}'",
                               f"use one of the platform's podTemplates: {', '.join(sorted(templates)) or '(none)'}")
            continue
        containers.append(ResolvedContainer(template, template.cpu.value if template.cpu else SIDECAR_CPU,
                                            template.memory.value if template.memory else SIDECAR_MEMORY))
    return containers


def _check_shm(scope: TenantScope, shm: Quantity, memory: dict[str, Decimal | None], at: str) -> None:
    """/dev/shm within the memory limit of each main container that mounts it (module docstring)."""
    over = [f"'{name}' ({canonical(limit, FORMAT_BINARY)})" for name, limit in memory.items()
            if limit is not None and shm.value > limit]
    if over:
        scope.problems.add(scope.file, f"{at}.shmSize", f"{shm} of /dev/shm is more than the memory of container "
                           f"{', '.join(over)} (tmpfs pages count against the limit of the container writing them)",
                           "lower shmSize or raise that container's memory")
