"""Line charts as inline SVG, drawn in Python so that a page shows them with no script at
all; static/dashboard.js adds hover tooltips, drag-to-zoom and the page's filter on top.

Every drawn element carries its data coordinates (`data-x`, `data-y`) beside its pixel
position, and the chart its plot box, domain and x-label room (`data-*` on the <svg>), so
the script can lay the same chart out again for a zoomed x range or a filtered set of
lines with the formulas used here: x linear over the domain; y from zero to the first
"nice" tick (1, 2, 2.5 or 5 times a power of ten) at or above 1.05 × the highest visible
value, 4 to 6 ticks; x labels thinned to the ones that fit side by side (`data-xroom` apart),
and turned 40° when they are long (a run's date and time). Both axes have a title with the
unit. A line, a marker or a legend entry may carry tags (`data-f-<key>`) that the page's
filter selects on. Text is escaped here (markupsafe), never trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, PLOT_HEIGHT = 580, 190
LEFT, RIGHT, TOP = 64, 16, 14
Y_TICKS = 5  # the aim: nice_ticks gives 4 to 6
CHAR_PX = 6.4  # width of one character of an 11 px label (system sans-serif)
ROTATE_AT = 9  # labels longer than this are turned 40° (dates and times)
ANGLE = 40
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


Tags = tuple[tuple[str, str], ...]  # (filter key, value): what the page's filter selects on


@dataclass(frozen=True)
class Line:
    name: str
    points: list[Point]
    tags: Tags = ()


@dataclass(frozen=True)
class Marker:
    """A vertical line between points: a change point (x = its index − 0.5)."""

    x: float
    label: str
    tip: str
    tags: Tags = ()


@dataclass
class Chart:
    title: str
    y_label: str
    lines: list[Line]
    x_ticks: list[tuple[float, str]]
    markers: list[Marker] = field(default_factory=list)
    chart_id: str = ""
    x_label: str = ""


def nice_ticks(top: float) -> list[float]:
    """Y ticks from 0 to the first multiple of a nice step (1, 2, 2.5 or 5 × 10^k) at or
    above 1.05 × `top`, the step chosen for about Y_TICKS ticks (4 to 6); 0 to 1 when
    there is nothing to show. The script's `niceTicks` is the same."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    want = 1.05 * top
    raw = want / (Y_TICKS - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    count = math.ceil(want / step - 1e-9)
    return [round(i * step, 12) for i in range(count + 1)]


def tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the step needs (0, 2.5, 5, 7.5 — not 2.50)."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = next(d for d in range(8) if abs(round(step, d) - step) < step * 1e-6)
    return f"{value:.{decimals}f}"


def rotated(ticks: Sequence[tuple[float, str]]) -> bool:
    """Whether the x labels are turned (long labels: a run's date and time)."""
    return max((len(label) for _, label in ticks), default=0) > ROTATE_AT


def x_room(ticks: Sequence[tuple[float, str]]) -> float:
    """Pixels from one shown x label to the next: a line height for turned labels, the
    longest label's width for level ones."""
    longest = max((len(label) for _, label in ticks), default=1)
    return 16.0 if rotated(ticks) else longest * CHAR_PX + 10


def thinned(
    ticks: Sequence[tuple[float, str]], px: Callable[[float], float]
) -> list[tuple[float, str]]:
    """The x labels shown, left to right: each at least `x_room` pixels (at `px`) from
    the one before, so that none touch, whether the axis is even (runs, log-2
    concurrency) or not (throughput)."""
    room, last, out = x_room(ticks), -math.inf, []
    for x, label in sorted(ticks):
        if px(x) - last >= room:
            out.append((x, label))
            last = px(x)
    return out


def bottom(chart: Chart) -> int:
    """Room under the plot for the x labels (more when they are turned) and the title."""
    if not rotated(chart.x_ticks):
        return 42
    longest = max(len(label) for _, label in chart.x_ticks)
    return int(longest * CHAR_PX * math.sin(math.radians(ANGLE)) + 38)


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
        self.ticks = nice_ticks(max(ys, default=0.0))
        self.y1 = self.ticks[-1]
        self.height = TOP + PLOT_HEIGHT + bottom(chart)

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return TOP + PLOT_HEIGHT - y / self.y1 * PLOT_HEIGHT


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tags(tags: Tags) -> str:
    return "".join(f' data-f-{escape(k)}="{escape(v)}"' for k, v in tags)


def _y_axis(frame: _Frame, chart: Chart) -> list[str]:
    out = ['<g class="yaxis"><g class="yticks">']
    for value in frame.ticks:
        y = _n(frame.py(value))
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="ylab" x="{LEFT - 6}" y="{y}">{tick_text(value, frame.ticks)}</text>'
        )
    out.append(
        f'</g><text class="axis-title" transform="translate(14 {TOP + PLOT_HEIGHT / 2}) '
        f'rotate(-90)">{escape(chart.y_label)}</text></g>'
    )
    return out


