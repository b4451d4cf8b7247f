"""Trend charts: one metric at one concurrency across a scenario's runs, in time order,
with change points (bench.analyze.changepoint) and gate verdicts marked.

The numbers come from the tidy frame of many runs, one row per (run, level, repeat,
metric) as the results store writes it (bench/store); a run's value at a concurrency is
the median over its measured repeats, and it is trusted when every repeat was. A change
must be significant and larger than the metric's gate band and floor, as the gate's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.analyze import history
from bench.report.dashboard.collect import Entry, GateMark
from bench.report.dashboard.svgchart import Chart, Line, Marker, Point
from bench.schema.metrics import BY_KEY
from bench.schema.results import RunResult
from bench.store.frame import runs_frame

TREND_METRICS = ("ttft_avg_s", "tpot_avg_s", "rps", "output_tok_s", "latency_p99_s")


def tidy(entries: list[Entry]) -> pd.DataFrame:
    """The store's tidy frame (bench.store.frame) of the runs the site shows."""
    return runs_frame((entry.run, entry.path) for entry in entries)


@dataclass(frozen=True)
class TrendChart:
    metric: str
    parallel: int
    chart: Chart
    changes: int


def _display(key: str, value: float) -> str:
    metric = BY_KEY[key]
    return f"{value * metric.display_scale:.4g} {metric.display_unit}"


def _gate_for(run: RunResult, gates: list[GateMark], key: str, conc: int) -> tuple[str | None, str]:
    """The gate verdict of this cell when a gate judged this run as its candidate."""
    label = f"{run.scenario_name} {run.run_id}"
    for mark in gates:
        if mark.candidate in (label, run.scenario_name):
            cell = mark.cells.get((conc, key))
            verdict = cell or ("OK" if mark.verdict == "REGRESSION" else mark.verdict)
            return verdict, f"gate vs {mark.baseline}: {verdict} — {mark.summary}"
    return None, ""


def _markers(key: str, rows: pd.DataFrame, xs: list[float]) -> list[Marker]:
    """A dashed line before each run where `history.series` found a change starting."""
    out = []
    for pos, row in zip(xs, rows.itertuples(), strict=True):
        if not row.change:
            continue
        rel = float(row.rel_change)
        shown = f"{100 * rel:+.1f} %" if math.isfinite(rel) else "new"
        tip = (
            f"change point: median {_display(key, float(row.before))} → "
            f"{_display(key, float(row.after))} ({shown}), p = {float(row.p_value):.4f}"
        )
        out.append(Marker(pos - 0.5, shown, tip))
    return out


def _point(entry: Entry, x: float, row: Any, key: str, gates: list[GateMark], conc: int) -> Point:
    """One run's value on a trend chart, with its tooltip, link and gate verdict."""
    value = float(row.value)
    tip = f"{entry.label} · {entry.started_at[:16] or 'no date'} · {_display(key, value)}"
    if int(row.repeats) > 1:
        tip += f" (median of {int(row.repeats)} repeats)"
    if not row.trusted:
        tip += " (not trusted: see the run's checks)"
    verdict, gate_tip = _gate_for(entry.run, gates, key, conc)
    return Point(
        x,
        value * BY_KEY[key].display_scale,
        tip,
        hollow=not bool(row.trusted),
        href=f"run-{entry.slug}.html",
        gate=verdict,
        gate_tip=gate_tip,
    )


def trend_chart(
    frame: pd.DataFrame, entries: list[Entry], gates: list[GateMark], key: str, conc: int
) -> TrendChart | None:
    """One metric at one concurrency over a scenario's runs (`entries`, in time order);
    None when no run measured it."""
    name = entries[0].run.scenario_name
    have = frame[
        (frame["scenario_name"] == name) & (frame["metric"] == key) & (frame["parallel"] == conc)
    ]
    if have.empty:
        return None
    rows = history.series(have, scenario=name, metric=key, parallel=conc)
    where = {e.run.run_id: (float(i), e) for i, e in reversed(list(enumerate(entries)))}
    xs = [where[str(row.run_id)][0] for row in rows.itertuples()]
    points = [
        _point(where[str(row.run_id)][1], x, row, key, gates, conc)
        for x, row in zip(xs, rows.itertuples(), strict=True)
        if math.isfinite(float(row.value))
    ]
    markers = _markers(key, rows, xs)
    metric = BY_KEY[key]
    ticks = [(float(i), e.started_at[:10] or e.run.run_id) for i, e in enumerate(entries)]
    chart = Chart(
        f"{metric.name} at concurrency {conc}",
        f"{metric.name} ({metric.display_unit})",
        [Line(metric.name, sorted(points, key=lambda p: p.x))],
        ticks,
        markers,
        chart_id=f"trend-{key}-{conc}",
    )
    return TrendChart(key, conc, chart, len(markers))


def concurrencies(entries: list[Entry]) -> list[int]:
    """Every concurrency measured by any of the runs, ascending."""
    return sorted({lv.parallel for e in entries for lv in e.run.levels})
