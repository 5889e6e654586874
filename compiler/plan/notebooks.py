"""Personal notebooks resolved: image and size looked up in the platform's choices (each
defaulting to the tenant's `notebookDefaults`), the cluster chosen (default: the defaults', else
the tenant's first), the GPU model and its extended resource decided, the volumes and datasets it
mounts, and its ingress host. A member may have several (told apart by `name`); the member's
home volume exists on the clusters where they have one, and only their notebooks mount it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from compiler.model.checks import expand_host
from compiler.model.common import user_handle
from compiler.model.workloads import Notebook, NotebookSize
from compiler.plan.datasets import DatasetUse, dataset_uses
from compiler.plan.notebook_auth import auth_annotations
from compiler.plan.quota import DEFAULT_GPU_RESOURCE
from compiler.plan.scope import TenantScope
from compiler.plan.storage import PROJECT_CLAIM, home_claim, notebook_cluster

DEFAULT_SIZE = "small"  # a notebook's size when neither it nor the tenant's defaults name one


@dataclass(frozen=True)
class ResolvedNotebook:
    """A user's notebook on its cluster: everything render draws, decided and checked."""

    tenant: str
    user: str
    handle: str  # the user as a DNS label (the user label of its objects)
    key: str  # handle, or handle-name for a named notebook: its objects' names, selector and host
    cluster: str
    image: str
    cpu: Decimal
    memory: Decimal
    gpu: int
    gpu_model: str | None
    gpu_resource: str  # the extended resource of gpu_model on this cluster
    pool: str  # 'gpu' when it has GPUs, else 'cpu'
    home_claim: str | None
    project_claim: str | None
    datasets: list[DatasetUse]
    ingress_host: str | None  # set when the notebook asks for an Ingress
    ingress_class: str | None
    source: str
    running: bool = True  # false: 0 replicas, its volumes kept
    ingress_annotations: tuple[tuple[str, str], ...] = ()  # the Ingress's authentication (ingress-nginx)


def resolve_notebooks(scope: TenantScope) -> list[ResolvedNotebook]:
    """The tenant's notebooks, each checked; those that cannot be resolved are reported."""
    out = []
    for i, nb in enumerate(scope.spec.tenant.notebooks):
        resolved = _resolve(scope, nb, f"notebooks[{i}]")
        if resolved is not None:
            out.append(resolved)
    return out


def notebook_key(nb: Notebook) -> str:
    """What tells a notebook apart in its tenant: the user's handle, with the notebook's name."""
    return f"{user_handle(nb.user)}-{nb.name}" if nb.name else user_handle(nb.user)


def _resolve(scope: TenantScope, nb: Notebook, where: str) -> ResolvedNotebook | None:
    if nb.user not in scope.spec.tenant.notebook_users():
        scope.problems.add(scope.file, f"{where}.user", f"'{nb.user}' is neither a member user of this tenant nor "
                           "listed under a member group's users", "add them to members (or to their group's users)")
    image, size, cluster_name = _image(scope, nb, where), _size(scope, nb, where), _cluster(scope, nb, where)
    if cluster_name is None:
        return None
    cluster = scope.specs.platform.cluster(cluster_name)
    gpu_model = _gpu_model(scope, size, cluster_name, where)
    placed = scope.datasets_on(cluster_name)
    for j, ds in enumerate(nb.datasets):
        if not any(p.local_name == ds for p in placed):
            scope.problems.add(scope.file, f"{where}.datasets[{j}]", f"no dataset '{ds}' in this tenant on "
                               f"{cluster_name}", "declare or import it")
    if image is None or size is None or cluster is None:
        return None
    return _resolved(scope, nb, cluster_name, image, size, gpu_model,
                     cluster.gpu_models().get(gpu_model or "", DEFAULT_GPU_RESOURCE))


