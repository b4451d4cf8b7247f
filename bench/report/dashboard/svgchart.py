"""Line charts as inline SVG, drawn in Python so that a page shows them with no script at
all; static/dashboard.js adds hover tooltips and drag-to-zoom on top.

Every drawn element carries its data coordinates (`data-x`, `data-y`) beside its pixel
position, and the chart its plot box and domain (`data-*` on the <svg>), so the script can
lay the same chart out again for a zoomed x range with the formulas used here: x linear
over the domain, y linear from zero to 1.1 × the highest visible value, five y ticks, at
most `MAX_X_LABELS` x labels. Text is escaped here (markupsafe), never trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 14, 12, 42
Y_TICKS = 5
MAX_X_LABELS = 8
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
VERDICT_COLOURS = {
    "PASS": "#2ca02c",
    "OK": "#2ca02c",
    "REGRESSION": "#d62728",
    "FAILED": "#d62728",
    "SUSPECT": "#ff7f0e",
    "NOISY": "#9467bd",
}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    tip: str  # the tooltip: what this point is and its value
    hollow: bool = False  # not trusted (flagged level, output length not honoured)
    href: str | None = None  # a page of the site this point opens
    gate: str | None = None  # a gate verdict found for this point, e.g. "REGRESSION"
    gate_tip: str = ""


@dataclass(frozen=True)
class Line:
    name: str
    points: list[Point]


@dataclass(frozen=True)
class Marker:
    """A vertical line between points: a change point (x = its index − 0.5)."""

    x: float
    label: str
    tip: str


@dataclass
class Chart:
    title: str
    y_label: str
    lines: list[Line]
    x_ticks: list[tuple[float, str]]
    markers: list[Marker] = field(default_factory=list)
    chart_id: str = ""


def fmt(value: float) -> str:
    """A tick label: about three significant digits (the script's `fmt` is the same)."""
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    if size >= 0.01:
        return f"{value:.3f}"
    return f"{value:.1e}"


def thinned(ticks: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    """At most MAX_X_LABELS ticks: every k-th, the first kept."""
    step = max(1, math.ceil(len(ticks) / MAX_X_LABELS))
    return list(ticks[::step])


class _Frame:
    """Data → pixels for one domain (the full one: the script redoes this when zoomed)."""

    def __init__(self, chart: Chart) -> None:
        xs = [p.x for line in chart.lines for p in line.points] + [x for x, _ in chart.x_ticks]
        ys = [p.y for line in chart.lines for p in line.points if math.isfinite(p.y)]
        self.x0, self.x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        if self.x1 - self.x0 < 1e-12:
            self.x0, self.x1 = self.x0 - 0.5, self.x1 + 0.5
        pad = (self.x1 - self.x0) * 0.04
        self.x0, self.x1 = self.x0 - pad, self.x1 + pad
        top = max(ys, default=0.0)
        self.y1 = top * 1.1 if top > 0 else 1.0

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return HEIGHT - BOTTOM - y / self.y1 * (HEIGHT - TOP - BOTTOM)


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _axes(frame: _Frame, chart: Chart) -> list[str]:
    out = [f'<g class="yaxis" data-label="{escape(chart.y_label)}">']
    for i in range(Y_TICKS):
        value = frame.y1 * i / (Y_TICKS - 1)
        y = _n(frame.py(value))
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="ylab" x="{LEFT - 6}" y="{y}" data-i="{i}">{fmt(value)}</text>'
        )
    out.append(
        f'<text class="axis-title" transform="translate(14 {(HEIGHT - BOTTOM + TOP) / 2}) '
        f'rotate(-90)">{escape(chart.y_label)}</text></g><g class="xaxis">'
    )
    shown = {x for x, _ in thinned(chart.x_ticks)}
    for x, label in chart.x_ticks:
        hidden = "" if x in shown else ' style="display:none"'
        out.append(
            f'<text class="xlab" data-x="{x:g}" x="{_n(frame.px(x))}" '
            f'y="{HEIGHT - BOTTOM + 16}"{hidden}>{escape(label)}</text>'
        )
    out.append("</g>")
    return out


def _markers(frame: _Frame, chart: Chart) -> list[str]:
    out = ['<g class="markers">']
    for m in chart.markers:
        x = _n(frame.px(m.x))
        out.append(
            f'<g class="cp" data-x="{m.x:g}" data-tip="{escape(m.tip)}">'
            f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text x="{x}" y="{TOP + 10}">{escape(m.label)}</text></g>'
        )
    out.append("</g>")
    return out


def _point(frame: _Frame, p: Point, colour: str) -> str:
    fill = "#ffffff" if p.hollow else colour
    cx, cy = _n(frame.px(p.x)), _n(frame.py(p.y))
    dot = (
        f'<circle class="pt" cx="{cx}" cy="{cy}" r="4" fill="{fill}" stroke="{colour}" '
        f'data-x="{p.x:g}" data-y="{p.y!r}" data-tip="{escape(p.tip)}"/>'
    )
    if p.gate:
        ring = VERDICT_COLOURS.get(p.gate, "#555555")
        dot = (
            f'<circle class="gm pt" cx="{cx}" cy="{cy}" r="8" fill="none" stroke="{ring}" '
            f'data-x="{p.x:g}" data-y="{p.y!r}" data-tip="{escape(p.gate_tip)}"/>' + dot
        )
    return f'<a href="{escape(p.href)}">{dot}</a>' if p.href else dot


def _series(frame: _Frame, chart: Chart) -> list[str]:
    out = []
    for i, line in enumerate(chart.lines):
        colour = COLOURS[i % len(COLOURS)]
        drawn = [p for p in line.points if math.isfinite(p.y)]
        d = " ".join(
            f"{'M' if k == 0 else 'L'}{_n(frame.px(p.x))} {_n(frame.py(p.y))}"
            for k, p in enumerate(drawn)
        )
        out.append(f'<g class="series" data-name="{escape(line.name)}">')
        out.append(f'<path class="line" d="{d}" stroke="{colour}"/>')
        out += [_point(frame, p, colour) for p in drawn]
        out.append("</g>")
    return out


def render(chart: Chart) -> Markup:
    """The chart as a <figure>: title, SVG, legend and the zoom reset button."""
    frame = _Frame(chart)
    box = f"{LEFT} {TOP} {WIDTH - RIGHT} {HEIGHT - BOTTOM}"
    parts = [
        f'<figure class="chart" id="{escape(chart.chart_id)}">'
        f"<figcaption>{escape(chart.title)}"
        '<button type="button" class="reset" hidden>reset zoom</button></figcaption>'
        f'<svg class="dash-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(chart.title)}" '
        f'data-box="{box}" data-domain="{frame.x0!r} {frame.x1!r}">'
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}"/>',
        *_axes(frame, chart),
        *_markers(frame, chart),
        *_series(frame, chart),
        '<rect class="sel" x="0" y="0" width="0" height="0"/></svg>',
    ]
    if len(chart.lines) > 1:
        items = "".join(
            f'<span><i style="background:{COLOURS[i % len(COLOURS)]}"></i>'
            f"{escape(line.name)}</span>"
            for i, line in enumerate(chart.lines)
        )
        parts.append(f'<div class="legend">{items}</div>')
    parts.append("</figure>")
    return Markup("".join(parts))
