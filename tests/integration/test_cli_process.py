"""The command line as a process: what a shell pipeline sees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import start_vlm_bench
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def test_a_reader_that_leaves_gets_no_traceback(tmp_path: Path) -> None:
    """`vlm-bench … | head`: the pipe's reader is gone before vlm-bench writes."""
    proc = start_vlm_bench(
        "run", str(QUICKSTART), "--dry-run", "--json", "--out", str(tmp_path), cwd=ROOT
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err, err


def test_the_simulator_command_imports_no_analysis_library() -> None:
    """`vlm-bench sim` is a child of every simulated run: its start-up (before it listens)
    imports the simulator, not pandas, matplotlib, the store or evalscope."""
    code = (
        "import sys\n"
        "from bench.cli.parser import build_parser\n"
        "build_parser(['sim', '--help'])\n"
        "heavy = ('pandas', 'matplotlib', 'sqlalchemy', 'evalscope', 'pyarrow')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "build_parser([])\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]  # and the check can see pandas
