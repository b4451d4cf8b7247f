"""The command line as a process: what a shell pipeline sees."""

from __future__ import annotations

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
