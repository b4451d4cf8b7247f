"""The repository stands alone: no code, configuration or document points at a file outside
it (the notes it was built from once lived in a sibling `shared/` folder; their facts now
live in docs/, e.g. docs/evalscope.md).

Stored data (tests/data: recorded run folders, golden files) may hold the paths of the
machine it was measured on; that is a record, not a pointer, and is not searched.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import ROOT

SEARCHED = ["bench", "tests", "docs", "scenarios", "benchmarks", "examples"]
FILES = ["pyproject.toml", "README.md", "ARCHITECTURE.md", "run_bench.sh"]
SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".j2", ".txt", ".cfg"}
# A sibling folder, the machine's own work tree, or the design notes kept beside the repo.
OUTSIDE = re.compile(r"\.\./shared|/work/|\bshared/(notes|reference)|\b(DESIGN|STYLE)\.md")


def _texts() -> list[Path]:
    out = [ROOT / name for name in FILES if (ROOT / name).exists()]
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            if ROOT / "tests" / "data" in path.parents or path == Path(__file__):
                continue
            out.append(path)
    return out


def test_the_search_covers_code_and_docs() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _texts()}
    assert {"pyproject.toml", "bench/load/evalscope.py", "docs/evalscope.md"} <= names


def test_nothing_points_outside_the_repository() -> None:
    """Regression: pyproject.toml and bench/load/evalscope.py cited ../shared/notes/
    evalscope.md, a file a clone of the repository does not have."""
    bad = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _texts()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert bad == []
