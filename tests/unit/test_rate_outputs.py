"""A rate sweep's own outputs, from hand-made levels: its plots, its tables, the release CSV.

Regression: a rate sweep's levels commonly share one concurrency cap (sweep.parallel [64]
for every rate), and the run's outputs treated every level as a concurrency: the plots
drew every rate level at x = 64 (compare's overlays too), the reference, console and
release tables labelled every row `64`, and the release CSV had no rate column. Closed-loop
outputs are pinned unchanged by the golden tests (tests/unit/test_golden.py,
test_compare_release.py).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from matplotlib.figure import Figure

from bench.report import compare, console, plots, release, serverview, telemetry
from bench.report import precision as precision_report
from bench.report.dashboard.levelcharts import level_charts
from bench.report.markdown import reference_table, render_report
from bench.schema.precision import PrecisionView
from bench.schema.results import Check, CheckStatus, LevelResult, RunResult
from bench.schema.views import TelemetryView
from tests.support.factories import run, small_scenario, stored

CAP, RATES = 64, (1.0, 2.0, 4.0)


def _level(index: int, parallel: int, rate: float | None, slow: float = 1.0) -> LevelResult:
    """A measured level: throughput grows with the rate (or concurrency), `slow` scales times."""
    load = rate if rate is not None else parallel / 4
    return LevelResult(
        parallel=parallel,
        number=40,
        index=index,
        rate=rate,
        succeeded=40,
        rps=load * 0.95 / slow,
        output_tok_s=100.0 * load / slow,
        latency_avg_s=2.0 * slow + 0.1 * load,
        latency_p99_s=3.0 * slow + 0.1 * load,
        ttft_avg_s=0.2 * slow,
        ttft_p99_s=0.4 * slow,
        tpot_avg_s=0.02 * slow,
        tpot_p99_s=0.03 * slow,
    )


def _rate_run(run_id: str = "a", caps: tuple[int, ...] = (CAP,), slow: float = 1.0) -> RunResult:
    """A rate sweep over RATES, one cap for all of them or one per rate."""
    per_rate = caps if len(caps) == len(RATES) else caps * len(RATES)
    sweep: dict[str, Any] = {"parallel": list(caps), "rate": list(RATES), "number": [40] * 3}
    levels = [
        _level(i, cap, rate, slow)
        for i, (cap, rate) in enumerate(zip(per_rate, RATES, strict=True), 1)
    ]
    return run(levels, run_id=run_id, scenario=small_scenario(sweep=sweep))


def _closed_run(run_id: str = "c") -> RunResult:
    levels = [_level(i, conc, None) for i, conc in enumerate((1, 2, 4), 1)]
    return run(levels, run_id=run_id)


def _first_cells(table: str) -> list[str]:
    """The first column of a markdown table's body rows."""
    return [row.split("|")[1].strip() for row in table.splitlines()[2:]]


def _tick_labels(fig: Figure) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for t in fig.axes[0].get_xticklabels()]


# Plots


@pytest.mark.parametrize("build", [plots.throughput, plots.ttft, plots.tpot])
def test_a_rate_sweep_is_drawn_against_its_arrival_rate(build: Any) -> None:
    fig = build([("sweep", _rate_run().levels)], "caption")
    for ax in fig.axes:
        (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "sweep"]
        assert list(line.get_xdata()) == list(RATES)  # three distinct x, not 64 three times
        assert ax.get_xlabel() == "Arrival rate (req/s), cap 64"
        assert ax.get_title().endswith("vs arrival rate")
        assert list(ax.get_xticks()) == list(RATES)
    assert _tick_labels(fig) == ["1", "2", "4"]


def test_a_rate_sweep_with_a_cap_per_rate_names_the_cap_under_each_rate() -> None:
    fig = plots.throughput([("sweep", _rate_run(caps=(16, 32, 64)).levels)], "caption")
    assert fig.axes[0].get_xlabel() == "Arrival rate (req/s), concurrency cap under each rate"
    assert _tick_labels(fig) == ["1\ncap 16", "2\ncap 32", "4\ncap 64"]


def test_a_rate_sweeps_latency_points_are_named_by_rate() -> None:
    fig = plots.latency_vs_throughput([("sweep", _rate_run().levels)], "caption")
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["1 req/s", "2 req/s", "4 req/s"]
    fig = plots.latency_vs_throughput([("sweep", _rate_run(caps=(16, 32, 64)).levels)], "")
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["16 @ 1 req/s", "32 @ 2 req/s", "64 @ 4 req/s"]


