"""A sweep's figures (bench/report/plots.py: the same figures, the same numbers through
`plots.plot_data`) as interactive SVG charts: one chart per panel, one line per run.

Concurrency (a rate sweep: the arrival rate) is drawn on a log-2 axis, as the PNG plots
do; times in their display unit (ms). A hollow point is a level that is not to be
trusted, as in the PNGs.
"""

from __future__ import annotations

import math

from bench.report import plots
from bench.report.dashboard.svgchart import Chart, Line, Point
from bench.schema.metrics import BY_KEY
from bench.schema.results import point_label

TITLES = {
    "throughput": "Throughput",
    "ttft": "Time to first token",
    "tpot": "Time per output token",
    "latency-throughput": "Latency vs throughput",
}


def _y_label(key: str) -> str:
    metric = BY_KEY[key]
    return f"{metric.name} ({metric.display_unit})"


def _x(figure: str, value: float) -> float:
    """Position on the x axis: log2 of the concurrency (or rate), or the throughput itself."""
    return math.log2(value) if figure != "latency-throughput" and value > 0 else value


def _where(figure: str, p: dict[str, object], x: float) -> str:
    """A point's place in its tooltip: `conc 8`, a rate sweep's `conc 64 @ 2 req/s`; on the
    throughput axis its tokens per second (then a rate sweep's load point)."""
    rated = "rate" in p
    load = f"conc {p['x']}"
    if rated:
        load = f"conc {point_label((p['parallel'], p['rate']))}"  # type: ignore[arg-type]
    if figure != "latency-throughput":
        return load
    return f"{x:.1f} tok/s" + (f" · {load}" if rated else "")


def _panel(figure: str, key: str, data: dict[str, list[dict[str, object]]], chart_id: str) -> Chart:
    metric = BY_KEY[key]
    lines, ticks = [], {}
    by_rate = any("rate" in p for points in data.values() for p in points)
    for label, points in data.items():
        drawn = []
        for p in points:
            x, y = float(p["x"]), float(p[key])  # type: ignore[arg-type]
            where = _where(figure, p, x)
            tip = f"{label} · {where} · {metric.name} {y * metric.display_scale:.4g}"
            tip += f" {metric.display_unit}" + (" (not trusted)" if p["hollow"] else "")
            drawn.append(Point(_x(figure, x), y * metric.display_scale, tip, bool(p["hollow"])))
            if figure != "latency-throughput":
                ticks[_x(figure, x)] = f"{x:g}"
        lines.append(Line(label, drawn))
    if figure == "latency-throughput":
        xs = sorted({p.x for line in lines for p in line.points})
        ticks = {x: f"{x:.0f}" for x in xs}
    axis = (
        "generation throughput"
        if figure == "latency-throughput"
        else "arrival rate"
        if by_rate
        else "concurrency"
    )
    x_label = {
        "generation throughput": f"{BY_KEY['output_tok_s'].label} ({BY_KEY['output_tok_s'].unit})",
        "arrival rate": "arrival rate (req/s, log scale)",
        "concurrency": "concurrency (log scale)",
    }[axis]
    chart = Chart(f"{metric.name} vs {axis}", _y_label(key), lines, sorted(ticks.items()))
    chart.chart_id, chart.x_label = chart_id, x_label
    return chart


def level_charts(
    series: list[plots.Series], prefix: str = "sweep"
) -> list[tuple[str, list[Chart]]]:
    """(figure title, its panels as charts) for every figure plots.py draws."""
    data = plots.plot_data(series)
    out = []
    for figure, (_x_key, keys) in plots.PLOTTED.items():
        charts = [_panel(figure, key, data[figure], f"{prefix}-{figure}-{key}") for key in keys]
        out.append((TITLES.get(figure, figure), charts))
    return out
