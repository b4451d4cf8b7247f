"""The quick start's lean dependency list (.ci/lean_deps.py, run_bench.sh's runtime set).

run_bench.sh installs evalscope with `--no-deps` and then this list, so the list must keep
every evalscope dependency that `evalscope perf` imports, and each name left out must be
one evalscope declares (a stale name would hide a new dependency) and one that evalscope
perf's import really never loads.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration  # the last test starts a Python to import evalscope

ROOT = Path(__file__).resolve().parents[2]
# The import name of each distribution left out (and of the modelscope extra's oss2).
MODULES = {
    "jieba": "jieba",
    "markdown": "markdown",
    "math-verify": "math_verify",
    "more-itertools": "more_itertools",
    "nltk": "nltk",
    "plotly": "plotly",
    "rouge-chinese": "rouge_chinese",
    "rouge-score": "rouge_score",
    "sacrebleu": "sacrebleu",
    "zhconv": "zhconv",
}


def _lean() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lean_deps", ROOT / ".ci" / "lean_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_list_keeps_perf_and_own_deps_and_drops_the_unused() -> None:
    lean = _lean()
    project = lean._project()
    declared = metadata.requires("evalscope") or []
    names = [lean.canonical(r) for r in lean.requirements(project, declared)]
    table = project["tool"]["vlm-bench"]
    unused = {lean.canonical(n) for n in table["evalscope-unused"]}
    instead = {lean.canonical(r) for r in table["evalscope-instead"]}
    assert not (unused - instead) & set(names) and "evalscope" not in names
    for needed in ("transformers", "openai", "datasets", "modelscope", "fastapi", "scipy"):
        assert needed in names
    own = {lean.canonical(r) for r in project["project"]["dependencies"]} - {"evalscope"}
    assert own <= set(names)
    assert lean.evalscope_requirement(project) == "evalscope>=1.14.1,<1.15"


def test_extra_markers_are_kept_only_for_perf() -> None:
    lean = _lean()
    declared = [
        "aiohttp",
        'numpy; extra == "perf"',
        'uvloop; sys_platform != "win32" and extra == "perf"',
        'torch; extra == "rag"',
        "jieba",
    ]
    assert lean.evalscope_needs(declared, {"jieba"}) == [
        "aiohttp",
        "numpy",
        'uvloop; sys_platform != "win32"',
    ]


def test_each_unused_name_is_declared_by_evalscope_and_never_imported_by_perf() -> None:
    lean = _lean()
    project = lean._project()
    declared = {lean.canonical(r) for r in metadata.requires("evalscope") or []}
    unused = {lean.canonical(n) for n in project["tool"]["vlm-bench"]["evalscope-unused"]}
    assert unused <= declared
    modules = [MODULES[n] for n in sorted(unused - {"modelscope"})] + ["oss2"]
    probe = (
        "import sys, evalscope.perf.main, evalscope.perf.benchmark\n"
        "from evalscope.cli.cli import run_cmd\n"
        "from evalscope.perf.plugin.datasets.utils import *\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
