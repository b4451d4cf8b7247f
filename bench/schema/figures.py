"""Every figure's formula, once: numbers in, numbers out, standard library only.

The evalscope parser (bench/measure/parse.py), the simulator's virtual client
(bench/sim/virtual.py) and the offline path (bench/measure/offline.py) all compute their
figures here, so they cannot disagree. Definitions follow evalscope 1.14.1
(evalscope/perf/utils/benchmark_util.py, `MetricsAccumulator`; utils/db_util.py,
`get_percentile_results`), in SI units (seconds, per second); docs/metrics.md explains them.

A request with at most one output token has no TPOT: it has no decode phase, so
(latency - TTFT) / (tokens - 1) is undefined (one token) or meaningless (none). `tpot`
returns None for it, and it is left out of the TPOT average and percentiles alike.

A figure that is undefined (no values, no duration) is NaN here; the caller decides how
to store it (run.json keeps strict JSON).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile as evalscope computes it: the value at rank ceil(p/100 * n).

    Hand-written because no library default matches: numpy's and `statistics.quantiles`'
    default methods interpolate between ranks, and the reference tables the runs are
    compared with were computed by evalscope's nearest rank. evalscope then rounds to 4
    decimals (in ms for TTFT/TPOT); we keep the full value. With fewer than 100 values p99
    is therefore the maximum. `p` is in [0, 100]; an empty input gives NaN.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    if p >= 100:
        return ordered[-1]
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no values (where `statistics.fmean` raises)."""
    return statistics.fmean(values) if values else math.nan


def tpot(latency_s: float, ttft_s: float, output_tokens: int) -> float | None:
    """Time per output token after the first: (latency - TTFT) / (tokens - 1); None for a
    request with at most one output token (no decode phase, see the module docstring)."""
    if output_tokens < 2:
        return None
    return (latency_s - ttft_s) / (output_tokens - 1)


def rate(total: float, seconds: float | None) -> float:
    """`total` per second of `seconds`; NaN without a duration (None or 0)."""
    return total / seconds if seconds else math.nan


def goodput(
    requests: Iterable[tuple[float, float | None]],
    seconds: float | None,
    ttft_max_s: float | None,
    tpot_max_s: float | None,
) -> float | None:
    """Requests per second of `seconds` that met the SLO: over (TTFT, TPOT) of each
    successful request, those with TTFT <= `ttft_max_s` and TPOT <= `tpot_max_s` (a bound
    that is None is not checked; a request without a TPOT, one token, meets it). None
    when the scenario sets no SLO; NaN without a duration. The per-request reading of the
    SLO (DistServe's goodput), not the level's P99 against it."""
    if ttft_max_s is None and tpot_max_s is None:
        return None
    met = sum(
        1
        for ttft, tpot_s in requests
        if (ttft_max_s is None or ttft <= ttft_max_s)
        and (tpot_max_s is None or tpot_s is None or tpot_s <= tpot_max_s)
    )
    return rate(met, seconds)


def success_rate(succeeded: int, sent: int) -> float:
    """Percentage of sent requests that succeeded; 0.0 when none was sent."""
    return 100.0 * succeeded / sent if sent else 0.0


def wall_time(spans: Iterable[tuple[float, float]]) -> float | None:
    """Earliest start to latest completion over (start, completed) spans, failed requests
    included; None when no span is valid.

    evalscope `MetricsAccumulator._update_wall_time` skips spans that start at or before 0
    or end before they start; with none left it divides by 1.0, which we report as no
    duration at all.
    """
    valid = [(s, c) for s, c in spans if s > 0 and c >= s]
    if not valid:
        return None
    return max(0.0, max(c for _, c in valid) - min(s for s, _ in valid))


@dataclass(frozen=True)
class Timed:
    """One successful request, as the level figures need it (seconds, tokens).

    `stream`: whether the reply was streamed (TTFT and TPOT only mean something then);
    `itl_s`: the gaps between successive non-empty content chunks.
    """

    latency_s: float
    ttft_s: float
    prompt_tokens: int
    output_tokens: int
    stream: bool = True
    itl_s: tuple[float, ...] = ()

    @property
    def tpot_s(self) -> float | None:
        return tpot(self.latency_s, self.ttft_s, self.output_tokens)


def level_figures(ok: Sequence[Timed], wall_s: float | None) -> dict[str, float]:
    """A level's figures by metric key (bench/schema/metrics.py) from its successful
    requests and its wall time; NaN where a figure is undefined.

    As evalscope: TTFT and TPOT come from the streamed requests, or from all of them when
    none was streamed; TPOT percentiles also skip TPOT <= 0; ITL is pooled (the mean of
    every gap of every request, not a mean of per-request means).
    """
    prompt = [float(r.prompt_tokens) for r in ok]
    output = [float(r.output_tokens) for r in ok]
    latency = [r.latency_s for r in ok]
    streamed = [r for r in ok if r.stream] or list(ok)
    ttft = [r.ttft_s for r in streamed]
    tpot_all = [t for r in streamed if (t := r.tpot_s) is not None]
    tpot_pct = [t for t in tpot_all if t > 0] if any(r.stream for r in ok) else tpot_all
    gaps = [g for r in ok for g in r.itl_s]
    return {
        "duration_s": wall_s if wall_s is not None else math.nan,
        "rps": rate(len(ok), wall_s),
        "output_tok_s": rate(sum(output), wall_s),
        "total_tok_s": rate(sum(prompt) + sum(output), wall_s),
        "latency_avg_s": mean(latency),
        "latency_p50_s": percentile(latency, 50),
        "latency_p90_s": percentile(latency, 90),
        "latency_p99_s": percentile(latency, 99),
        "ttft_avg_s": mean(ttft),
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p99_s": percentile(ttft, 99),
        "tpot_avg_s": mean(tpot_all),
        "tpot_p50_s": percentile(tpot_pct, 50),
        "tpot_p99_s": percentile(tpot_pct, 99),
        "itl_avg_s": mean(gaps),
        "input_tokens_avg": mean(prompt),
        "output_tokens_avg": mean(output),
    }