def _cluster(scope: TenantScope, nb: Notebook, where: str) -> str | None:
    """The notebook's cluster (default: the tenant's first), or None when it is not the tenant's."""
    clusters = list(scope.shares)
    name = notebook_cluster(scope.spec.tenant, nb, clusters)
    if name is None or name not in clusters:
        field = f"{where}.cluster" if nb.cluster else "notebookDefaults.cluster"
        scope.problems.add(scope.file, field, f"'{name}' is not a cluster of this tenant",
                           f"use one of: {', '.join(clusters)}")
        return None
    return name


def _gpu_model(scope: TenantScope, size: NotebookSize | None, cluster_name: str, where: str) -> str | None:
    """The size's GPU model, else the first the tenant has on the cluster; None without GPUs."""
    if size is None or not size.gpu:
        return None
    model = size.gpu_model or next(iter(sorted(scope.shares[cluster_name].gpu)), None)
    cluster = scope.specs.platform.cluster(cluster_name)
    if cluster is not None and (model is None or model not in cluster.gpu_models()):
        scope.problems.add(scope.file, f"{where}.size", f"a GPU notebook needs GPUs on {cluster_name}, which has "
                           "none for this tenant", "choose a CPU size or a cluster with GPUs")
    return model


def _image(scope: TenantScope, nb: Notebook, where: str) -> str | None:
    settings, platform = scope.specs.platform.notebooks, scope.specs.platform
    choice = nb.image or scope.spec.tenant.notebook_defaults.image
    field = f"{where}.image" if nb.image else "notebookDefaults.image"
    image = settings.images.get(choice or "")
    if choice is None:
        scope.problems.add(scope.file, f"{where}.image", "the notebook names no image and notebookDefaults none",
                           f"set image (or notebookDefaults.image) to one of: {', '.join(sorted(settings.images))}")
    elif image is None:
        scope.problems.add(scope.file, field, f"unknown notebook image '{choice}'",
                           f"use one of: {', '.join(sorted(settings.images)) or '(none declared)'}")
    elif not platform.image_allowed(image):
        scope.problems.add(scope.file, field, f"image '{image}' is not from an allowed registry",
                           f"use one of: {', '.join(platform.allowed_registries)}")
    return image


def _size(scope: TenantScope, nb: Notebook, where: str) -> NotebookSize | None:
    sizes = scope.specs.platform.notebooks.sizes
    choice = nb.size or scope.spec.tenant.notebook_defaults.size or DEFAULT_SIZE
    size = sizes.get(choice)
    if size is None:
        field = f"{where}.size" if nb.size or not scope.spec.tenant.notebook_defaults.size else "notebookDefaults.size"
        scope.problems.add(scope.file, field, f"unknown notebook size '{choice}'",
                           f"use one of: {', '.join(sorted(sizes)) or '(none declared)'}")
    return size


def _resolved(scope: TenantScope, nb: Notebook, cluster: str, image: str, size: NotebookSize,
              gpu_model: str | None, gpu_resource: str) -> ResolvedNotebook:
    settings, storage = scope.specs.platform.notebooks, scope.spec.tenant.storage
    has_storage = scope.specs.platform.storage is not None
    handle, key = user_handle(nb.user), notebook_key(nb)
    ingress = scope.spec.tenant.notebook_ingress(nb)
    gpu = int(size.gpu.value) if size.gpu else 0
    return ResolvedNotebook(
        tenant=scope.tenant, user=nb.user, handle=handle, key=key, cluster=cluster, image=image,
        cpu=size.cpu.value, memory=size.memory.value, gpu=gpu, gpu_model=gpu_model, gpu_resource=gpu_resource,
        pool="gpu" if gpu else "cpu",
        home_claim=home_claim(nb.user) if storage.home is not None and has_storage else None,
        project_claim=PROJECT_CLAIM if storage.project is not None and has_storage else None,
        datasets=dataset_uses(nb.datasets, scope.datasets_on(cluster)),
        ingress_host=expand_host(settings.ingress_host, key, scope.tenant) if ingress else None,
        ingress_class=settings.ingress_class, source=scope.file, running=nb.running,
        ingress_annotations=auth_annotations(settings.auth, nb.user) if ingress else ())
