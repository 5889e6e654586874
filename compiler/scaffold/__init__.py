"""`tenantc init`: a new tenant-configuration repository that compiles at once.

The files come from templates shipped inside the package (`templates/`, package data, so an
installed wheel has them), with a few values filled in: the platform's name, tenantc's
version (CI installs the same one) and the newest Kubernetes version whose schemas tenantc
has. The JSON Schemas are not templates: they are generated from the models, exactly as
`tenantc schema` writes them, so the editor modelines and `tenantc check` agree with the
installed tenantc.

Templates are stored under plain names (no leading dot: package-data globs skip hidden
files) and mapped to their place in the repository by `FILES`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from compiler.errors import UserError

# template name under templates/ -> path in the new repository
FILES: dict[str, str] = {
    "README.md": "README.md",
    "gitignore": ".gitignore",
    "platform.yaml": "tenants/platform.yaml",
    "example-team.yaml": "tenants/example-team.yaml",
    "github-workflow.yaml": ".github/workflows/tenantc.yaml",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
}
KUBERNETES_VERSION = "1.37"  # the platform file's example clusters; kubernetes-validate>=1.37 has its schemas
DEFAULT_PLATFORM_NAME = "ml-platform"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


@dataclass
class InitResult:
    """What `init_repository` wrote: new files, and existing ones it replaced (only with force)."""

    root: Path
    written: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def template_text(name: str) -> str:
    return resources.files(__name__).joinpath("templates", name).read_text(encoding="utf-8")


def render_template(name: str, values: dict[str, str]) -> str:
    """The template with every `{{key}}` filled in; an unknown key is a bug, not output."""
    def fill(match: re.Match) -> str:
        if match[1] not in values:
            raise KeyError(f"template {name}: no value for {{{{{match[1]}}}}}")
        return values[match[1]]

    return _PLACEHOLDER.sub(fill, template_text(name))


def platform_name_for(target: Path) -> str:
    """The folder's name as a DNS label (the platform's `name`), or a default when nothing is left."""
    name = re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-")[:63].strip("-")
    return name if re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name or "-") else DEFAULT_PLATFORM_NAME


def repository_files(platform_name: str) -> dict[str, bytes]:
    """Every file of a new repository, by path: the filled templates and the generated schemas."""
    from compiler import __version__
    from compiler.schema_export import schema_files

    values = {"platform": platform_name, "tenantc_version": __version__, "kubernetes_version": KUBERNETES_VERSION}
    files = {path: render_template(name, values).encode() for name, path in FILES.items()}
    files.update(schema_files())
    return dict(sorted(files.items()))


def init_repository(target: Path, force: bool = False, platform_name: str | None = None) -> InitResult:
    """Write a new repository into `target` (created when missing). A folder with anything in
    it is refused unless `force`; then files of the new repository that exist are replaced and
    reported as such, and every other file is left alone."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: exists and is not a folder")
    existing = sorted(p.name for p in target.iterdir()) if target.is_dir() else []
    if existing and not force:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise UserError(f"{target} is not empty ({shown}); choose an empty or new folder, "
                        "or pass --force to write into it (files tenantc init writes are replaced)")
    name = platform_name or platform_name_for(target)
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name):
        raise UserError(f"--name {name!r}: the platform name must be a DNS label (lowercase letters, digits, '-')")
    result = InitResult(target)
    for rel, content in repository_files(name).items():
        path = target / rel
        (result.replaced if path.exists() else result.written).append(rel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        except OSError as exc:
            raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return result


__all__ = ["FILES", "InitResult", "init_repository", "repository_files", "platform_name_for"]
