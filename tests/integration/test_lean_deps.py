"""The quick start's lean dependency list (.ci/lean_deps.py, run_bench.sh's runtime set).

run_bench.sh installs evalscope with `--no-deps` and then this list, so the list must keep
every evalscope dependency that `evalscope perf` imports, and each name left out must be
one evalscope declares (a stale name would hide a new dependency) and one that evalscope
perf's import really never loads.
"""

from __future__ import annotations

import importlib.util
import os
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


def test_what_the_runtime_trim_removes_is_never_loaded_by_a_run(tmp_path: Path) -> None:
    """run_bench.sh's `trim_runtime` deletes pyarrow's Flight and C++ test libraries and
    uninstalls `kernels` and `hf_xet`. A real run on the simulator with a workload (Parquet
    records, the evalscope child, the tokenizer, plots), then export to Parquet and the
    store: none of its processes may have loaded one of them. Each process of the run
    writes its loaded modules and shared libraries as it exits (a sitecustomize on the
    path; a level forked from the zygote leaves through os._exit)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    seen = tmp_path / "seen"
    seen.mkdir()
    (probe / "sitecustomize.py").write_text(
        "import atexit, os, sys\n"
        "def _write():\n"
        "    maps = open('/proc/self/maps').read()\n"
        f"    with open(os.path.join({str(seen)!r}, str(os.getpid())), 'w') as fh:\n"
        "        fh.write('\\n'.join(sys.modules) + '\\n' + maps)\n"
        "atexit.register(_write)\n"
        "_exit = os._exit\n"
        "os._exit = lambda code: (_write(), _exit(code))\n"  # a forked level's way out
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(probe), str(ROOT)])}
    for argv in (
        [
            "run",
            str(ROOT / "scenarios" / "workload-photos.yaml"),
            "--parallel",
            "2",
            "--number",
            "4",
        ],
        ["export", "--out", str(tmp_path / "all.parquet")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "bench", *argv, "--output-dir", str(tmp_path / "out")]
            if argv[0] == "run"
            else [
                sys.executable,
                "-m",
                "bench",
                *argv,
                "--db",
                str(tmp_path / "out" / "vlm-bench.db"),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    texts = [p.read_text() for p in seen.iterdir()]
    assert len(texts) >= 3  # vlm-bench, the simulator, the evalscope zygote, the export
    assert any("evalscope.perf.main" in t.split() for t in texts)  # the child was seen
    assert any("pyarrow.parquet" in t.split() for t in texts)
    # libarrow_s3 is left out of this list: pyarrow.fs loads it when it is there, and when
    # it is not (the trimmed runtime venv) says S3FileSystem is unsupported, only if used.
    trimmed = ("libarrow_flight", "libarrow_python_flight", "_pyarrow_cpp_tests")
    for text in texts:
        names = set(text.split())
        assert not {"kernels", "hf_xet", "pyarrow.flight"} & names
        assert not [lib for lib in trimmed if lib in text]
