"""A metric's history as text, JSON and a figure (`vlm-bench history`).

Takes the table of bench.analyze.history.series (one row per run, change points marked)
and returns text, a JSON-ready mapping or a matplotlib Figure; the caller writes files.
Values are shown in the metric's display unit (milliseconds for seconds).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bench.analyze.changepoint import Change
from bench.analyze.history import NO_WORKLOAD, Workloads, changes, noise_floor
from bench.report.plots import COLOURS, ONE_PANEL, _grid, _new_figure, _no_data
from bench.report.tables import FLAGGED, markdown_table
from bench.schema.metrics import BY_KEY

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

UP, DOWN = "▲", "▼"
UNTRUSTED_NOTE = (
    f"{FLAGGED}: a repeat was not trusted (flagged, or wrong output length); not searched"
)


def _unit(metric: str) -> tuple[str, float]:
    known = BY_KEY.get(metric)
    return (known.display_unit, known.display_scale) if known else ("", 1.0)


def format_value(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "—"
    unit, scale = _unit(metric)
    return f"{value * scale:.5g}" + (f" {unit}" if unit else "")


def change_line(table: pd.DataFrame, metric: str, change: Change) -> str:
    """`run R: tpot_avg_s +8.1 % (p = 0.002), 4.47 ms -> 4.83 ms`."""
    run_id = table["run_id"].iloc[change.index]
    return (
        f"run {run_id}: {metric} {100 * change.rel_change:+.1f} % (p = {change.p_value:.2g}), "
        f"{format_value(metric, change.before)} → {format_value(metric, change.after)}"
    )


def _mark(change: Change | None) -> str:
    if change is None:
        return ""
    arrow = UP if change.rel_change > 0 else DOWN
    return f"{arrow} {100 * change.rel_change:+.1f} % (p = {change.p_value:.2g})"


def _runs(n: int) -> str:
    return f"{n} run" + ("" if n == 1 else "s")


def workload_note(workloads: Workloads) -> str | None:
    """One line naming the runs of other workloads the series left out, or None."""
    if not workloads.left_out:
        return None
    parts = [
        f"{_runs(n)} of workload {fp}" if fp else f"{_runs(n)} without a workload"
        for fp, n in workloads.left_out
    ]
    return (
        f"left out: {', '.join(parts)} (a series holds one workload; pick another with "
        f"--workload FINGERPRINT or --workload {NO_WORKLOAD})"
    )


def text(
    table: pd.DataFrame,
    metric: str,
    parallel: int,
    title: str,
    workloads: Workloads | None = None,
) -> str:
    """The series as a table (one row per run) and its change points, one line each;
    with `workloads`, a line naming the runs of other workloads left out."""
    found = changes(table)
    at = {c.index: c for c in found}
    rows = [
        [
            str(i + 1),
            str(row.run_id),
            str(row.x),
            format_value(metric, float(row.value)) + ("" if row.trusted else f" {FLAGGED}"),
            _mark(at.get(i)),
        ]
        for i, row in enumerate(table.itertuples(index=False))
    ]
    header = ["#", "run", "x", f"{metric} @ {parallel}", "change"]
    band, floor = noise_floor(metric)
    floor_text = (
        f"noise floor {100 * band:g} % and {format_value(metric, floor)}"
        if band
        else "no noise floor"
    )
    lines = [title, "", markdown_table(header, rows), ""]
    if workloads is not None and (note := workload_note(workloads)):
        lines += [note, ""]
    if not table["trusted"].all():
        lines += [UNTRUSTED_NOTE, ""]
    if found:
        lines += [f"change points ({floor_text}):"] + [
            "  " + change_line(table, metric, c) for c in found
        ]
    else:
        lines.append(f"no change point ({len(table)} runs, {floor_text})")
    return "\n".join(lines)


def _number(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def to_dict(
    table: pd.DataFrame,
    metric: str,
    parallel: int,
    scenario: str | None,
    workloads: Workloads | None = None,
) -> dict[str, Any]:
    """The --json document: the runs, the change points (NaN as null), the workload the
    runs sent (null: no workload section) and the runs of other workloads left out."""
    shown = workloads or Workloads(None)
    runs = [
        {
            "run_id": str(r.run_id),
            "started_at": None if r.started_at is None else str(r.started_at),
            "x": str(r.x),
            "value": _number(r.value),
            "repeats": int(r.repeats),
            "trusted": bool(r.trusted),
            "change": bool(r.change),
        }
        for r in table.itertuples(index=False)
    ]
    found = [
        {
            "run_id": str(table["run_id"].iloc[c.index]),
            "index": c.index,
            "before": c.before,
            "after": c.after,
            "rel_change": _number(c.rel_change),
            "p_value": c.p_value,
        }
        for c in changes(table)
    ]
    return {
        "scenario": scenario,
        "metric": metric,
        "parallel": parallel,
        "workload_fingerprint": shown.shown,
        "left_out": [{"workload_fingerprint": fp, "runs": n} for fp, n in shown.left_out],
        "runs": runs,
        "changes": found,
    }


def figure(table: pd.DataFrame, metric: str, parallel: int, caption: str) -> Figure:
    """The values run by run (hollow: untrusted), each change a dashed line, and the
    median of each segment between changes as a grey step."""
    fig = _new_figure(ONE_PANEL, caption, hollow=False)
    if table.empty:
        return _no_data(fig)
    unit, scale = _unit(metric)
    ax = fig.add_subplot()
    xs = list(range(len(table)))
    ys = (table["value"].astype(float) * scale).tolist()
    ax.plot(xs, ys, color=COLOURS[0], marker="o", markersize=4, label=metric)
    untrusted = [(x, y) for x, y, t in zip(xs, ys, table["trusted"], strict=True) if not t]
    if untrusted:
        ux, uy = zip(*untrusted, strict=True)
        ax.plot(ux, uy, "o", markersize=7, markerfacecolor="white", markeredgecolor=COLOURS[0])
    found = changes(table)
    bounds = [0, *(c.index for c in found), len(table)]
    medians = [found[0].before] + [c.after for c in found] if found else []
    for lo, hi, level in zip(bounds[:-1], bounds[1:], medians, strict=False):
        ax.hlines(level * scale, lo - 0.4, hi - 0.6, colors="#888888", linewidth=2, zorder=1)
    for c in found:
        ax.axvline(c.index - 0.5, color=COLOURS[1], linestyle="--", linewidth=1)
    step = max(1, len(xs) // 12)
    ax.set_xticks(xs[::step], [str(x) for x in table["x"]][::step], rotation=30, ha="right")
    name = BY_KEY[metric].name if metric in BY_KEY else metric
    ax.set_ylabel(f"{name} at concurrency {parallel}" + (f" ({unit})" if unit else ""))
    _grid(ax)
    return fig
