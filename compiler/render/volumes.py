"""A pod's volumes and its main container's mounts, built together: an emptyDir, a claim
(home, project) or the datasets it uses (the Fluid-made claims of the caches on the pod's kind
of pool, read-only unless the plan made them writable)."""
from __future__ import annotations

from compiler.plan import DatasetUse

HOME_PATH = "/home/jovyan"
PROJECT_PATH = "/project"
DATA_PATH = "/data"


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
