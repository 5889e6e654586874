"""What real job and serving pods need beyond image and size, by reference only: environment
from Secret and ConfigMap keys, extra volumes (Secret, ConfigMap, claim), a /dev/shm size, image
pull secrets, sidecars and init containers from the platform's pod templates, Volcano
lifecycle policies and preemptability. Secret *values* never appear in a spec: they would be
committed to Git and rendered into rendered/ for everyone with read access to see.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from compiler.model.common import DnsName, QuantityField, Spec
from compiler.volcano import POLICY_ACTIONS, POLICY_EVENTS

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Plain env whose name says it holds a secret: refused, with the reference to write instead.
SECRET_LIKE_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)
_VALUE_HINT = ("a value here would be committed to Git and rendered for everyone to read; reference a key of "
               "a Secret instead: secret: {name: <secret>, key: <key>}")


class KeyRef(Spec):
    name: DnsName = Field(description="the Secret's or ConfigMap's name, in the tenant's namespace")
    key: str = Field(min_length=1)
    optional: bool = False


class EnvRef(Spec):
    """One environment variable from a key of a Secret or a ConfigMap (never a value)."""

    name: str = Field(pattern=ENV_NAME)
    secret: KeyRef | None = None
    config_map: KeyRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_values(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value" in data:
            raise ValueError(f"'value' is not allowed: {_VALUE_HINT}")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> EnvRef:
        if (self.secret is None) == (self.config_map is None):
            raise ValueError("set exactly one of secret or configMap")
        return self


class VolumeRef(Spec):
    """An extra volume by reference: a Secret, a ConfigMap or a claim of the tenant's namespace."""

    name: DnsName
    mount_path: str = Field(pattern=r"^/")
    secret: DnsName | None = None
    config_map: DnsName | None = None
    claim: DnsName | None = None
    read_only: bool = Field(default=True, description="Secrets and ConfigMaps are always read-only")

    @model_validator(mode="before")
    @classmethod
    def _no_contents(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"data", "stringData", "items"} & set(data)):
            raise ValueError(f"contents are not allowed: {_VALUE_HINT.replace('a key of ', '')}")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> VolumeRef:
        if sum(x is not None for x in (self.secret, self.config_map, self.claim)) != 1:
            raise ValueError("set exactly one of secret, configMap or claim")
        return self

    @property
    def source(self) -> tuple[str, str]:
        """('secret'|'configMap'|'claim', the referenced name)."""
        if self.secret:
            return "secret", self.secret
        if self.config_map:
            return "configMap", self.config_map
        return "claim", self.claim or ""


class Policy(Spec):
    """Volcano lifecycle policy: when `event` happens, the job controller takes `action`."""

    event: Literal[POLICY_EVENTS]  # type: ignore[valid-type]
    action: Literal[POLICY_ACTIONS]  # type: ignore[valid-type]


class SharedDir(Spec):
    name: DnsName
    mount_path: str = Field(pattern=r"^/")


class PodTemplate(Spec):
    """A container the platform defines once and jobs add by name: a native sidecar running
    beside the job's containers (e.g. a Kerberos ticket renewer), or an init container run before."""

    name: DnsName
    kind: Literal["sidecar", "init"] = "sidecar"
    image: str
    command: list[str] | None = None
    args: list[str] | None = None
    env_refs: list[EnvRef] = Field(default_factory=list)
    volumes: list[VolumeRef] = Field(default_factory=list, description="its own volumes by reference "
                                     "(e.g. the keytab Secret), mounted in it only")
    cpu: QuantityField | None = Field(default=None, description="request and limit (default 50m)")
    memory: QuantityField | None = Field(default=None, description="request and limit (default 64Mi)")
    shared: list[SharedDir] = Field(default_factory=list, description="emptyDirs shared with the job's "
                                    "containers, e.g. the ticket cache a renewer keeps fresh")


class PodExtras(Spec):
    """Pod-level additions to a job (every task of it), a pipeline step (every task of it) or a
    serving (every replica), all by reference."""

    env_refs: list[EnvRef] = Field(default_factory=list, description="env from Secret or ConfigMap keys")
    extra_volumes: list[VolumeRef] = Field(default_factory=list)
    shm_size: QuantityField | None = Field(default=None, description="size of /dev/shm (an in-memory emptyDir, "
                                           "counted against the container's memory limit)")
    image_pull_secrets: list[DnsName] = Field(default_factory=list)
    containers: list[str] = Field(default_factory=list, description="the platform's pod templates to add "
                                  "(sidecars and init containers)")


__all__ = ["EnvRef", "KeyRef", "VolumeRef", "Policy", "PodTemplate", "PodExtras", "SharedDir", "SECRET_LIKE_NAME"]
