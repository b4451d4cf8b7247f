"""A rate sweep with goodput, and the cheap warm-up, against the simulator with the real
evalscope client (`vlm-bench run`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench

pytestmark = pytest.mark.integration

SCENARIO = """\
name: rtest
model: {served_name: sim-model, tokenizer_path: generated}
server: {kind: sim, profile: fast}
load: {image_width: 64, image_height: 64, min_tokens: 24, max_tokens: 24,
       min_prompt_length: 60, max_prompt_length: 60, request_timeout_s: 60,
       warmup_requests: 2, warmup: cheap}
sweep: {parallel: [8], rate: [4, 16], number: [6, 12]}
slo: {ttft_p99_s: 5.0, tpot_p99_s: 0.5}
"""


def test_a_rate_sweep_reports_rate_and_goodput_and_warms_up_cheaply(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "reports"
    done = vlm_bench("run", str(path), "--output-dir", str(out), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (out / "rtest").iterdir()
    run = read_run(run_dir)
    assert [(lv.parallel, lv.number, lv.rate) for lv in run.levels] == [(8, 6, 4.0), (8, 12, 16.0)]
    for level in run.levels:
        # A generous SLO on the fast profile: every request meets it.
        assert level.goodput_rps == pytest.approx(level.rps)
    rows = list(csv.DictReader((run_dir / "levels.csv").open()))
    assert [r["rate"] for r in rows] == ["4.0", "16.0"] and all(r["goodput_rps"] for r in rows)
    assert "## Load and goodput" in (run_dir / "report.md").read_text()
    assert "Load and goodput" in done.stdout
    trace = [json.loads(x) for x in (run_dir / "sim-trace.jsonl").read_text().splitlines()]
    # Two warm-ups per level at 16 tokens (the floor), the measured at 24 (and the readiness
    # probe and answer check at their own lengths).
    tokens = [r["max_tokens"] for r in trace]
    assert tokens.count(16) == 4 and tokens.count(24) == 18
    summary = json.loads((run_dir / "run.json").read_text())
    assert summary["levels"][0]["rate"] == 4.0 and "goodput_rps" in summary["levels"][0]
