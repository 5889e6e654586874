"""The user and project storage levels: a home PVC per member user and one project PVC.
(The global level is the platform's global datasets, imported read-only by every tenant.)"""
from __future__ import annotations

from compiler.kinds import STORAGE_LEVEL_LABEL
from compiler.model.common import user_handle
from compiler.render.context import TenantContext

PROJECT_CLAIM = "project"


def home_claim(user: str) -> str:
    return f"home-{user_handle(user)}"


def render(ctx: TenantContext) -> list[dict]:
    storage, settings = ctx.tenant.storage, ctx.platform.storage
    if settings is None:
        return []
    objects = []
    if storage.home is not None:
        for user in ctx.tenant.user_members():
            objects.append(_claim(ctx, home_claim(user), storage.home.size.canonical(),
                                  storage.home.storage_class or settings.home_class, "ReadWriteOnce",
                                  {STORAGE_LEVEL_LABEL: "user"}))
    if storage.project is not None:
        objects.append(_claim(ctx, PROJECT_CLAIM, storage.project.size.canonical(),
                              storage.project.storage_class or settings.project_class, "ReadWriteMany",
                              {STORAGE_LEVEL_LABEL: "project"}))
    return objects


def _claim(ctx: TenantContext, name: str, size: str, storage_class: str, mode: str, labels: dict) -> dict:
    return ctx.obj("v1", "PersistentVolumeClaim", name, labels=labels, spec={
        "accessModes": [mode], "storageClassName": storage_class, "resources": {"requests": {"storage": size}}})
