"""Habits the project keeps: no function of radon grade D or worse without a reason.

A function that must stay complex says why in a comment on the line above its `def` that
starts with `# complexity:`; everything else is split until radon grades it C or better.
"""
from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

PACKAGE = Path(__file__).resolve().parents[2] / "compiler"


def _explained(lines: list[str], lineno: int) -> bool:
    """A comment block right above the def (or its decorators) that starts `# complexity: why`."""
    i = lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("@"):
        i -= 1
    while i >= 0 and lines[i].lstrip().startswith("#"):
        if lines[i].strip().startswith("# complexity:"):
            return True
        i -= 1
    return False


def unexplained_complex_functions(root: Path) -> list[str]:
    offenders = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for block in cc_visit(source):
            for b in [block, *getattr(block, "methods", [])]:
                if cc_rank(b.complexity) in "DEF" and not _explained(lines, b.lineno):
                    offenders.append(f"{path.relative_to(root.parent)}:{b.lineno} {b.name} "
                                     f"(grade {cc_rank(b.complexity)}, complexity {b.complexity})")
    return offenders


def test_no_function_of_grade_d_or_worse_without_a_reason():
    offenders = unexplained_complex_functions(PACKAGE)
    assert not offenders, "split these or explain why not with a '# complexity:' comment:\n" + "\n".join(offenders)


def test_the_check_sees_a_complex_function_and_its_reason(tmp_path):
    branches = "".join(f"    if x == {i} and y:\n        return {i}\n" for i in range(25))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(f"def tangled(x, y):\n{branches}    return -1\n")
    assert [o.split()[1] for o in unexplained_complex_functions(tmp_path / "pkg")] == ["tangled"]
    explained = f"# complexity: one flat table\ndef tangled(x, y):\n{branches}    return -1\n"
    (tmp_path / "pkg" / "m.py").write_text(explained)
    assert unexplained_complex_functions(tmp_path / "pkg") == []
