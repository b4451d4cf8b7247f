"""Figures of a sweep: throughput, TTFT, TPOT, and latency against throughput.

Each figure takes a list of series (legend label, the levels of one run) and a caption
naming the scenario and hardware, printed small under the plot so every image says what
it measured. Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never
pyplot, so nothing global is created or has to be closed. Levels without a measurement
(status "failed" or nothing succeeded) are skipped; levels whose output length was not
honoured or that a validity check flagged are drawn with a hollow marker. `write_all`
saves PNG and SVG; the SVGs are byte-for-byte reproducible (fixed hash salt, no date).
A rate sweep's figures are drawn against the arrival rate, not the concurrency (its
levels commonly share one cap): bench/report/plotaxes.py.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report.plotaxes import (
    caps,
    concurrency_axis,
    point_note,
    rate_axis,
    rated,
    x_order,
    x_value,
    x_word,
)
from bench.schema.metrics import BY_KEY
from bench.schema.results import LevelResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# matplotlib is imported inside the functions that draw: it is a heavy, report-only
# dependency, and the command line (which imports this module through the sweep) must
# also start where it is not installed (the tools under bench/tools run in `.venv-vllm`).

Series = tuple[str, list[LevelResult]]  # (legend label, levels of one run)

PNG_DPI = 110
TWO_PANEL = (9.0, 4.5)
ONE_PANEL = (7.0, 4.5)
CAPTION_SIZE = 7.5
HOLLOW_NOTE = "hollow marker: output length not honoured or level flagged (see report)"
COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
SVG_SALT = "vlm-bench"


def measured(levels: Sequence[LevelResult]) -> list[LevelResult]:
    """The levels that have a measurement, in concurrency order (a rate sweep's: in rate
    order)."""
    kept = [lv for lv in levels if lv.measured]
    return sorted(kept, key=x_order)


def _name(key: str) -> str:
    """A metric's display label without its unit suffix (the registry's `Metric.name`)."""
    return BY_KEY[key].name


def _style(i: int) -> tuple[str, str]:
    return COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]


def _plotted(series: Sequence[Series]) -> list[tuple[int, str, list[LevelResult]]]:
    """(style index, label, measured levels) of the series that have anything to draw: a
    rate sweep's levels when any series has one, else the closed-loop levels (compare
    refuses to mix the two)."""
    by_rate = rated([lv for _, levels in series for lv in measured(levels)])
    out = []
    for i, (label, levels) in enumerate(series):
        kept = [lv for lv in measured(levels) if (lv.rate is not None) == by_rate]
        if kept:
            out.append((i, label, kept))
    return out


def _any_hollow(series: Sequence[Series]) -> bool:
    return any(not lv.trusted for _, _, levels in _plotted(series) for lv in levels)


def _new_figure(size: tuple[float, float], caption: str, hollow: bool) -> Figure:
    """A figure with the caption (and the hollow-marker note) printed small at the bottom."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    # About 0.55 em per character; leave a margin so the wrapped lines never clip.
    width_chars = int(size[0] * 72 / (0.55 * CAPTION_SIZE) * 0.9)
    lines = textwrap.wrap(caption, width_chars, break_on_hyphens=False) if caption else []
    if hollow:
        lines.append(HOLLOW_NOTE)
    if lines:
        fig.text(
            0.5,
            0.012,
            "\n".join(lines),
            ha="center",
            va="bottom",
            fontsize=CAPTION_SIZE,
            color="#444444",
        )
    line_h = CAPTION_SIZE * 1.3 / 72 / size[1]  # one caption line, in figure fraction
    bottom = 0.02 + line_h * len(lines) + (0.01 if lines else 0.0)
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.set(rect=(0.0, bottom, 1.0, 1.0 - bottom))  # type: ignore[call-arg]
    return fig


def _no_data(fig: Figure) -> Figure:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=16, color="#888888")
    return fig