def _x_axis(frame: _Frame, chart: Chart) -> list[str]:
    turn = rotated(chart.x_ticks)
    out = ['<g class="xaxis">']
    shown = {x for x, _ in thinned(chart.x_ticks, frame.px)}
    y = TOP + PLOT_HEIGHT + (12 if turn else 16)
    for x, label in chart.x_ticks:
        hidden = "" if x in shown else ' style="display:none"'
        px = _n(frame.px(x))
        turned = f' transform="rotate(-{ANGLE} {px} {y})"' if turn else ""
        out.append(
            f'<text class="xlab{" rot" if turn else ""}" data-x="{x:g}" x="{px}" y="{y}"'
            f"{turned}{hidden}>{escape(label)}</text>"
        )
    if chart.x_label:
        mid = _n(LEFT + (WIDTH - LEFT - RIGHT) / 2)
        out.append(
            f'<text class="axis-title" x="{mid}" y="{frame.height - 6}">'
            f"{escape(chart.x_label)}</text>"
        )
    out.append("</g>")
    return out


def _markers(frame: _Frame, chart: Chart) -> list[str]:
    out = ['<g class="markers">']
    for m in chart.markers:
        x = _n(frame.px(m.x))
        out.append(
            f'<g class="cp" data-x="{m.x:g}" data-tip="{escape(m.tip)}"{_tags(m.tags)}>'
            f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{TOP + PLOT_HEIGHT}"/>'
            f'<text x="{_n(frame.px(m.x) + 3)}" y="{TOP + 10}">{escape(m.label)}</text></g>'
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
        out.append(f'<g class="series" data-name="{escape(line.name)}"{_tags(line.tags)}>')
        out.append(f'<path class="line" d="{d}" stroke="{colour}"/>')
        out += [_point(frame, p, colour) for p in drawn]
        out.append("</g>")
    return out


def _legend(chart: Chart) -> str:
    items = "".join(
        f'<span{_tags(line.tags)}><i style="background:{COLOURS[i % len(COLOURS)]}"></i>'
        f"{escape(line.name)}</span>"
        for i, line in enumerate(chart.lines)
    )
    return f'<div class="legend">{items}</div>'


def render(chart: Chart) -> Markup:
    """The chart as a <figure>: title, SVG, legend and the zoom reset button."""
    frame = _Frame(chart)
    box = f"{LEFT} {TOP} {WIDTH - RIGHT} {TOP + PLOT_HEIGHT}"
    parts = [
        f'<figure class="chart" id="{escape(chart.chart_id)}">'
        f"<figcaption>{escape(chart.title)}"
        '<button type="button" class="reset" hidden>reset zoom</button></figcaption>'
        f'<svg class="dash-chart" viewBox="0 0 {WIDTH} {frame.height}" width="{WIDTH}" '
        f'height="{frame.height}" role="img" aria-label="{escape(chart.title)}" '
        f'data-box="{box}" data-domain="{frame.x0!r} {frame.x1!r}" '
        f'data-xroom="{x_room(chart.x_ticks):g}">'
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{PLOT_HEIGHT}"/>',
        *_y_axis(frame, chart),
        *_x_axis(frame, chart),
        *_markers(frame, chart),
        *_series(frame, chart),
        '<rect class="sel" x="0" y="0" width="0" height="0"/></svg>',
    ]
    if len(chart.lines) > 1:
        parts.append(_legend(chart))
    parts.append("</figure>")
    return Markup("".join(parts))
