"""`vlm-bench run` end to end against the simulator with the real evalscope client."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report.tables import format_cell
from bench.schema.runfile import read_run
from bench.store.requestrows import file_rows

pytestmark = pytest.mark.integration

SCENARIO = """\
name: itest
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, args: [{args}]}}
load: {{image_width: 640, image_height: 640, min_tokens: 24, max_tokens: 24,
        min_prompt_length: 60, max_prompt_length: 60, request_timeout_s: 60}}
sweep: {{parallel: [1, 4], number: [2, 8]}}
"""


def run_scenario(
    tmp_path: Path, sim_args: str = ""
) -> tuple[subprocess.CompletedProcess[str], Path]:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(args=sim_args))
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(path), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    runs = list((out / "itest").iterdir())
    assert len(runs) == 1, done.stderr
    return done, runs[0]


def test_run_writes_results_that_agree_with_each_other_and_the_trace(tmp_path: Path) -> None:
    done, run_dir = run_scenario(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| Conc. | RPS" in done.stdout and "report:" in done.stdout
    run = read_run(run_dir)
    assert run.status == "complete" and [lv.parallel for lv in run.levels] == [1, 4]
    for name in ("run.json", "levels.csv", "report.md", "server.log", "scenario.yaml"):
        assert (run_dir / name).exists(), name

    rows = list(csv.DictReader((run_dir / "levels.csv").open()))
    report = (run_dir / "report.md").read_text()
    trace = [json.loads(x) for x in (run_dir / "sim-trace.jsonl").read_text().splitlines()]
    for level, row in zip(run.levels, rows, strict=True):
        assert level.status == "ok" and level.succeeded == level.number and level.failed == 0
        assert level.tokens_honoured and level.output_tokens_min == level.output_tokens_max == 24
        # levels.csv and run.json carry the same figures.
        for key in ("rps", "ttft_avg_s", "tpot_p99_s", "output_tok_s"):
            assert float(row[key]) == pytest.approx(level.value(key))
        # The report prints them in the reference format.
        cells = [format_cell(k, level.value(k)) for k in ("rps", "latency_avg_s", "ttft_avg_s")]
        line = next(x for x in report.splitlines() if x.startswith(f"| {level.parallel} "))
        assert all(c in line for c in cells), (cells, line)
        # Raw evalscope files kept verbatim (its database as requests.parquet, Step 15).
        raw = run_dir / level.raw_dir
        assert (raw / "benchmark_summary.json").exists()
        assert not (raw / "benchmark_data.db").exists()
        records = [r for r in file_rows(run_dir) if r["level_index"] == level.index]
        assert len(records) == level.number
        # Every measured request reached the simulator once; what the client measured
        # (its records) contains what the server did.
        lo = min(r["start_s"] for r in records) - 1
        hi = max(r["end_s"] for r in records) + 1
        by_sha = {t["request_sha"]: t for t in trace if lo <= t["arrival"] <= hi}
        for r in records:
            t = by_sha[r["request_sha"]]
            assert t["output_tokens"] == r["output_tokens"] == 24
            assert t["image_tokens"] == 529 and t["prompt_tokens"] == r["prompt_tokens"]
            assert r["start_s"] < t["arrival"] < t["first_token"] <= r["start_s"] + r["ttft_s"]
            assert t["last_token"] <= r["end_s"]
    # One warm-up wave per level was sent but not measured.
    # The readiness probe, the answer check, then each level's requests and warm-up wave.
    assert sum(t["images"] for t in trace) == 1 + 1 + (2 + 1) + (8 + 4)


def test_default_output_dir_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    """Regression: with the default relative output_dir, the simulator (which runs in the
    run directory) was handed relative paths and could not open its trace file."""
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(args="").replace("[1, 4], number: [2, 8]", "[1], number: [1]"))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (tmp_path / "reports" / "itest").iterdir()
    assert read_run(run_dir).status == "complete"


def test_unhonoured_output_length_is_reported_not_averaged(tmp_path: Path) -> None:
    done, run_dir = run_scenario(tmp_path, sim_args="--truncate-output, '5'")
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((run_dir / "run.json").read_text())
    for level in run["levels"]:
        assert level["tokens_honoured"] is False
        assert level["wrong_length"] == level["succeeded"] == level["number"]
        assert level["output_tokens_max"] == 5 and "did not produce 24 tokens" in level["reason"]
    report = (run_dir / "report.md").read_text()
    assert "| 1 †" in report and "| 4 †" in report
    assert "output length not honoured" in report
    assert "output length not honoured" in done.stdout
