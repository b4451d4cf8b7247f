"""`sweep.stop` end to end: a real simulator sweep measured in rounds, its rounds,
requests, steady-state view and confidence intervals in run.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench

pytestmark = pytest.mark.integration

SCENARIO = """\
name: stoptest
model: {served_name: sim-model, tokenizer_path: generated}
server: {kind: sim, profile: fast, args: [--jitter, "0.02"]}
load: {image_width: 640, image_height: 640, min_tokens: 24, max_tokens: 24,
       min_prompt_length: 60, max_prompt_length: 60, request_timeout_s: 60}
sweep:
  parallel: [2]
  number: [4]
  stop: {metric: [tpot_avg_s], rel_half_width: 0.5, min_requests: 8, max_requests: 24, waves: 4}
check: off
"""


def test_sweep_stop_records_rounds_and_intervals(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "reports"
    done = vlm_bench("run", str(path), "--output-dir", str(out), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (out / "stoptest").iterdir()
    run = read_run(run_dir)
    (level,) = run.levels
    assert level.precision is not None and level.precision.rounds is not None
    assert 1 <= level.precision.rounds <= 3
    assert level.precision.requests == level.succeeded + level.failed
    assert level.precision.requests == 8 * level.precision.rounds
    assert (level.precision.stop_reason or "").startswith(("precise", "max_requests"))
    lo, hi = level.precision.intervals["tpot_avg_s"]
    assert lo <= level.tpot_avg_s <= hi
    assert level.steady is not None
    stored = json.loads((run_dir / "run.json").read_text())
    assert stored["scenario"]["sweep"]["stop"]["rel_half_width"] == 0.5
    assert stored["levels"][0]["precision"]["rounds"] == level.precision.rounds
    assert (run_dir / "raw" / "level-01" / "round-1").is_dir()
