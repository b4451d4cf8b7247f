"""A level's precision from its request rows: the steady-state window's figures and the
confidence intervals of its figures (rules in bench/analyze/precision.py, formulas in
bench/schema/figures.py, the typed result in bench/schema/precision.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.analyze import precision as rules
from bench.load.result import RequestRow
from bench.schema.figures import mean, percentile, rate
from bench.schema.precision import PrecisionView, SteadyView
from bench.schema.results import LevelResult


def samples(rows: Sequence[RequestRow]) -> dict[str, list[float]]:
    """Per-request values of the successful rows: TTFT and TPOT of the streamed ones (all
    when none was streamed, as figures.level_figures), latency of all."""
    ok = [r for r in rows if r.success and r.latency_s is not None]
    streamed = [r for r in ok if r.stream] or ok
    return {
        "ttft": [r.ttft_s for r in streamed if r.ttft_s is not None],
        "tpot": [t for r in streamed if (t := r.tpot_s) is not None],
        "latency": [r.latency_s for r in ok if r.latency_s is not None],
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def steady_view(rows: Sequence[RequestRow], parallel: int) -> SteadyView:
    """The steady-state window's figures (SteadyView's docstring says which requests)."""
    window = rules.steady_window([(r.start_time, r.completed_time) for r in rows], parallel)
    if window is None:
        return SteadyView(note=f"in flight never reached 95 % of {parallel}")
    begin, end = window
    inside = [r for r in rows if r.start_time >= begin and r.completed_time <= end]
    got = samples(inside)
    view = SteadyView(window=[begin, end], requests=len(got["latency"]))
    if view.requests < rules.STEADY_MIN_REQUESTS:
        view.note = (
            f"{view.requests} requests wholly inside the steady window "
            f"(< {rules.STEADY_MIN_REQUESTS}): no steady-state figures"
        )
        return view
    done = [r for r in rows if r.success and begin < r.completed_time <= end]
    tokens = sum(r.completion_tokens or 0 for r in done)
    figures = {
        "rps": rate(len(done), end - begin),
        "output_tok_s": rate(tokens, end - begin),
        "ttft_avg_s": mean(got["ttft"]),
        "ttft_p99_s": percentile(got["ttft"], 99),
        "tpot_avg_s": mean(got["tpot"]),
        "tpot_p99_s": percentile([t for t in got["tpot"] if t > 0], 99),
        "latency_avg_s": mean(got["latency"]),
        "latency_p99_s": percentile(got["latency"], 99),
    }
    return view.model_copy(update={k: _finite(v) for k, v in figures.items()})


def precision_view(rows: Sequence[RequestRow]) -> PrecisionView:
    """Confidence intervals over the level's successful requests."""
    found = rules.intervals(samples(rows))
    return PrecisionView(
        confidence=rules.CONFIDENCE,
        intervals={k: [lo, hi] for k, (lo, hi) in found.items()},
    )


def attach(level: LevelResult, rows: Sequence[RequestRow]) -> None:
    """Give a measured level its steady-state view and intervals (kept from a round loop's
    stop record when it has one)."""
    if not level.measured or not rows:
        return
    level.steady = steady_view(rows, level.parallel)
    stop = level.precision
    level.precision = precision_view(rows)
    if stop is not None:
        level.precision.rounds, level.precision.requests = stop.rounds, stop.requests
        level.precision.stop_reason, level.precision.half_width = stop.stop_reason, stop.half_width
