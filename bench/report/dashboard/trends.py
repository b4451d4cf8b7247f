"""Trend charts: one chart per metric across runs in time order, one line per
concurrency (and, on the overview, per scenario), with change points
(bench.analyze.changepoint) and gate verdicts marked. Each line carries tags (scenario,
model, hardware, backend, concurrency) for the page's filter, so a reader picks the lines
instead of scanning a wall of small charts. Runs are labelled by their start date and time
(several runs a day stay apart).

The numbers come from the tidy frame of many runs, one row per (run, level, repeat,
metric) as the results store writes it (bench/store); a run's value at a concurrency is
the median over its measured repeats, and it is trusted when every repeat was. A change
must be significant and larger than the metric's gate band and floor, as the gate's.

Runs of one scenario name that sent different workloads (the `workload:` section's
fingerprint) are different lines, each searched for changes on its own: a change of
workload is not a change of performance. Where a scenario has several, each line's name
shows its fingerprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.analyze import history
from bench.analyze.compare import workload_fingerprint
from bench.report.dashboard.collect import Entry, GateMark
from bench.report.dashboard.svgchart import Chart, Line, Marker, Point, Tags
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


def _markers(key: str, rows: pd.DataFrame, xs: list[float], tags: Tags) -> list[Marker]:
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
        out.append(Marker(pos - 0.5, shown, tip, tags))
    return out


def started(entry: Entry) -> str:
    """A run's x label: its start date and time (`2026-12-01 09:00`), else its id."""
    return entry.started_at[:16].replace("T", " ") or entry.run.run_id


def _point(entry: Entry, x: float, row: Any, key: str, gates: list[GateMark], conc: int) -> Point:
    """One run's value on a trend chart, with its tooltip, link and gate verdict."""
    value = float(row.value)
    tip = f"{entry.label} · {started(entry) if entry.started_at else 'no date'} · conc {conc}"
    tip += f" · {_display(key, value)}"
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


def tags(entry: Entry, conc: int) -> Tags:
    """What the page's filter selects a line on."""
    scenario = entry.run.scenario
    return (
        ("scenario", entry.run.scenario_name),
        ("model", scenario.model.served_name),
        ("hardware", scenario.hardware or "—"),
        ("backend", scenario.backend or "—"),
        ("conc", str(conc)),
    )


@dataclass(frozen=True)
class Series:
    """One scenario's runs of one workload at one concurrency: the points and the change
    points; `workload`: the fingerprint (None: runs without a workload section)."""

    workload: str | None
    points: list[Point]
    markers: list[Marker]


def workloads(entries: list[Entry]) -> list[str | None]:
    """The workloads a scenario's runs sent (fingerprints, None: no workload section), in
    the order of their first run."""
    return list(dict.fromkeys(workload_fingerprint(e.run) for e in entries))


def line_name(name: str, workload: str | None, several: bool) -> str:
    """A line's name: `name`, and its workload where the scenario has several."""
    return f"{name} · {workload or 'no workload'}" if several else name


def series(
    frame: pd.DataFrame,
    entries: list[Entry],
    gates: list[GateMark],
    key: str,
    conc: int,
    where: dict[str, float],
) -> list[Series]:
    """`key` at `conc` over a scenario's runs (`entries`, in time order), one series per
    workload they sent, each run at its x in `where` (by run id); [] when no run
    measured it."""
    name = entries[0].run.scenario_name
    have = frame[
        (frame["scenario_name"] == name) & (frame["metric"] == key) & (frame["parallel"] == conc)
    ]
    if have.empty:
        return []
    by_id = {e.run.run_id: e for e in reversed(entries)}
    sent = set(have["workload_fingerprint"].dropna()) | (
        {None} if have["workload_fingerprint"].isna().any() else set()
    )
    out = []
    for workload in (w for w in workloads(entries) if w in sent):
        rows = history.series(
            have,
            scenario=name,
            metric=key,
            parallel=conc,
            workload=workload or history.NO_WORKLOAD,
        )
        xs = [where[str(row.run_id)] for row in rows.itertuples()]
        points = [
            _point(by_id[str(row.run_id)], x, row, key, gates, conc)
            for x, row in zip(xs, rows.itertuples(), strict=True)
            if math.isfinite(float(row.value))
        ]
        markers = _markers(key, rows, xs, (("conc", str(conc)),))
        out.append(Series(workload, sorted(points, key=lambda p: p.x), markers))
    return out


def _chart(key: str, lines: list[Line], ticks: list[tuple[float, str]], chart_id: str) -> Chart:
    metric = BY_KEY[key]
    return Chart(
        metric.name,
        f"{metric.name} ({metric.display_unit})",
        lines,
        ticks,
        chart_id=chart_id,
        x_label="run (start date and time)",
    )


def trend_chart(
    frame: pd.DataFrame, entries: list[Entry], gates: list[GateMark], key: str
) -> TrendChart | None:
    """One metric over a scenario's runs (`entries`, in time order), a line per
    concurrency; None when no run measured it."""
    where = {e.run.run_id: float(i) for i, e in reversed(list(enumerate(entries)))}
    several = len(workloads(entries)) > 1
    lines, markers = [], []
    for conc in concurrencies(entries):
        for got in series(frame, entries, gates, key, conc, where):
            name = line_name(f"conc {conc}", got.workload, several)
            lines.append(Line(name, got.points, (("conc", str(conc)),)))
            markers += got.markers
    if not lines:
        return None
    ticks = [(float(i), started(e)) for i, e in enumerate(entries)]
    chart = _chart(key, lines, ticks, f"trend-{key}")
    chart.markers = markers
    return TrendChart(key, chart, len(markers))


def overview_chart(
    frame: pd.DataFrame, groups: list[list[Entry]], gates: list[GateMark], key: str
) -> Chart | None:
    """One metric over every scenario's runs on one time axis, a line per scenario and
    concurrency, tagged for the filter; None when no run measured it."""
    order = sorted(
        (e for entries in groups for e in entries),
        key=lambda e: (not e.started_at, e.started_at, e.run.scenario_name, e.run.run_id),
    )
    at = {id(e): float(i) for i, e in enumerate(order)}
    lines = []
    for entries in groups:
        where = {e.run.run_id: at[id(e)] for e in entries}
        several = len(workloads(entries)) > 1
        for conc in concurrencies(entries):
            for got in series(frame, entries, gates, key, conc, where):
                scenario = line_name(entries[0].run.scenario_name, got.workload, several)
                lines.append(Line(f"{scenario} · conc {conc}", got.points, tags(entries[0], conc)))
    if not lines:
        return None
    ticks = [(float(i), started(e)) for i, e in enumerate(order)]
    return _chart(key, lines, ticks, f"overview-{key}")


def concurrencies(entries: list[Entry]) -> list[int]:
    """Every concurrency measured by any of the runs, ascending."""
    return sorted({lv.parallel for e in entries for lv in e.run.levels})
