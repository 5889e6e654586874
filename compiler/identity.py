"""Who an object is and where its file lives: the two keys every stage shares.

`ObjectRef` is an object's identity on one cluster (group, kind, namespace, name): what prune
deletes, what diff labels, what review matches across revisions, what status reports. The
apiVersion's version is not part of it: `v1beta1` and `v1` of one kind are the same object.

`RenderedPath` is a file of rendered/: `<cluster>/<unit>/<file>` for a tenant's or the
platform's objects on a cluster, `_argocd/<file>` for the Argo CD output. Nothing else splits
these paths by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from compiler.kinds import ARGOCD_DIR, PLATFORM_DIR, PLATFORM_TENANT, group_of


class ObjectRef(NamedTuple):
    """An object's identity on a cluster; a tuple, so large sets of them hash and sort fast."""

    group: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    @classmethod
    def of(cls, obj: dict) -> ObjectRef:
        """The identity of a manifest or a live object (missing fields read as "")."""
        meta = obj.get("metadata") or {}
        return cls(group_of(obj.get("apiVersion", "")), obj.get("kind", ""),
                   meta.get("namespace") or "", meta.get("name", ""))

    @property
    def kubectl_kind(self) -> str:
        """'job.batch.volcano.sh', 'configmap': the resource form kubectl prints and accepts."""
        kind = self.kind.lower()
        return f"{kind}.{self.group}" if self.group else kind

    @property
    def short(self) -> str:
        """'ResourceQuota vision/tenant-quota' or 'Namespace vision': for sentences."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def __str__(self) -> str:
        """'job.batch.volcano.sh vision/train' (kubectl's `kind.group ns/name`)."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kubectl_kind} {where}{self.name}"


@dataclass(frozen=True, order=True)
class RenderedPath:
    """One file of rendered/, parsed. `cluster` is "" for files outside cluster folders."""

    cluster: str
    unit: str  # tenant folder, PLATFORM_DIR, or ARGOCD_DIR for the Argo CD output
    file: str

    @classmethod
    def parse(cls, path: str) -> RenderedPath:
        """Parse 'cluster/unit/file' or '_argocd/file' (relative to rendered/, '/'-separated)."""
        parts = path.split("/")
        if len(parts) == 3 and all(parts) and not parts[0].startswith("_"):
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 2 and parts[0] == ARGOCD_DIR and parts[1]:
            return cls("", ARGOCD_DIR, parts[1])
        raise ValueError(f"not a rendered/ file path: {path!r} (expected <cluster>/<unit>/<file> "
                         f"or {ARGOCD_DIR}/<file>)")

    @property
    def folder(self) -> str:
        """The unit folder relative to rendered/: 'cluster/tenant' or '_argocd'."""
        return f"{self.cluster}/{self.unit}" if self.cluster else self.unit

    @property
    def in_cluster(self) -> bool:
        """True for files under a cluster folder (not the Argo CD output)."""
        return bool(self.cluster)

    @property
    def tenant(self) -> str:
        """The tenant a file belongs to: its folder, PLATFORM_TENANT for _platform and _argocd."""
        return self.unit if self.in_cluster and self.unit != PLATFORM_DIR else PLATFORM_TENANT

    def __str__(self) -> str:
        return f"{self.folder}/{self.file}"


def unit_folder(cluster: str, unit: str) -> str:
    """'cluster/unit': the key of one rendered unit folder."""
    return f"{cluster}/{unit}"
