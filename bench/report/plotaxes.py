"""The x axis of a sweep's figures (bench/report/plots.py): the concurrency of a closed-loop
sweep, or the arrival rate of a rate sweep (`sweep.rate`).

A rate sweep's levels commonly share one concurrency cap (`sweep.parallel: [64]` for every
rate), so drawn against concurrency they would all sit at one x. They are drawn against
their rate instead, the cap named in the axis label, or under each rate when the caps
differ. Both axes are log base 2 with ticks exactly at the values measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bench.schema.results import LevelResult, load_point, point_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CONCURRENCY = "Concurrency (parallel requests)"
ARRIVAL_RATE = "Arrival rate (req/s)"


def rated(levels: Sequence[LevelResult]) -> bool:
    """Whether `levels` are a rate sweep's (drawn against their arrival rate)."""
    return any(lv.rate is not None for lv in levels)


def x_order(level: LevelResult) -> tuple[float, int, int]:
    """Sort key along the x axis: concurrency for a closed-loop level, rate (then cap) for a
    rate sweep's; closed-loop levels (no rate) first."""
    return (level.rate or 0.0, level.parallel, level.index)


def x_value(level: LevelResult) -> int | float:
    """Where a level is drawn: its arrival rate (a rate sweep's), else its concurrency."""
    return level.parallel if level.rate is None else level.rate


def x_word(by_rate: bool) -> str:
    """What a panel is drawn against, for its title ("TTFT vs concurrency")."""
    return "arrival rate" if by_rate else "concurrency"


def caps(levels: Sequence[LevelResult]) -> set[int]:
    """The concurrency caps of a rate sweep's levels."""
    return {lv.parallel for lv in levels if lv.rate is not None}


def point_note(level: LevelResult, one_cap: bool) -> str:
    """A point's annotation: `c=8`; a rate level's rate (`2 req/s`), with its cap
    (`64 @ 2 req/s`) when the sweep's caps differ."""
    if level.rate is None:
        return f"c={level.parallel}"
    return f"{level.rate:g} req/s" if one_cap else point_label(load_point(level))


def labelled_ticks(ticks: Sequence[float], max_labels: int = 10) -> set[float]:
    """The ticks to print: all of them unless they crowd (1 3 4 6 8 12 ... on one axis), then
    a subset at least 1/max_labels of the axis's span (in octaves) apart, the first kept."""
    if len(ticks) < 2:
        return set(ticks)
    gap = math.log2(ticks[-1] / ticks[0]) / (max_labels - 1)
    kept = [ticks[0]]
    for t in ticks[1:]:
        if math.log2(t / kept[-1]) >= gap:
            kept.append(t)
    return set(kept)


def _log2_axis(ax: Axes, ticks: list[float], text: Callable[[float], str]) -> None:
    """Log base 2, ticks exactly at `ticks`, printed by `text` (crowded ones left blank)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_xscale("log", base=2)
    shown = labelled_ticks(ticks)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: text(v) if v in shown else ""))
    ax.xaxis.set_minor_locator(NullLocator())
    if len(ticks) > 1:
        ax.set_xlim(ticks[0] / 2**0.3, ticks[-1] * 2**0.3)


def concurrency_axis(ax: Axes, values: Sequence[int]) -> None:
    """Log base 2, ticks exactly at the concurrencies measured, printed as integers."""
    _log2_axis(ax, sorted(set(values)), lambda v: f"{v:g}")
    ax.set_xlabel(CONCURRENCY)


def rate_axis(ax: Axes, levels: Sequence[LevelResult]) -> None:
    """Log base 2, ticks exactly at the arrival rates measured; the cap in the axis label
    when the levels share one, else under each rate (`2` over `cap 32/64`)."""
    rates = sorted({lv.rate for lv in levels if lv.rate is not None})
    under = {r: sorted({lv.parallel for lv in levels if lv.rate == r}) for r in rates}
    one = caps(levels)
    if len(one) == 1:
        _log2_axis(ax, rates, lambda v: f"{v:g}")
        ax.set_xlabel(f"{ARRIVAL_RATE}, cap {next(iter(one))}")
        return

    def text(v: float) -> str:
        return f"{v:g}\ncap " + "/".join(str(c) for c in under.get(v, []))

    _log2_axis(ax, rates, text)
    ax.set_xlabel(f"{ARRIVAL_RATE}, concurrency cap under each rate")