def _throughput_axis(ax: Axes, values: Sequence[float]) -> None:
    """Log scale (throughput roughly doubles with concurrency, so the levels spread evenly),
    ticks at 1-2-5 multiples printed as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    positive = [v for v in values if v > 0]
    if not positive:  # nothing a log axis could show: leave it linear
        return
    ax.set_xscale("log", base=10)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(min(positive) / 1.4, max(positive) * 1.4)


def _y_from_zero(ax: Axes, top: float) -> None:
    ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)


def _grid(ax: Axes) -> None:
    ax.grid(True, which="major", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def _draw(
    ax: Axes,
    levels: Sequence[LevelResult],
    xs: Sequence[float],
    ys: Sequence[float],
    style: int,
    label: str,
) -> None:
    """One run as a line with markers; levels that are not to be trusted (wrong output
    length, a validity check flagged) get hollow ones."""
    colour, marker = _style(style)
    ax.plot(xs, ys, color=colour, marker=marker, markersize=5, label=label)
    hollow = [(x, y) for lv, x, y in zip(levels, xs, ys, strict=True) if not lv.trusted]
    if hollow:
        hx, hy = zip(*hollow, strict=True)
        ax.plot(
            hx,
            hy,
            linestyle="none",
            marker=marker,
            markersize=7,
            markerfacecolor="white",
            markeredgecolor=colour,
            markeredgewidth=1.5,
            label="_hollow",
            zorder=3,
        )


def _legend(fig: Figure, ax: Axes) -> None:
    """One legend for the figure, above the panels, from the first panel's lines."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside upper center",
            ncols=min(len(handles), 4),
            fontsize=9,
            frameon=False,
        )


def _per_concurrency(
    series: list[Series],
    caption: str,
    panels: Sequence[tuple[str, str, float]],
    share_y: bool = False,
) -> Figure:
    """One panel per (metric key, y-axis label, scale) against concurrency (a rate sweep:
    against the arrival rate), runs as lines.

    With share_y the panels have one y scale (avg and P99 of the same quantity), and only
    the first is labelled.
    """
    size = TWO_PANEL if len(panels) > 1 else ONE_PANEL
    fig = _new_figure(size, caption, _any_hollow(series))
    runs = _plotted(series)
    if not runs:
        return _no_data(fig)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=share_y)[0]
    drawn = [lv for _, _, levels in runs for lv in levels]
    by_rate = rated(drawn)
    for n, (ax, (key, ylabel, scale)) in enumerate(zip(axes, panels, strict=True)):
        for i, label, levels in runs:
            xs = [float(x_value(lv)) for lv in levels]
            _draw(ax, levels, xs, [lv.value(key) * scale for lv in levels], i, label)
        if by_rate:
            rate_axis(ax, drawn)
        else:
            concurrency_axis(ax, [lv.parallel for lv in drawn])
        if n == 0 or not share_y:
            ax.set_ylabel(ylabel)
        ax.set_title(f"{_name(key)} vs {x_word(by_rate)}", fontsize=11)
        _grid(ax)
    # From zero, with headroom over the highest point (a margin of the data's range is
    # too little once the bottom moves to zero); shared panels take the highest of all.
    tops = [ax.dataLim.y1 for ax in axes]
    for ax, top in zip(axes, tops, strict=True):
        _y_from_zero(ax, max(tops) if share_y else top)
    _legend(fig, axes[0])
    return fig


def throughput(series: list[Series], caption: str) -> Figure:
    """Generated tokens per second and requests per second against concurrency."""
    return _per_concurrency(
        series,
        caption,
        [
            ("output_tok_s", f"Generation throughput ({BY_KEY['output_tok_s'].unit})", 1.0),
            ("rps", f"Request throughput ({BY_KEY['rps'].unit})", 1.0),
        ],
    )


def _ms_panel(key: str, quantity: str) -> tuple[str, str, float]:
    """(key, y label, scale) of a time metric drawn in the registry's display unit."""
    metric = BY_KEY[key]
    return key, f"{quantity} ({metric.display_unit})", metric.display_scale


def ttft(series: list[Series], caption: str) -> Figure:
    """Average and P99 time to first token (ms) against concurrency, one panel each."""
    panels = [_ms_panel("ttft_avg_s", "TTFT"), _ms_panel("ttft_p99_s", "TTFT")]
    return _per_concurrency(series, caption, panels, share_y=True)


def tpot(series: list[Series], caption: str) -> Figure:
    """Average and P99 time per output token (ms) against concurrency, one panel each."""
    panels = [_ms_panel("tpot_avg_s", "TPOT"), _ms_panel("tpot_p99_s", "TPOT")]
    return _per_concurrency(series, caption, panels, share_y=True)


