"""The gate's repeats, one at a time: a group-sequential test that stops as soon as the
verdict is decided, with the false-alarm and miss rates held (docs/gate.md, "Sequential
repeats"). Numbers in, numbers out.

Design: up to K looks (one per candidate repeat) against a baseline of fixed repeats.
At look k each cell's effect is the difference of the mean log values, candidate minus
baseline (in the bad direction), with a pooled-variance t standard error (df =
n_base + n_cand − 2; the baseline's repeats give the variance from the first look on).
- stop for REGRESSION when the one-sided lower confidence bound of the effect is above 0
  at level a_k AND the point change is beyond the gate's band and floor (the fixed gate's
  rule), a_k being the increment of an alpha-spending function at information k/K
  (Lan & DeMets 1983), O'Brien-Fleming-type (almost nothing spent early, so an early
  REGRESSION needs overwhelming evidence and the last look keeps nearly all of α);
- stop for PASS when the one-sided upper bound of the effect is below what a REGRESSION
  needs (the band, or the floor relative to the baseline where that is larger) at level
  b_k, the increment of a Pocock-type spending function for β (spent evenly over the
  looks: the common case in CI, no change, can stop after one or two repeats; a futility
  bound: a change as large as the band is ruled out).
By the union bound over looks, P(false REGRESSION) <= Σ a_k = α and, for a true change at
least the band, P(PASS) <= Σ b_k = β, whatever the correlation between looks: conservative,
and exact boundaries (multivariate-normal integration) are not needed. α is divided over
the L load points (concurrency levels, or a rate sweep's (cap, rate) pairs) as in the
fixed gate (Bonferroni).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from scipy import special

from bench.analyze.compare import by_point
from bench.analyze.precision import worse_bounds
from bench.schema.metrics import BY_KEY, Better
from bench.schema.results import RunResult, point_order

Spending = Literal["obrien-fleming", "pocock"]
REGRESSION, PASS, CONTINUE, SUSPECT = "REGRESSION", "PASS", "CONTINUE", "SUSPECT"
# (α's spending, β's): false alarms spent late, a clear "no change" allowed to stop early.
DESIGN: tuple[Spending, Spending] = ("obrien-fleming", "pocock")


def spent(t: float, alpha: float, kind: Spending = "obrien-fleming") -> float:
    """Error spent by information fraction t in (0, 1]: O'Brien-Fleming-type
    2 − 2Φ(z_{1−α/2} / √t), or Pocock-type α·ln(1 + (e − 1)·t) (Lan & DeMets 1983)."""
    t = min(max(t, 0.0), 1.0)
    if t == 0:
        return 0.0
    if kind == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    return 2 - 2 * NormalDist().cdf(z / math.sqrt(t))


def increment(k: int, looks: int, alpha: float, kind: Spending = "obrien-fleming") -> float:
    """The error to spend at look k of `looks` (1-based)."""
    return spent(k / looks, alpha, kind) - spent((k - 1) / looks, alpha, kind)


def _t_upper(level: float, df: int) -> float:
    """Student's t upper quantile (scipy.stats.t.isf, by symmetry), from scipy.special."""
    return -float(special.stdtrit(df, level))


@dataclass(frozen=True)
class Look:
    decision: str  # REGRESSION | PASS | CONTINUE | SUSPECT (last look, beyond the band only)
    worse: float  # relative change in the bad direction (exp(effect) − 1)
    lower: float  # bounds of the relative change at this look's levels
    upper: float


def look(
    base: Sequence[float],
    cand: Sequence[float],
    higher_is_better: bool,
    band: float,
    floor: float,
    errors: tuple[float, float],
    at: tuple[int, int],
    kinds: tuple[Spending, Spending] = DESIGN,
) -> Look:
    """One cell at look `at` = (k, K): `errors` = (α for this cell, β)."""
    k, looks = at
    lb = [math.log(v) for v in base if v > 0]
    lc = [math.log(v) for v in cand if v > 0]
    if len(lb) < 2 or not lc or len(lb) != len(base) or len(lc) != len(cand):
        return Look(CONTINUE if k < looks else SUSPECT, math.nan, math.nan, math.nan)
    diff = statistics.fmean(lc) - statistics.fmean(lb)  # log(candidate / baseline)
    ss = sum((x - statistics.fmean(lb)) ** 2 for x in lb) + sum(
        (x - statistics.fmean(lc)) ** 2 for x in lc
    )
    df = len(lb) + len(lc) - 2
    se = math.sqrt(ss / df * (1 / len(lb) + 1 / len(lc)))
    ta = _t_upper(increment(k, looks, errors[0], kinds[0]), df) * se
    tb = _t_upper(increment(k, looks, errors[1], kinds[1]), df) * se
    # In the bad direction: the lower bound at level a_k, the upper at b_k.
    if higher_is_better:
        lower, upper = worse_bounds(diff - tb, diff + ta, True)
    else:
        lower, upper = worse_bounds(diff - ta, diff + tb, False)
    worse = worse_bounds(diff, diff, higher_is_better)[0]
    b_med, c_med = statistics.median(base), statistics.median(cand)
    beyond = worse > band and abs(c_med - b_med) > floor
    out = (lower, upper)
    if lower > 0 and beyond:
        return Look(REGRESSION, worse, *out)
    # What a REGRESSION needs: beyond the band and the floor (relative to the baseline).
    needed = max(band, floor / abs(b_med)) if b_med else band
    if upper < needed:
        return Look(PASS, worse, *out)
    if k >= looks:
        return Look(SUSPECT if beyond else PASS, worse, *out)
    return Look(CONTINUE, worse, *out)


def verdict(decisions: Sequence[str]) -> str:
    """The gate's state over its cells: REGRESSION as soon as one cell is; PASS when every
    cell passed; SUSPECT when the last look left some beyond the band; else CONTINUE."""
    if REGRESSION in decisions:
        return REGRESSION
    if all(d == PASS for d in decisions):
        return PASS
    if CONTINUE in decisions:
        return CONTINUE
    return SUSPECT


@dataclass(frozen=True)
class CellLook:
    parallel: int
    key: str
    look: Look
    rate: float | None = None  # a rate sweep's level: its arrival rate (req/s)


def gate_look(
    baseline: RunResult,
    candidate: RunResult,
    thresholds: dict[str, tuple[float, float]],
    errors: tuple[float, float],
    at: tuple[int, int],
    kinds: tuple[Spending, Spending] = DESIGN,
) -> tuple[str, list[CellLook]]:
    """Every (level, metric) cell of `candidate`'s repeats so far against `baseline`'s at
    look `at`: the gate's state (`verdict`) and each cell's look. `thresholds`: {metric:
    (band, floor)}; `errors`: (α over the whole gate, β); α is split over the levels."""
    base, cand = by_point(baseline), by_point(candidate)
    levels = sorted(set(base) & set(cand), key=point_order)
    alpha = errors[0] / max(1, len(levels))
    cells = []
    for point in levels:
        for key, (band, floor) in thresholds.items():
            metric = BY_KEY[key]
            b = [lv.value(key) for lv in base[point] if lv.measured]
            c = [lv.value(key) for lv in cand[point] if lv.measured]
            higher = metric.better is Better.HIGHER
            got = look(b, c, higher, band, floor, (alpha, errors[1]), at, kinds)
            cells.append(CellLook(point[0], key, got, point[1]))
    return verdict([c.look.decision for c in cells]), cells
