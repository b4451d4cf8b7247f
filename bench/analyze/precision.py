"""How precise a level's figures are: its steady-state window, confidence intervals over
its requests and over repeats, and the stopping rule of `sweep.stop`. Numbers in, numbers
out; no I/O, no globals.

Methods (docs/metrics.md, "Precision"):
- the **steady-state window** (after vLLM's bench client): from the first moment the
  client's requests in flight reach ceil(0.95 × concurrency) to the last moment they are
  at or above it; a request belongs to it when its whole life lies inside;
- a **mean**: Student's t-interval (its coverage holds for skewed latencies from a few
  dozen requests on, by the central limit theorem; deterministic, so a re-judged run gives
  the same interval, which a bootstrap only does with a fixed seed);
- a **percentile** (nearest rank): the distribution-free order-statistic interval
  [x_(l), x_(u)], l and u from the Binomial(n, p) quantiles (Hahn & Meeker 1991, §5.2); it
  assumes nothing about the distribution, where a bootstrap of p99 degenerates to the
  sample maximum below ~100 requests. No upper bound exists when u > n (too few requests
  for the percentile): the interval is then undefined (None);
- **over repeats**: the t-interval of the repeat values (each repeat one independent
  measurement; requests within a repeat are correlated, which is why the gate never
  treats them as samples).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import special

CONFIDENCE = 0.95
STEADY_FRACTION = 0.95
STEADY_MIN_REQUESTS = 8  # fewer than this in the window: its figures are not given

Interval = tuple[float, float]


def _t_quantile(q: float, df: int) -> float:
    """Student's t quantile (scipy.stats.t.ppf), from scipy.special: scipy.stats takes
    0.5–1 s to import, scipy.special a quarter of that, and every run pays it."""
    return float(special.stdtrit(df, q))


def _binom_ppf(q: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= q (scipy.stats.binom.ppf, by the same
    route: the continuous inverse rounded up, then one step down where that still holds)."""
    k = math.ceil(float(special.bdtrik(q, n, p)))
    below = max(k - 1, 0)
    return below if float(special.bdtr(below, n, p)) >= q else k


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """Two-sided Student t-interval for the mean: mean ± t(1 − a/2, n − 1) · s / √n;
    None below 2 values. Exact for normal data, asymptotically right for any finite
    variance."""
    n = len(values)
    if n < 2:
        return None
    m = statistics.fmean(values)
    half = _t_quantile(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return (m - half, m + half)


def quantile_ranks(n: int, p: float, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks (l, u) with P(x_(l) <= Q_p <= x_(u)) >= confidence, symmetric in the
    tails (Binomial(n, p/100) quantiles); None when no such pair exists within n."""
    if n < 1:
        return None
    q = p / 100
    tail = (1 - confidence) / 2
    lo = _binom_ppf(tail, n, q)  # P(B < lo) <= tail: x_(lo) is below Q_p
    hi = _binom_ppf(1 - tail, n, q) + 1
    lo = max(lo, 1)
    if hi > n:
        return None
    return lo, hi


def percentile_interval(
    values: Sequence[float], p: float, confidence: float = CONFIDENCE
) -> Interval | None:
    """Distribution-free interval for the p-th percentile (see the module docstring)."""
    ranks = quantile_ranks(len(values), p, confidence)
    if ranks is None:
        return None
    ordered = sorted(values)
    return ordered[ranks[0] - 1], ordered[ranks[1] - 1]


def relative_half_width(interval: Interval | None, estimate: float) -> float:
    """(hi − lo) / 2 / |estimate|; infinite without an interval or for a zero estimate."""
    if interval is None or not estimate or not math.isfinite(estimate):
        return math.inf
    return (interval[1] - interval[0]) / 2 / abs(estimate)


# The request-level samples behind each figure an interval is given for: (key, sample, p)
# where p is None for a mean. Sample names index `request_samples`' dict.
INTERVAL_FIGURES: tuple[tuple[str, str, float | None], ...] = (
    ("ttft_avg_s", "ttft", None),
    ("ttft_p99_s", "ttft", 99),
    ("tpot_avg_s", "tpot", None),
    ("tpot_p99_s", "tpot", 99),
    ("latency_avg_s", "latency", None),
    ("latency_p99_s", "latency", 99),
)


def intervals(
    samples: Mapping[str, Sequence[float]], confidence: float = CONFIDENCE
) -> dict[str, Interval]:
    """Every INTERVAL_FIGURES interval that exists for these per-request samples."""
    out: dict[str, Interval] = {}
    for key, name, p in INTERVAL_FIGURES:
        values = samples.get(name, ())
        got = (
            mean_interval(values, confidence)
            if p is None
            else percentile_interval(values, p, confidence)
        )
        if got is not None:
            out[key] = got
    return out


def repeat_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """Over repeats: the t-interval of the repeat values (None below 2 repeats)."""
    finite = [v for v in values if math.isfinite(v)]
    return mean_interval(finite, confidence) if len(finite) == len(values) else None


def steady_window(
    spans: Sequence[tuple[float, float]], parallel: int, fraction: float = STEADY_FRACTION
) -> tuple[float, float] | None:
    """[first time in flight >= ceil(fraction × parallel), last time it is still so];
    None when it never gets there. Dips between a completion and the next start inside
    the window (a closed loop's slot hand-over) do not end it."""
    need = max(1, math.ceil(fraction * parallel - 1e-9))
    events = sorted([(s, 1) for s, c in spans if c >= s] + [(c, -1) for s, c in spans if c >= s])
    # At equal times completions go first: a hand-over is not an overlap.
    events.sort(key=lambda e: (e[0], e[1]))
    level, begin, end = 0, None, None
    for at, step in events:
        before = level
        level += step
        if level >= need and before < need and begin is None:
            begin = at
        if before >= need and level < need:
            end = at
    if begin is None or end is None or end <= begin:
        return None
    return begin, end


@dataclass(frozen=True)
class StopCheck:
    """The `sweep.stop` rule after a round: stop, and why (or why not)."""

    stop: bool
    reason: str
    half_width: dict[str, float]


def stop_check(
    estimates: dict[str, float],
    found: dict[str, Interval],
    metrics: Sequence[str],
    target: float,
    limits: tuple[int, int, int],
    elapsed: tuple[float, float | None],
) -> StopCheck:
    """Stop when every named metric's relative CI half-width is at most `target` (once
    `requests` >= min), or at max requests or max time. `limits`: (requests so far,
    min_requests, max_requests); `elapsed`: (seconds so far, max_time_s or None)."""
    requests, least, most = limits
    half = {k: relative_half_width(found.get(k), estimates.get(k, math.nan)) for k in metrics}
    if requests >= least and all(h <= target for h in half.values()):
        return StopCheck(True, f"precise: half-width <= {target:g} for every metric", half)
    if requests >= most:
        return StopCheck(True, f"max_requests {most} reached", half)
    if elapsed[1] is not None and elapsed[0] >= elapsed[1]:
        return StopCheck(True, f"max_time_s {elapsed[1]:g} reached", half)
    return StopCheck(False, "", half)


def change_interval(
    base: Sequence[float],
    cand: Sequence[float],
    higher_is_better: bool,
    confidence: float = CONFIDENCE,
) -> Interval | None:
    """The relative change in the bad direction (+0.10 = 10 % worse, as the gate's "worse"),
    candidate against baseline over repeats: Welch's t-interval of the difference of the
    mean log values (a ratio of geometric means; Welch–Satterthwaite df), mapped by
    `worse_bounds`. None
    below 2 positive values a side or with no spread at all."""
    lb = [math.log(v) for v in base if v > 0 and math.isfinite(v)]
    lc = [math.log(v) for v in cand if v > 0 and math.isfinite(v)]
    if len(lb) < 2 or len(lc) < 2 or len(lb) != len(base) or len(lc) != len(cand):
        return None
    vb, vc = statistics.variance(lb) / len(lb), statistics.variance(lc) / len(lc)
    if vb + vc == 0:
        return None
    df = (vb + vc) ** 2 / (vb**2 / (len(lb) - 1) + vc**2 / (len(lc) - 1))
    diff = statistics.fmean(lc) - statistics.fmean(lb)
    half = _t_quantile(0.5 + confidence / 2, max(1, round(df))) * math.sqrt(vb + vc)
    return worse_bounds(diff - half, diff + half, higher_is_better)


def worse_bounds(lo: float, hi: float, higher_is_better: bool) -> Interval:
    """Bounds on log(candidate / baseline) as the gate's relative change in the bad
    direction: (c − b) / b for lower-is-better, (b − c) / b for higher-is-better."""
    if higher_is_better:
        return -math.expm1(hi), -math.expm1(lo)
    return math.expm1(lo), math.expm1(hi)