def latency_vs_throughput(series: list[Series], caption: str) -> Figure:
    """Average latency against generated tokens per second, one point per level ("c=8"; a
    rate sweep's: "2 req/s")."""
    fig = _new_figure(ONE_PANEL, caption, _any_hollow(series))
    runs = _plotted(series)
    if not runs:
        return _no_data(fig)
    ax = fig.add_subplot()
    one_cap = len(caps([lv for _, _, levels in runs for lv in levels])) <= 1
    latency = BY_KEY["latency_avg_s"]  # drawn in its display unit (ms)
    for i, label, levels in runs:
        xs = [lv.output_tok_s for lv in levels]
        ys = [lv.latency_avg_s * latency.display_scale for lv in levels]
        _draw(ax, levels, xs, ys, i, label)
        colour, _ = _style(i)
        for lv, y in zip(levels, ys, strict=True):
            ax.annotate(
                point_note(lv, one_cap),
                (lv.output_tok_s, y),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
                color=colour,
            )
    _throughput_axis(ax, [lv.output_tok_s for _, _, levels in runs for lv in levels])
    # Headroom above the highest point for its "c=" (or rate) label.
    top = max(lv.latency_avg_s for _, _, levels in runs for lv in levels)
    _y_from_zero(ax, 1.05 * top * latency.display_scale)
    ax.set_xlabel(f"{BY_KEY['output_tok_s'].label} ({BY_KEY['output_tok_s'].unit}, log scale)")
    ax.set_ylabel(f"{_name('latency_avg_s')} ({latency.display_unit})")
    ax.set_title("Average latency vs generation throughput", fontsize=11)
    _grid(ax)
    _legend(fig, ax)
    return fig


def energy(series: list[Series], caption: str) -> Figure:
    """Accelerator energy per output token and tokens per joule against concurrency
    (drawn only for runs with telemetry: bench/report/telemetry.py)."""
    return _per_concurrency(
        series,
        caption,
        [
            (
                "energy_per_token_j",
                f"Energy per output token ({BY_KEY['energy_per_token_j'].unit})",
                1.0,
            ),
            (
                "output_tok_per_j",
                f"Output tokens per joule ({BY_KEY['output_tok_per_j'].unit})",
                1.0,
            ),
        ],
    )


FIGURES: dict[str, Callable[[list[Series], str], Figure]] = {
    "throughput": throughput,
    "ttft": ttft,
    "tpot": tpot,
    "latency-throughput": latency_vs_throughput,
}


# SVG ids a function of the content (the salt) instead of random; text kept as text, not
# glyph outlines (a third of the size, and searchable).
SVG_RC: Any = {"svg.hashsalt": SVG_SALT, "svg.fonttype": "none"}


def write_all(series: list[Series], caption: str, out_dir: Path) -> list[str]:
    """<name>.png and <name>.svg for every figure in out_dir; the PNG names, FIGURES order."""
    import matplotlib

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in FIGURES.items():
        fig = build(series, caption)
        fig.savefig(out_dir / f"{name}.png", dpi=PNG_DPI, format="png")
        # The layout the PNG's draw solved is kept for the SVG: solving it again costs a
        # quarter of the plots' time, for sub-pixel differences.
        fig.set_layout_engine("none")
        # The salt makes SVG element ids a function of the content instead of random.
        with matplotlib.rc_context(SVG_RC):
            fig.savefig(out_dir / f"{name}.svg", format="svg", metadata={"Date": None})
        written.append(f"{name}.png")
    return written


# The numbers each figure draws: (x key, y keys of its panels), in FIGURES' order. Kept
# beside the figure functions above; `plot_data` returns them so tests can golden the data
# without comparing pixels. "parallel" stands for the load point's x: the concurrency, or
# a rate sweep's arrival rate.
PLOTTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "throughput": ("parallel", ("output_tok_s", "rps")),
    "ttft": ("parallel", ("ttft_avg_s", "ttft_p99_s")),
    "tpot": ("parallel", ("tpot_avg_s", "tpot_p99_s")),
    "latency-throughput": ("output_tok_s", ("latency_avg_s",)),
}


def plot_data(series: list[Series]) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Per figure and legend label, one point per drawn level: x, each panel's y (in the
    metric's unit, before the ms display scale) and whether the marker is hollow; a rate
    sweep's point also its `parallel` (the cap) and `rate` (its x on a load axis)."""
    out: dict[str, dict[str, list[dict[str, object]]]] = {}
    for name, (x_key, y_keys) in PLOTTED.items():
        out[name] = {
            label: [
                {
                    "x": x_value(lv) if x_key == "parallel" else lv.value(x_key),
                    **({} if lv.rate is None else {"parallel": lv.parallel, "rate": lv.rate}),
                    **{key: lv.value(key) for key in y_keys},
                    "hollow": not lv.trusted,
                }
                for lv in levels
            ]
            for _, label, levels in _plotted(series)
        }
    return out
