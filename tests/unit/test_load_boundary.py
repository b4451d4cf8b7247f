"""Nothing outside bench/load/ knows evalscope: no module elsewhere in bench/ imports
evalscope itself or one of bench.load's evalscope modules (bench.load.evalscope*), so no
line there can call into them. bench/measure/ reaches the load generator through
bench/load/generator.py (plans, strategies, rows, the client's account, its version for
provenance)."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imported(tree: ast.AST) -> list[tuple[str, int]]:
    """(module, line) for every import, `from a import b` counted as both a and a.b."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return out


def _evalscope(module: str) -> bool:
    parts = module.split(".")
    if parts[0] == "evalscope":
        return True
    return parts[:2] == ["bench", "load"] and len(parts) > 2 and parts[2].startswith("evalscope")


def evalscope_imports(source: str, where: str) -> list[str]:
    return [
        f"{where}:{line}: imports {module}"
        for module, line in _imported(ast.parse(source))
        if _evalscope(module)
    ]


def test_only_bench_load_imports_evalscope() -> None:
    found = []
    for path in sorted(BENCH.rglob("*.py")):
        if path.relative_to(BENCH).parts[0] == "load":
            continue
        where = str(path.relative_to(BENCH.parent))
        found += evalscope_imports(path.read_text(encoding="utf-8"), where)
    assert found == []


def test_the_check_sees_every_spelling() -> None:
    """The scan above must be able to fail: each way of reaching evalscope is caught, and
    the load generator's own interface is not."""
    caught = [
        "import evalscope",
        "from evalscope.perf import main",
        "from bench.load import evalscope",
        "from bench.load import evalscope_db as db",
        "from bench.load.evalscope_data import prompts",
        "import bench.load.evalscope_gen",
    ]
    for line in caught:
        assert evalscope_imports(line, "x.py"), line
    allowed = "from bench.load import generator\nfrom bench.load.result import RequestRow"
    assert evalscope_imports(allowed, "x.py") == []