def test_a_rate_sweeps_plot_data_has_distinct_x_and_its_load_points() -> None:
    data = plots.plot_data([("sweep", _rate_run().levels)])
    for figure in ("throughput", "ttft", "tpot"):
        points = data[figure]["sweep"]
        assert [p["x"] for p in points] == list(RATES)
        assert [(p["parallel"], p["rate"]) for p in points] == [(CAP, r) for r in RATES]
    closed = plots.plot_data([("closed", _closed_run().levels)])["throughput"]["closed"]
    assert [p["x"] for p in closed] == [1, 2, 4] and all("rate" not in p for p in closed)


def test_compare_overlays_rate_sweeps_against_the_arrival_rate() -> None:
    comparison = compare.compare([_rate_run("a"), _rate_run("b", slow=1.5)])
    fig = plots.throughput(compare.overlay_series(comparison), "caption")
    lines = [ln for ln in fig.axes[0].get_lines() if not str(ln.get_label()).startswith("_")]
    assert [str(ln.get_label()) for ln in lines] == ["s a", "s b"]
    assert all(list(ln.get_xdata()) == list(RATES) for ln in lines)
    assert fig.axes[0].get_xlabel() == "Arrival rate (req/s), cap 64"


def test_the_dashboard_charts_a_rate_sweep_against_its_rate() -> None:
    charts = dict(level_charts([("sweep", _rate_run().levels)]))["Throughput"]
    assert charts[0].title == "Gen. toks/s vs arrival rate"
    assert [label for _, label in charts[0].x_ticks] == ["1", "2", "4"]
    tips = [p.tip for p in charts[0].lines[0].points]
    assert all(f"conc 64 @ {r:g} req/s" in tip for tip, r in zip(tips, RATES, strict=True))


# Tables


def test_a_rate_sweeps_tables_label_each_level_by_its_load_point() -> None:
    sweep = _rate_run()
    labels = ["64 @ 1 req/s", "64 @ 2 req/s", "64 @ 4 req/s"]
    table, _ = reference_table(sweep.levels)
    assert table.startswith("| Conc. @ rate |")
    assert _first_cells(table) == labels
    # A full report needs a recorded provenance: a stored run's, with the sweep's levels.
    recorded = stored("sim-quickstart")
    recorded.levels = sweep.levels
    report = render_report(recorded)
    assert all(f"| {label} " in report for label in labels)
    text = console.run_tables(sweep)
    assert all(f"| {label} " in text for label in labels)
    body = release.rows([sweep], ["run"])[1]
    assert [row[1] for row in body] == labels
    assert "| Run | Conc. @ rate |" in release.render([sweep], ["run"])


def test_a_flagged_rate_levels_note_names_its_rate() -> None:
    sweep = _rate_run()
    sweep.levels[1].checks = [Check("concurrency", CheckStatus.FLAG, "3.00 of 64 in flight")]
    _, notes = reference_table(sweep.levels)
    assert notes == ["⚑ conc 64 @ 2 req/s flagged — concurrency: 3.00 of 64 in flight"]
    assert _first_cells(reference_table(sweep.levels)[0])[1] == "64 @ 2 req/s ⚑"


def _csv(runs: list[RunResult]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(release.csv_text(runs, ["run"]))))


def test_the_release_csv_has_a_rate_column_only_with_a_rate_sweep() -> None:
    rows = _csv([_rate_run()])
    assert list(rows[0])[:3] == ["run", "parallel", "rate"]
    assert [(r["parallel"], r["rate"]) for r in rows] == [
        ("64", "1.0"),
        ("64", "2.0"),
        ("64", "4.0"),
    ]
    closed = _csv([_closed_run()])
    assert "rate" not in closed[0] and list(closed[0])[:2] == ["run", "parallel"]
    mixed = _csv([_closed_run(), _rate_run()])
    assert [r["rate"] for r in mixed] == ["", "", "", "1.0", "2.0", "4.0"]


def test_the_checks_latency_precision_and_telemetry_tables_label_each_rate() -> None:
    levels = _rate_run().levels
    for lv in levels:
        lv.checks = [Check("success", CheckStatus.OK, "all")]
        lv.precision = PrecisionView(intervals={"ttft_avg_s": [0.19, 0.21]})
    levels[0].telemetry = TelemetryView(source="nvml", util_mean_pct=50.0)
    labels = [f"{CAP} @ {r:g} req/s" for r in RATES]
    for table in (serverview.checks_table(levels), serverview.latency_table(levels)):
        assert "Conc. @ rate" in table and all(f"| {label} |" in table for label in labels)
    assert f"| {labels[0]} |" in telemetry.table(levels)
    assert "Conc. @ rate" in telemetry.table(levels)
    text = precision_report.precision_table(levels)
    assert "Conc. @ rate" in text and all(f"| {label} |" in text for label in labels)
