"""Data specs: Fluid datasets with their cache runtime, preload, scaling and sharing, and the
user / project storage levels. Credentials are Secret references by name, never values."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from compiler.fluid import (
    MOUNT_SCHEMES,
    THIN_CANNOT_PRELOAD,
    THIN_NEEDS_PROFILE,
    CacheMedium,
    RuntimeType,
    runtime_mount_error,
)
from compiler.model.checks import check_cron
from compiler.model.common import CountField, DnsName, QuantityField, Spec

# Longest dataset name: derived names such as "<dataset>-scale-<n>" (a CronJob, at most 52) must fit.
MAX_DATASET_NAME = 40
_URI_RE = re.compile(r"^(?P<scheme>[a-z0-9]+)://(?P<rest>.+)$")
CRON_RE = re.compile(r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$")


def _check_cron(value: str) -> str:
    if not CRON_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a cron schedule (five fields, e.g. '0 6 * * 1-5')")
    return check_cron(value)


Cron = Annotated[str, AfterValidator(_check_cron)]


class SecretKeyRef(Spec):
    """A key of a Secret in the tenant's namespace; its value never appears in specs or output."""

    name: DnsName
    key: str


class Mount(Spec):
    uri: str = Field(description="oss://bucket/path, s3://, hdfs://host:port/path, pvc://claim/path, nfs://server/path")
    name: DnsName | None = None
    path: str | None = Field(default=None, description="where the mount appears inside the dataset")
    options: dict[str, str] = Field(default_factory=dict, description="non-secret options (endpoints, regions)")
    secrets: dict[str, SecretKeyRef] = Field(
        default_factory=dict, description="option name -> Secret key, rendered as encryptOptions")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        match = _URI_RE.fullmatch(value)
        if not match or match["scheme"] not in MOUNT_SCHEMES:
            raise ValueError(f"'{value}' is not a supported mount; use one of "
                             + ", ".join(f"{s}://" for s in MOUNT_SCHEMES))
        return value

    @field_validator("options")
    @classmethod
    def _no_secret_values(cls, options: dict[str, str]) -> dict[str, str]:
        for key in options:
            if re.search(r"(secret|password|token|access.?key)", key, re.IGNORECASE):
                raise ValueError(f"option '{key}' looks like a credential; reference a Secret under secrets: instead")
        return options


class Tier(Spec):
    medium: CacheMedium
    path: str
    quota: QuantityField


class CacheRuntime(Spec):
    type: RuntimeType = "jindo"
    replicas: int = Field(default=1, ge=1)
    tiers: list[Tier] = Field(default_factory=list)
    profile: str | None = Field(default=None, description="ThinRuntimeProfile name (thin runtimes only)")

    @model_validator(mode="after")
    def _thin_needs_profile(self) -> CacheRuntime:
        if self.type == "thin" and not self.profile:
            raise ValueError(THIN_NEEDS_PROFILE)
        return self


class Preload(Spec):
    """Warm the cache before jobs run (a Fluid DataLoad, policy Once, made with the dataset);
    with a schedule, also refresh it then (a second DataLoad, policy Cron)."""

    paths: list[str] = Field(default_factory=lambda: ["/"])
    load_metadata: bool = True
    schedule: Cron | None = None


class ScaleStep(Spec):
    """At `schedule`, set the cache runtime to `replicas` (e.g. more in trading hours)."""

    schedule: Cron
    replicas: int = Field(ge=0)


class Export(Spec):
    tenant: str = Field(description="a tenant name, or '*' for every tenant")
    write: bool = False


class Dataset(Spec):
    name: DnsName = Field(max_length=MAX_DATASET_NAME)
    mounts: list[Mount] = Field(min_length=1)
    read_only: bool = True
    runtime: CacheRuntime = Field(default_factory=CacheRuntime)
    clusters: list[str] | None = Field(default=None, description="default: every cluster of the tenant")
    preload: Preload | None = None
    scaling: list[ScaleStep] = Field(default_factory=list)
    export_to: list[Export] = Field(default_factory=list)

    @model_validator(mode="after")
    def _runtime_matches_mounts(self) -> Dataset:
        """Only some runtimes mount some schemes (compiler.fluid.runtime_mount_error)."""
        error = runtime_mount_error(self.runtime.type, [m.uri.partition("://")[0] for m in self.mounts])
        if error:
            raise ValueError(error)
        return self

    @model_validator(mode="after")
    def _thin_cannot_preload(self) -> Dataset:
        if self.runtime.type == "thin" and self.preload is not None:
            raise ValueError(THIN_CANNOT_PRELOAD)
        return self


class DatasetImport(Spec):
    tenant: str
    dataset: str
    name: DnsName | None = Field(default=None, description="name in this tenant (default: the dataset's name)")
    write: bool = False

    @property
    def local_name(self) -> str:
        return self.name or self.dataset


class Volume(Spec):
    size: QuantityField
    storage_class: str | None = Field(default=None, description="default: the platform's class for this level")


class Storage(Spec):
    home: Volume | None = Field(default=None, description="one home volume per member user")
    project: Volume | None = Field(default=None, description="one shared read-write volume for the tenant")


class PlatformStorage(Spec):
    classes: list[str] = Field(min_length=1, description="storage classes tenants may use")
    home_class: str
    project_class: str


class GlobalDataset(Spec):
    """Platform data every tenant imports read-only (the 'global' storage level)."""

    tenant: str
    dataset: str


__all__ = ["Dataset", "DatasetImport", "Storage", "Volume", "PlatformStorage", "GlobalDataset", "CountField"]
