"""One unit for people: times in milliseconds in every table, plot, comparison and console
summary; the reference table keeps the guide's seconds; JSON keeps SI seconds."""

from __future__ import annotations

import json
import math
from typing import Any

from bench.report import eta
from bench.report.console import run_tables
from bench.report.markdown import reference_table
from bench.report.summary import level_summary
from bench.report.tables import PEOPLE, REFERENCE, format_cell, format_display
from bench.schema.metrics import BY_KEY, METRICS, REFERENCE_HEADER
from bench.schema.plan import SweepLevel
from bench.schema.results import LevelResult
from bench.schema.scenario import Scenario
from tests.support.factories import reference, small_scenario


def test_times_have_a_millisecond_label_and_scale() -> None:
    ttft = BY_KEY["ttft_avg_s"]
    assert (ttft.display_unit, ttft.display_scale, ttft.display_label) == (
        "ms",
        1000.0,
        "Avg TTFT (ms)",
    )
    assert BY_KEY["latency_p99_s"].display_label == "P99 Lat. (ms)"
    # Metrics that are not times keep their label and unit.
    for key in ("rps", "output_tok_s", "success_rate", "energy_per_token_j"):
        metric = BY_KEY[key]
        assert metric.display_label == metric.label and metric.display_scale == 1.0


def test_every_time_metric_is_shown_in_ms() -> None:
    for metric in METRICS:
        if metric.unit == "s":
            assert metric.display_label.endswith("(ms)"), metric.key
            assert "(s)" not in metric.display_label


def test_format_display_shows_a_tpot_that_seconds_round_away() -> None:
    """The bug: tables printed seconds to 3 decimals, so a TPOT of 2.6 ms read "0.003"."""
    assert format_cell("tpot_avg_s", 0.0026) == "0.003"
    assert format_display("tpot_avg_s", 0.0026) == "2.6"
    assert format_display("ttft_p99_s", 1.3334) == "1333.4"
    assert format_display("latency_avg_s", 28.5674) == "28567"
    assert format_display("rps", 0.7412) == format_cell("rps", 0.7412) == "0.74"
    assert format_display("success_rate", 100.0) == "100.0%"
    assert format_display("ttft_avg_s", math.nan) == "—"


def test_reference_table_keeps_the_guides_seconds() -> None:
    run = reference("vllm-ascend-800ta2")
    table = reference_table(run.levels)[0]
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert header == REFERENCE_HEADER
    assert "| 1.333 " in table and "(ms)" not in table
    assert reference_table(run.levels, REFERENCE)[0] == table


def test_console_summary_is_in_milliseconds() -> None:
    """The bug: the console printed seconds (TPOT 0.053) while the plots drew ms."""
    run = reference("vllm-ascend-800ta2")
    text = run_tables(run)
    assert "times in ms" in text and "Avg TPOT (ms)" in text and "(s)" not in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 "))
    assert "| 1333.0 " in row and "| 53.0 " in row and "| 28567 " in row
    assert reference_table(run.levels, PEOPLE)[0] in text


def test_json_keeps_si_seconds_with_the_unit_in_the_key() -> None:
    run = reference("vllm-ascend-800ta2")
    out = json.loads(json.dumps(level_summary(run.levels[0])))
    assert out["ttft_avg_s"] == run.levels[0].ttft_avg_s == 1.333


# --- progress: level k of N and the time left (bench/report/eta.py) -------------------


def _done(parallel: int, number: int, seconds: float, rate: float | None = None) -> eta.Done:
    return eta.Done(eta.Load(parallel, number, rate), seconds)


def test_time_left_counts_waves_not_requests() -> None:
    """The seed sweep doubles requests with concurrency: every level is 4 waves, so a
    per-request estimate (request counts alone) would be 60 times too long."""
    done = [_done(1, 4, 120.0)]
    remaining = [eta.Load(p, 4 * p) for p in (2, 4, 8, 16, 32)]
    assert eta.time_left(done, remaining) == 5 * 120.0


def test_time_left_prices_each_level_at_its_nearest_witness() -> None:
    done = [_done(1, 4, 100.0), _done(8, 32, 200.0)]
    # conc 16 is nearer 8 (log 2) than 1: 4 waves at 50 s; conc 1 again: its own pace.
    assert eta.level_estimate(done, eta.Load(16, 64)) == 200.0
    assert eta.level_estimate(done, eta.Load(1, 8)) == 200.0
    # A repeat of a measured point: the mean of its own repeats.
    assert eta.level_estimate([*done, _done(8, 32, 300.0)], eta.Load(8, 32)) == 250.0


def test_rate_levels_are_priced_by_their_arrivals_span() -> None:
    done = [_done(64, 60, 33.0, rate=2.0)]  # 30 s of arrivals took 33 s
    assert eta.level_estimate(done, eta.Load(64, 120, rate=4.0)) == 33.0
    assert eta.level_estimate(done, eta.Load(8, 32)) is None  # no closed-loop witness


def test_no_estimate_before_a_level_is_done() -> None:
    assert eta.time_left([], [eta.Load(1, 4)]) is None


def test_duration_text_rounds_as_an_estimate() -> None:
    assert eta.duration_text(3) == "about 5 s"
    assert eta.duration_text(42) == "about 40 s"
    assert eta.duration_text(6 * 60 + 10) == "about 6 min"
    assert eta.duration_text(80 * 60) == "about 1 h 20 min"
    assert eta.duration_text(2 * 3600 + 10) == "about 2 h"


def scenario_with(**sweep: Any) -> Scenario:
    return small_scenario(sweep=sweep)


def _timed(level: LevelResult, seconds: int) -> LevelResult:
    level.started_at = "2026-12-07T10:00:00+00:00"
    level.finished_at = f"2026-12-07T10:{seconds // 60:02d}:{seconds % 60:02d}+00:00"
    return level


def test_level_line_says_k_of_n_and_the_time_left() -> None:
    """The bug: a long sweep showed no "level k of N" and no estimate of the time left."""
    scenario = scenario_with(parallel=[1, 2, 4], number=[4, 8, 16])
    slots = scenario.sweep.runs()
    first = eta.level_line(scenario, slots[0], [])
    assert first == "level 1 of 3: conc 1, 4 requests · time left known after a level"
    done = [_timed(LevelResult(1, 4, index=1, repeat=1), 150)]
    assert eta.level_line(scenario, slots[1], done) == (
        "level 2 of 3: conc 2, 8 requests · about 5 min left"
    )
    # A probe outside the sweep's list (capacity search): counted, no total.
    assert (
        eta.level_line(scenario, SweepLevel(9, 1, 64, 64), done) == "level 2: conc 64, 64 requests"
    )


def test_level_line_names_repeats_and_skips_untimed_levels() -> None:
    scenario = scenario_with(parallel=[1], number=[4], repeats=2)
    untimed = LevelResult(1, 4, index=1, repeat=1)  # measured before levels had stamps
    line = eta.level_line(scenario, SweepLevel(1, 2, 1, 4), [untimed])
    assert line == "level 2 of 2: conc 1, 4 requests, repeat 2 of 2 · time left known after a level"
