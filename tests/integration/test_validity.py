"""Per-level validity checks and the server's view, end to end: the simulator (whose
/metrics histograms are exact) and the real evalscope client, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.measure.servermetrics import read_samples
from bench.schema.results import Check, LevelResult, RunResult
from bench.schema.runfile import read_run
from bench.store.requestrows import file_rows

pytestmark = pytest.mark.integration

SCENARIO = """\
name: vtest
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, args: [{args}]}}
load: {{image_width: 320, image_height: 320, min_tokens: {tokens}, max_tokens: {tokens},
        min_prompt_length: 60, max_prompt_length: 60, request_timeout_s: 60{load}}}
sweep: {{parallel: {parallel}, number: {number}{sweep}}}
check: off
"""


def run(
    tmp_path: Path,
    parallel: str,
    number: str,
    tokens: int = 200,
    args: str = "",
    load: str = "",
    sweep: str = "",
) -> tuple[RunResult, Path]:
    path = tmp_path / "s.yaml"
    text = SCENARIO.format(
        args=args, tokens=tokens, load=load, parallel=parallel, number=number, sweep=sweep
    )
    path.write_text(text)
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(path), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (out / "vtest").iterdir()
    return read_run(run_dir), run_dir


def check(level: LevelResult, name: str) -> Check:
    return next(c for c in level.checks if c.name == name)


def test_clean_level_passes_and_server_ttft_matches_the_trace(tmp_path: Path) -> None:
    # The client's self-calibration is tested in test_calibrate.py (on a busy host its
    # honest "client error" may flag this level).
    run_result, run_dir = run(tmp_path, "[4]", "[16]", load=", calibrate: off")
    (level,) = run_result.levels
    assert level.flags == [], level.checks
    assert {c.name: c.status for c in level.checks} == {
        "output length": "ok",
        "success": "ok",
        "concurrency": "ok",
        "mm cache": "ok",
        "prefix cache": "ok",
        "client": "ok",
        "TTFT gap": "ok" if level.server.window_exact else "n/a",
        "accelerator": "n/a",  # the simulator: no accelerator telemetry
    }
    srv = level.server.to_dict()
    finished = [
        t
        for t in map(json.loads, (run_dir / "sim-trace.jsonl").read_text().splitlines())
        if t["outcome"] in ("stop", "length")
    ]  # in the order the simulator observed its histograms
    # The whole level, exact by design: the 4 warm-up requests and the 16 measured ones
    # (the trace's earlier requests are the readiness probe's, before the level).
    assert srv["level_ttft_requests"] == srv["level_e2e_requests"] == 20
    level_requests = finished[-20:]
    trace_ttft = sum(t["first_token"] - t["arrival"] for t in level_requests) / 20
    assert srv["level_ttft_avg_s"] == pytest.approx(trace_ttft, rel=0.02)
    assert srv["samples"] >= 3 and srv["in_flight_median"] == 4
    # The measured window opens when the warm-up wave has finished: the simulator
    # observes TTFT and latency together at the end, so the window holds the measured
    # requests unless one finished before that scrape.
    counted = srv.get("ttft_requests", 0)
    assert counted == srv.get("e2e_requests", 0) <= level.succeeded == 16
    assert srv["window_exact"] == (counted == 16)
    if srv["window_exact"]:
        samples = read_samples(run_dir / "raw" / "level-01" / "metrics.jsonl")
        base = next(s for s in samples if s.get("phase") == "measured")
        window = finished[int(base["e2e"][1]) :][:16]
        measured = {r["request_sha"] for r in file_rows(run_dir) if r["level_index"] == level.index}
        assert {t["request_sha"] for t in window} == measured
        window_ttft = sum(t["first_token"] - t["arrival"] for t in window) / len(window)
        assert srv["ttft_avg_s"] == pytest.approx(window_ttft, rel=0.02)
        trace_queue = sum(t["admitted"] - t["engine"] for t in window) / len(window)
        assert srv["queue_avg_s"] == pytest.approx(trace_queue, rel=0.02, abs=1e-6)
        # The client starts its clock before the server does: its TTFT is larger, not by
        # much.
        assert 0 < level.ttft_avg_s - srv["ttft_avg_s"] < 0.05
    assert level.tpot_avg_s == pytest.approx(srv["level_tpot_avg_s"], rel=0.05)
    report = (run_dir / "report.md").read_text()
    assert "## Validity checks" in report and "### Client and server latency" in report
    assert "| 4     | ✓     | all checks passed" in report


def test_early_stop_and_repeated_images_are_flagged(tmp_path: Path) -> None:
    """A server that stops at 5 tokens despite ignore_eos, and a sweep that sends level 1's
    images again at level 2 (same seed, caches kept): both are flagged, level by level."""
    run_result, run_dir = run(
        tmp_path,
        "[2, 2]",
        "[4, 4]",
        tokens=40,
        args="--truncate-output, '5'",
        load=", vary_seed: false",
        sweep=", reset_caches: false",
    )
    first, second = run_result.levels
    for level in (first, second):
        assert check(level, "output length").status == "flag"
        assert "did not produce 40 tokens (got 5..5)" in check(level, "output length").detail
    assert check(first, "mm cache").status == "ok"
    mm = check(second, "mm cache")
    assert mm.status == "flag" and "images repeated" in mm.detail
    assert second.server.mm_hit_rate == 1.0
    report = (run_dir / "report.md").read_text()
    assert "| 2 † ⚑" in report and "mm cache: hit rate 100.0 %" in report


def test_throttled_load_generator_is_flagged(tmp_path: Path) -> None:
    """evalscope paced at 3 requests/s cannot keep 8 requests in flight."""
    run_result, _ = run(tmp_path, "[8]", "[12]", tokens=100, load=", rate: 3")
    (level,) = run_result.levels
    conc = check(level, "concurrency")
    assert conc.status == "flag", level.checks
    assert "the load generator fell behind" in conc.detail
    assert (level.client.in_flight_mean or 0) < 4
    assert "not checked (load.rate" in check(level, "client").detail
    assert [c.name for c in level.checks if c.status == "flag"] == ["concurrency"]
