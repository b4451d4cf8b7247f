"""The command line as a process: what a shell pipeline sees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.integration
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def test_a_reader_that_leaves_gets_no_traceback(tmp_path: Path) -> None:
    """`vlm-bench … | head`: the pipe's reader is gone before vlm-bench writes."""
    argv = [sys.executable, "-m", "bench", "run", str(QUICKSTART), "--dry-run", "--json"]
    argv += ["--out", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err, err
