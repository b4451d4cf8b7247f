"""The test suite's own layout rules, checked on its source with ast.

1. No test module imports another test module or a conftest: what tests share lives in
   tests/support/ (a helper taken from a test module drags that module's tests and
   fixtures along, and breaks when that file is reorganised).
2. Unit tests start no processes: no `subprocess`, `multiprocessing`, `os.fork`/`os.system`
   style calls, no simulator process, no subprocess runner of tests/support/cli.py. Such a
   test belongs in tests/integration. ALLOWED lists the exceptions, each with its reason.

Each rule is also run on a small bad source, so a scanner that finds nothing fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
UNIT = TESTS / "unit"

# Modules a unit test must not import: they start processes (or are the sim process).
PROCESS_MODULES = {"subprocess", "multiprocessing", "bench.sim.process", "tests.support.sim"}
# Names a unit test must not take from tests.support.cli: the subprocess runners.
PROCESS_RUNNERS = {"vlm_bench", "start_vlm_bench"}
# os functions that start a process.
OS_STARTERS = {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"}
OS_STARTER_PREFIXES = ("exec", "spawn")
# tests/unit file name -> why it may start a process. Empty: none needs to.
ALLOWED: dict[str, str] = {}


def _imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every import; a relative one as '.module'."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def foreign_imports(source: str) -> list[str]:
    """Imports of a test module or conftest (anything in tests/ but tests.support)."""
    bad = []
    for line, module, _ in _imports(ast.parse(source)):
        top = module.split(".")[0]
        inside_tests = top == "tests" or module.startswith(".") or top == "conftest"
        allowed = module == "tests.support" or module.startswith("tests.support.")
        if inside_tests and not allowed:
            bad.append(f"line {line}: {module}")
    return bad


def process_starts(source: str) -> list[str]:
    """Imports and calls in `source` that start (or are) a process."""
    tree = ast.parse(source)
    bad = []
    for line, module, names in _imports(tree):
        if module in PROCESS_MODULES or module.split(".")[0] in PROCESS_MODULES:
            bad.append(f"line {line}: import {module}")
        if module == "tests.support.cli" and PROCESS_RUNNERS & set(names):
            bad.append(f"line {line}: {sorted(PROCESS_RUNNERS & set(names))} from {module}")
        if module == "os" and any(_os_starter(n) for n in names):
            bad.append(f"line {line}: a process starter from os")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and _os_starter(node.attr)
        ):
            bad.append(f"line {node.lineno}: os.{node.attr}")
    return bad


def _os_starter(name: str) -> bool:
    return name in OS_STARTERS or name.startswith(OS_STARTER_PREFIXES)


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "data" not in p.relative_to(TESTS).parts)


def test_no_test_module_imports_another_test_module() -> None:
    bad = [
        f"{path.relative_to(TESTS)} {hit}"
        for path in _sources(TESTS)
        for hit in foreign_imports(path.read_text())
    ]
    assert not bad, "import shared helpers from tests.support instead:\n" + "\n".join(bad)


def test_unit_tests_start_no_process() -> None:
    bad = [
        f"{path.name} {hit}"
        for path in _sources(UNIT)
        if path.name not in ALLOWED
        for hit in process_starts(path.read_text())
    ]
    assert not bad, "move these tests to tests/integration:\n" + "\n".join(bad)


def test_the_allow_list_names_existing_files_with_a_reason() -> None:
    for name, reason in ALLOWED.items():
        assert (UNIT / name).exists() and reason.strip(), name


def test_the_scanners_find_what_they_must() -> None:
    """The rules are not vacuous: each bad shape is found, the allowed ones are not."""
    assert foreign_imports("from tests.integration.test_run_faults import run") != []
    assert foreign_imports("from tests.integration.conftest import Sim") != []
    assert foreign_imports("from .conftest import Sim\nimport conftest") != []
    assert foreign_imports("import tests.unit.test_cli") != []
    assert foreign_imports("from tests.support.cli import run_cli\nimport tests.support") == []
    for bad in (
        "import subprocess",
        "from subprocess import run",
        "import multiprocessing.pool",
        "from tests.support.sim import Sim",
        "from tests.support.cli import run_cli, vlm_bench",
        "import os\nos.system('true')",
        "import os\nos.execv('/bin/true', [])",
        "from os import fork",
    ):
        assert process_starts(bad) != [], bad
    assert process_starts("import os\nfrom tests.support.cli import run_cli\nos.getpid()") == []
