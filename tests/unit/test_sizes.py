"""Size limits on bench/: no function over 60 lines, bar an explicit allow-list, and no
module over 1,000 lines.

Modules are sized by cohesion (Step 15): a module holds one idea whole and may
grow past a few hundred lines where splitting would scatter it, as pyperf's do; the module
limit only catches a file that has become several ideas. (Step 10's 400-line cap had begun
to shape the code: files existed because another was at the limit.)

Lines are counted as the file has them (docstrings and comments included): a function
from its `def` line to its last line, nested functions counted inside their parent and on
their own. Methods are named `Class.method`.
"""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
MAX_MODULE_LINES = 1000
MAX_FUNCTION_LINES = 60

ALLOWED: set[str] = set()  # declarative tables too long to split would go here


def _functions(node: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, lines) of every function under `node`."""
    out = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            assert child.end_lineno is not None
            out.append((name, child.end_lineno - child.lineno + 1))
            out += _functions(child, name + ".")
        elif isinstance(child, ast.ClassDef):
            out += _functions(child, prefix + child.name + ".")
        else:
            out += _functions(child, prefix)
    return out


def oversized(root: Path) -> dict[str, int]:
    """`module` or `module:function` (relative to root) -> lines, for each over its limit."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root).as_posix()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            out[rel] = lines
        for name, length in _functions(ast.parse(text)):
            if length > MAX_FUNCTION_LINES:
                out[f"{rel}:{name}"] = length
    return out


def test_no_module_or_function_over_its_limit() -> None:
    over = {key: n for key, n in oversized(BENCH).items() if key not in ALLOWED}
    assert not over, "over the size limits (split them, or allow-list a declarative table):\n" + (
        "\n".join(f"  {key}: {n} lines" for key, n in sorted(over.items()))
    )


def test_allow_list_names_only_what_is_still_over() -> None:
    """An entry whose module or function is back under the limit (or gone) is dropped,
    so the list cannot silently excuse the next thing that grows there."""
    stale = ALLOWED - set(oversized(BENCH))
    assert not stale, f"no longer over the limits, remove from ALLOWED: {sorted(stale)}"


def _body(indent: int) -> str:
    """MAX_FUNCTION_LINES statements: a function holding them is one line over."""
    return "".join(f"{' ' * indent}x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))


def test_scan_finds_long_modules_methods_and_nested_functions(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(
        "class C:\n    def m(self):\n"
        + _body(8)
        + "def outer():\n    def inner():\n"
        + _body(8)
        + "def short():\n    return 1\n"
    )
    (tmp_path / "b.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "c.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert oversized(tmp_path) == {
        "pkg/a.py:C.m": MAX_FUNCTION_LINES + 1,
        "pkg/a.py:outer": MAX_FUNCTION_LINES + 2,
        "pkg/a.py:outer.inner": MAX_FUNCTION_LINES + 1,
        "b.py": MAX_MODULE_LINES + 1,
    }
