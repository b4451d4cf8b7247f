"""Step 16: the report's workload line and "what the server saw" table
(bench/report/workload.py) on the stored workload run and hand-made ones; a run without a
workload prints nothing new (its goldens in test_golden.py stay as they were)."""

from __future__ import annotations

from typing import Any

from bench.report.console import run_tables
from bench.report.markdown import render_report
from bench.report.workload import seen_table, workload_line
from bench.schema.runfile import read_run
from bench.schema.views import WorkloadView
from tests.support.factories import level, run, small_scenario, stored
from tests.support.paths import WORKLOAD_RUNS

SOURCE = {"kind": "images", "path": "examples/photos"}


def test_the_stored_run_states_its_distribution() -> None:
    line = workload_line(read_run(WORKLOAD_RUNS / "workload-photos"))
    assert line == (
        "Workload wl-f08ebc728eebb7d7: images from examples/photos at 640x640, 512x600, "
        "1600x1200; 2 images per request; reuse 0.5 (cache hits: 43.3 % of the images the "
        "server counted); 333 KB per request"
    )
    assert line + "." in run_tables(read_run(WORKLOAD_RUNS / "workload-photos"))


def test_a_run_without_a_workload_prints_nothing_new() -> None:
    plain = stored("sim-quickstart")
    assert workload_line(plain) == "" and seen_table(plain.levels) == ""
    assert "## Workload" not in render_report(plain)
    assert "Workload" not in run_tables(plain)


def hand_made(workload: dict[str, Any], view: WorkloadView) -> str:
    lv = level(2, 8, workload=view)
    scenario = small_scenario(workload={"source": SOURCE, **workload})
    return workload_line(run([lv], scenario=scenario, provenance={}))


def test_weights_ranges_and_no_counters_are_said_as_such() -> None:
    line = hand_made(
        {
            "sizes": [{"width": 64, "height": 64, "weight": 3}, {"width": 32, "height": 32}],
            "images_per_request": {"min": 1, "max": 3},
        },
        WorkloadView(fingerprint="wl-9", requests=4, body_bytes=5_000_000),
    )
    assert line == (
        "Workload wl-9: images from examples/photos at 64x64 (75 %), 32x32 (25 %); "
        "1–3 images per request; reuse 0; 1.2 MB per request"
    )
    weighted = hand_made({"images_per_request": {"weights": {1: 1, 2: 3}}}, WorkloadView())
    assert weighted == (
        "Workload (no fingerprint): images from examples/photos at the sizes the source has; "
        "1 (25 %), 2 (75 %) images per request; reuse 0"
    )


def test_the_seen_table_has_a_row_per_level_with_a_trace_slip_in_ms() -> None:
    view = WorkloadView(
        requests=8,
        images=16,
        pixels=2_500_000,
        body_bytes=1_234_567,
        expected_mm_hit_rate=0.5,
        tokens_checked=8,
        tokens_mismatched=1,
        slip_p50_s=0.0012,
        slip_p99_s=0.0345,
    )
    rows = seen_table([level(2, 8, workload=view), level(4, 8)]).splitlines()
    assert len(rows) == 3  # header, rule, the one level with a workload
    cells = [c.strip() for c in rows[2].strip("|").split("|")]
    assert cells == ["2", "8", "16", "2.5", "1.23", "50.0 %", "—", "8", "1", "1.2", "34.5"]


def test_a_trace_states_what_its_levels_sent_not_the_unused_shape() -> None:
    """reuse and images_per_request shape only an images source: a trace's line gave
    'reuse 0' and '1 image per request' whatever the trace carried."""
    view = WorkloadView(fingerprint="wl-7", requests=4, images=6, expected_mm_hit_rate=0.5)
    lv = level(2, 4, workload=view)
    scenario = small_scenario(workload={"source": {"kind": "trace", "path": "t.jsonl"}})
    assert workload_line(run([lv], scenario=scenario, provenance={})) == (
        "Workload wl-7: a trace replayed from t.jsonl (time scale 1) at the sizes the source "
        "has; 1.5 images per request on average; 50.0 % of the images repeat an earlier one"
    )
