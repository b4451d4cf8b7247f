"""A sweep's progress in words: "level k of N" and an estimate of the time left.

The estimate is made from the levels done so far and the request counts of the levels
still to come. A level's work is counted in its own time unit: the waves of a closed loop
(requests / concurrency: a level of 64 requests at concurrency 16 takes about as long as
one of 4 at concurrency 1, when latency stays flat) or, at an arrival rate, the arrivals'
span (requests / rate). Each remaining level is priced at the seconds per unit of the done
level nearest to it in concurrency (log scale; the same load point when it was measured
before, as a repeat's), because latency grows with concurrency: the nearest level is the
best witness. Pure: numbers and results in, text out; the sweep prints it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from bench.schema.plan import SweepLevel
from bench.schema.results import LevelResult, point_label
from bench.schema.scenario import Scenario


@dataclass(frozen=True)
class Load:
    """A level's load: its concurrency (a rate level's cap), requests and arrival rate."""

    parallel: int
    number: int
    rate: float | None = None

    @property
    def units(self) -> float:
        """Its work in its own time unit: waves, or seconds of arrivals at its rate."""
        return self.number / self.rate if self.rate else self.number / max(self.parallel, 1)


@dataclass(frozen=True)
class Done:
    """A level measured: its load and the seconds it took, start to finish."""

    load: Load
    seconds: float

    @property
    def pace(self) -> float:
        """Seconds per unit of work."""
        return self.seconds / max(self.load.units, 1e-9)


def _distance(a: Load, b: Load) -> float:
    """How far apart two loads are: 0 for the same load point, else their concurrencies'
    log-2 distance (a rate level and a closed-loop level: never each other's witness)."""
    if (a.rate is None) != (b.rate is None):
        return math.inf
    if (a.parallel, a.number, a.rate) == (b.parallel, b.number, b.rate):
        return 0.0
    rate = abs(math.log2(a.rate / b.rate)) if a.rate and b.rate else 0.0
    return 0.01 + abs(math.log2(max(a.parallel, 1) / max(b.parallel, 1))) + rate


def level_estimate(done: list[Done], load: Load) -> float | None:
    """Seconds `load` should take: its units at the mean pace of the nearest done levels;
    None when no done level can witness it."""
    if not done:
        return None
    gaps = [_distance(d.load, load) for d in done]
    nearest = min(gaps)
    if math.isinf(nearest):
        return None
    paces = [d.pace for d, gap in zip(done, gaps, strict=True) if gap == nearest]
    return load.units * sum(paces) / len(paces)


def time_left(done: list[Done], remaining: list[Load]) -> float | None:
    """Seconds the `remaining` levels should take together; None when any cannot be
    estimated (nothing done yet, or no witness of its kind)."""
    parts = [level_estimate(done, load) for load in remaining]
    if not parts or any(p is None for p in parts):
        return None
    return sum(p for p in parts if p is not None)


def duration_text(seconds: float) -> str:
    """`about 40 s`, `about 6 min`, `about 1 h 20 min` (rounded: it is an estimate)."""
    if seconds < 60:
        return f"about {max(5, 5 * round(seconds / 5))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h" + (f" {minutes} min" if minutes else "")


def _seconds(level: LevelResult) -> float | None:
    """A level's wall time from its start and finish stamps; None without both."""
    try:
        start = datetime.fromisoformat(level.started_at)
        end = datetime.fromisoformat(level.finished_at)
    except (TypeError, ValueError):
        return None
    return max((end - start).total_seconds(), 0.0)


def done_levels(levels: list[LevelResult]) -> list[Done]:
    """The measured levels that carry their timing, as witnesses of the pace."""
    out = []
    for lv in levels:
        seconds = _seconds(lv)
        if seconds is not None and lv.number > 0:
            out.append(Done(Load(lv.parallel, lv.number, lv.rate), seconds))
    return out


def level_line(scenario: Scenario, at: SweepLevel, levels: list[LevelResult]) -> str:
    """The line the sweep prints as level `at` starts, `levels` being those done:
    `level 3 of 12: conc 4, 16 requests · about 6 min left`. A level outside the sweep's
    own list (a capacity search's probe) is counted, with no total and no estimate."""
    runs = scenario.sweep.runs()
    rate = scenario.rate_at(at.index)
    where = f"conc {point_label((at.parallel, rate))}, {at.number} requests"
    if scenario.sweep.repeats > 1:
        where += f", repeat {at.repeat} of {scenario.sweep.repeats}"
    if at not in runs:
        return f"level {len(levels) + 1}: {where}"
    seen = {(lv.index, lv.repeat) for lv in levels}
    remaining = [
        Load(r.parallel, r.number, scenario.rate_at(r.index))
        for r in runs
        if (r.index, r.repeat) not in seen
    ]
    left = time_left(done_levels(levels), remaining)
    estimate = (
        f"{duration_text(left)} left" if left is not None else "time left known after a level"
    )
    return f"level {runs.index(at) + 1} of {len(runs)}: {where} · {estimate}"
