"""What rendered/ says each cluster should have (refused when stale or invalid), and the platform's clusters.

diff and apply act on rendered/ (what reviewers approved), but only after proving it is
exactly what tenants/ compiles to: compiling in memory and comparing bytes is cheap next
to applying a stale tree to a cluster. The compiled objects are then used directly; they
are the parsed form of the files on disk.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler.errors import Problems, UserError
from compiler.identity import RenderedPath
from compiler.pipeline import RENDERED_DIR, CompileResult, check_rendered, compile_repo


def load_desired(root: Path, crd_dirs: Sequence[Path]) -> CompileResult:
    """Compile `root` and insist that rendered/ matches (CompileError when specs are invalid)."""
    result = compile_repo(root, list(crd_dirs))
    staleness = check_rendered(root, result)
    if staleness.stale:
        parts = [f"{len(v)} {k}" for k, v in (("missing", staleness.missing), ("extra", staleness.extra),
                                              ("differing", staleness.differing)) if v]
        example = (staleness.missing + staleness.extra + staleness.differing)[0]
        raise UserError(f"{RENDERED_DIR}/ is stale ({', '.join(parts)}; e.g. {RENDERED_DIR}/{example}): "
                        "run `tenantc compile` (with the same --crd-dir) and commit the result first")
    return result


def cluster_objects(objects: Mapping[str, dict], cluster: str) -> dict[str, dict]:
    """Objects under rendered/<cluster>/ (_argocd/ at the top is not a cluster)."""
    return {path: obj for path, obj in objects.items() if RenderedPath.parse(path).cluster == cluster}


def load_platform(root: Path):
    """The platform file alone (status needs no compile, and no tenant file must block it)."""
    from compiler.load.sources import PLATFORM_FILE, read_sources
    from compiler.model import validate_model
    from compiler.model.platform import Platform

    problems = Problems()
    sources = read_sources(root, problems, [f"tenants/{PLATFORM_FILE}"])
    platform = validate_model(Platform, sources.platform, problems) if sources.platform else None
    if platform is None:
        detail = "; ".join(str(p) for p in problems.items) or f"no tenants/{PLATFORM_FILE} under {root}"
        raise UserError(f"cannot read the platform file: {detail}")
    return platform


def cluster_contexts(platform) -> dict[str, str]:
    """Platform cluster name -> the kubeconfig context the platform file names for it."""
    return {c.name: c.context for c in platform.clusters}

