"""What rendered/ says each cluster should have, refused when stale or invalid.

diff and apply act on rendered/ (what reviewers approved), but only after proving it is
exactly what tenants/ compiles to: compiling in memory and comparing bytes is cheap next
to applying a stale tree to a cluster. The compiled objects are then used directly; they
are the parsed form of the files on disk.
"""
from __future__ import annotations

from pathlib import Path

from compiler.errors import UserError
from compiler.pipeline import RENDERED_DIR, CompileResult, check_rendered, compile_repo


def load_desired(root: Path, crd_dirs: list[Path]) -> CompileResult:
    """Compile `root` and insist that rendered/ matches (CompileError when specs are invalid)."""
    result = compile_repo(root, crd_dirs)
    staleness = check_rendered(root, result)
    if staleness.stale:
        parts = [f"{len(v)} {k}" for k, v in (("missing", staleness.missing), ("extra", staleness.extra),
                                              ("differing", staleness.differing)) if v]
        example = (staleness.missing + staleness.extra + staleness.differing)[0]
        raise UserError(f"{RENDERED_DIR}/ is stale ({', '.join(parts)}; e.g. {RENDERED_DIR}/{example}): "
                        "run `tenantc compile` (with the same --crd-dir) and commit the result first")
    return result


def cluster_objects(objects: dict[str, dict], cluster: str) -> dict[str, dict]:
    """Objects under rendered/<cluster>/ ('_'-folders at the top, such as _argocd/, are not clusters)."""
    prefix = f"{cluster}/"
    return {path: obj for path, obj in objects.items() if path.startswith(prefix)}

