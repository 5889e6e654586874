"""A pod's volumes and its main container's mounts, built together: an emptyDir, a claim
(home, project) or the datasets it uses (the Fluid-made claims of the caches on the pod's kind
of pool, read-only unless the plan made them writable)."""
from __future__ import annotations

from decimal import Decimal

from compiler.model.pods import SharedDir, VolumeRef
from compiler.plan import DatasetUse
from compiler.quantity import FORMAT_BINARY, canonical

HOME_PATH = "/home/jovyan"
PROJECT_PATH = "/project"
DATA_PATH = "/data"
SHM_VOLUME, SHM_PATH = "dshm", "/dev/shm"


def claim_volume(name: str, claim: str, read_only: bool = False) -> dict:
    volume: dict = {"name": name, "persistentVolumeClaim": {"claimName": claim}}
    if read_only:
        volume["persistentVolumeClaim"]["readOnly"] = True
    return volume


class PodVolumes:
    """`mounts` (of the main container) and `volumes` (of the pod), in the order added."""

    def __init__(self) -> None:
        self.mounts: list[dict] = []
        self.volumes: list[dict] = []

    def empty_dir(self, name: str, path: str) -> PodVolumes:
        self.mounts.append({"name": name, "mountPath": path})
        self.volumes.append({"name": name, "emptyDir": {}})
        return self

    def claim(self, name: str, claim: str | None, path: str) -> PodVolumes:
        """A read-write claim mounted at `path`; nothing when `claim` is None."""
        if claim is not None:
            self.mounts.append({"name": name, "mountPath": path})
            self.volumes.append(claim_volume(name, claim))
        return self

    def datasets(self, uses: list[DatasetUse], gpu_model: str | None = None) -> PodVolumes:
        """Each dataset at /data/<name>, from the claim of its cache on the pod's kind of pool
        (a GPU pod: its model's cache; any other pod: the dataset's own claim)."""
        for ds in uses:
            read_only = {} if ds.writable else {"readOnly": True}
            self.mounts.append({"name": f"data-{ds.name}", "mountPath": f"{DATA_PATH}/{ds.name}", **read_only})
            self.volumes.append(claim_volume(f"data-{ds.name}", ds.claim(gpu_model), read_only=not ds.writable))
        return self

    def references(self, refs: list[VolumeRef]) -> PodVolumes:
        """Extra volumes by reference: a Secret or ConfigMap (always read-only) or a claim."""
        for ref in refs:
            kind, name = ref.source
            read_only = ref.read_only or kind != "claim"
            self.mounts.append({"name": ref.name, "mountPath": ref.mount_path, **({"readOnly": True} if read_only
                                                                                else {})})
            if kind == "secret":
                self.volumes.append({"name": ref.name, "secret": {"secretName": name}})
            elif kind == "configMap":
                self.volumes.append({"name": ref.name, "configMap": {"name": name}})
            else:
                self.volumes.append(claim_volume(ref.name, name, read_only=read_only))
        return self

    def shm(self, size: Decimal | None) -> PodVolumes:
        """/dev/shm as an in-memory emptyDir of `size` (container runtimes give 64Mi otherwise;
        https://kubernetes.io/docs/concepts/storage/volumes/#emptydir: medium Memory is a tmpfs
        counted against the container's memory limit)."""
        if size is not None:
            self.mounts.append({"name": SHM_VOLUME, "mountPath": SHM_PATH})
            self.volumes.append({"name": SHM_VOLUME, "emptyDir": {"medium": "Memory",
                                                                  "sizeLimit": canonical(size, FORMAT_BINARY)}})
        return self

    def shared(self, dirs: list[SharedDir]) -> PodVolumes:
        """The emptyDirs a platform pod template shares with the main container (e.g. a ticket cache)."""
        for d in dirs:
            if not any(v["name"] == d.name for v in self.volumes):
                self.mounts.append({"name": d.name, "mountPath": d.mount_path})
                self.volumes.append({"name": d.name, "emptyDir": {}})
        return self
