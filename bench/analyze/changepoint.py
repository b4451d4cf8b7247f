"""Change points in a series of run results: where did a metric step up or down?

Method: e-divisive means (Matteson & James 2014, "A nonparametric approach for multiple
change point analysis", JASA 109; the algorithm of MongoDB's signal-processing-algorithms
and of Hunter, Fleming et al. 2023) by binary segmentation. For a segment of n values and
each split k (at least `min_size` values a side) the energy statistic of the two parts,
with exponent 1 (plain distances |a - b|):

    Q_k = k (n - k) / n * (2 mean|x - y| - mean|x - x'| - mean|y - y'|)

(x the first k values, y the rest; the means over cross pairs and over the pairs inside
each part). Q is zero in expectation when both parts come from one distribution, whatever
it is (no normality assumed), and grows with any difference between them. The split with
the largest Q is the candidate. Its significance is a permutation test of that maximum
(as Matteson & James): the segment's values are shuffled `PERMUTATIONS` times and p = (1 +
#{max Q* >= max Q}) / (1 + PERMUTATIONS). Testing the maximum, not the chosen split's own
two-sample p, accounts for having searched every split: the best of n splits of pure
noise has a small per-split p by construction, so the gate's Mann-Whitney p at the chosen
split would raise false changes. Two-sided: the direction is the reader's, from
`rel_change`. When p < alpha the segment is cut and both parts searched again; segments
shorter than 2 * min_size are not.

Why not a rank statistic (the gate's Mann-Whitney U at every split, Pettitt 1979): ranks
saturate once the step is larger than the noise, and the ranks' own spread inside the
longer part then moves the best split off the true one (a clean 6-vs-24 step was placed
at 7); distances keep the step's size and place it exactly.

The gate's noise model, reused: (1) the gate's minimal effect. A change smaller than the
metric's gate band (relative) or floor (absolute, bench/schema/metrics.py) is not a change
even when significant: over 30 quiet runs a 1 % drift can be "significant" and is still
noise for a benchmark. `find_changes` takes them as `min_rel` / `min_abs` (zero by
default: pure statistics); bench/analyze/history.py passes the metric's band and floor.
Changes within the floor are pruned after the segmentation, the smallest first, and the
medians either side of each remaining change re-measured over its neighbouring segments
(as Hunter merges weak change points after e-divisive). (2) Medians, as the gate compares
medians of repeats: `before` and `after` are segment medians, and history takes each run's
median over its repeats. (3) Distribution-free significance, as the gate's Mann-Whitney.

Deterministic: every segment's permutations come from `numpy.random.default_rng((seed,
start, end))`, so a result does not depend on the order segments are visited in. NaN
(and infinite) values are dropped first; indices refer to the original series. Pure: no
I/O, no globals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# 1999 shuffles: the smallest p is 1 / 2000 = 0.0005, well under the default α = 0.01,
# and the p-value's Monte Carlo standard error at p = 0.01 is about 0.002.
PERMUTATIONS = 1999
# Distance-matrix cells per batch of shuffles (8 bytes each, three arrays: ~100 MB at most).
BATCH_CELLS = 4_000_000
# The first batch is small, so a segment with no change stops after a few dozen shuffles.
FIRST_BATCH = 64


@dataclass(frozen=True)
class Change:
    index: int  # position in the series of the first value after the change
    before: float  # median of the segment before
    after: float  # median of the segment after
    rel_change: float  # (after - before) / before
    p_value: float  # significance of the split (permutation test of the max statistic)


def _energy(values: np.ndarray, min_size: int) -> np.ndarray:
    """Q_k for every admissible split k; rows of `values` are independent series."""
    n = values.shape[-1]
    dist = np.abs(values[..., :, None] - values[..., None, :])
    prefix = dist.cumsum(axis=-1).cumsum(axis=-2)  # prefix[i, j] = dist[:i+1, :j+1].sum()
    k = np.arange(min_size, n - min_size + 1)
    left = prefix[..., k - 1, k - 1]  # ordered pairs inside the first k values
    to_end = prefix[..., k - 1, n - 1]
    between = to_end - left
    right = prefix[..., n - 1, n - 1][..., None] - 2 * between - left
    m, r = k, n - k
    mean_left = left / np.maximum(m * (m - 1), 1)  # ordered pairs: 2 * C(m, 2)
    mean_right = right / np.maximum(r * (r - 1), 1)
    return (m * r / n) * (2 * between / (m * r) - mean_left - mean_right)


def best_split(
    values: np.ndarray, min_size: int, rng: np.random.Generator, alpha: float = 1.0
) -> tuple[int, float] | None:
    """(left size, permutation p) of a segment's best split; None when it is too short.

    The shuffles stop as soon as enough of them beat the observed maximum that p cannot
    fall below `alpha` whatever the rest give (the count only grows): the split is then
    not significant, and the p returned is a lower bound, at least `alpha`. A significant
    split never stops early, so its p is the full test's. A segment without a change (most
    of a long history) thus costs tens of shuffles instead of 1,999."""
    n = len(values)
    if n < 2 * min_size:
        return None
    q = _energy(values, min_size)
    observed = float(q.max())
    split = min_size + int(np.argmax(q))
    # Rounding: a shuffle that reproduces the observed split must count as "as extreme".
    bar = observed - 1e-9 * abs(observed)
    exceed = 0
    enough = alpha * (1 + PERMUTATIONS) - 1  # more exceedances than this: p >= alpha
    batch = max(1, min(BATCH_CELLS // (n * n), FIRST_BATCH))
    done = 0
    while done < PERMUTATIONS and exceed <= enough:
        count = min(batch, PERMUTATIONS - done)
        shuffled = rng.permuted(np.broadcast_to(values, (count, n)), axis=1)
        exceed += int(np.count_nonzero(_energy(shuffled, min_size).max(axis=1) >= bar))
        done += count
        batch = max(1, BATCH_CELLS // (n * n))
    return split, (1 + exceed) / (1 + PERMUTATIONS)


def _segment(values: np.ndarray, alpha: float, min_size: int, seed: int) -> dict[int, float]:
    """{split position in `values`: p} by binary segmentation (iterative, no recursion)."""
    found: dict[int, float] = {}
    pending = [(0, len(values))]
    while pending:
        start, end = pending.pop()
        rng = np.random.default_rng((seed, start, end))
        best = best_split(values[start:end], min_size, rng, alpha)
        if best is None or best[1] >= alpha:
            continue
        cut = start + best[0]
        found[cut] = best[1]
        pending += [(start, cut), (cut, end)]
    return found


def _relative(before: float, after: float) -> float:
    if before:
        return (after - before) / before
    return 0.0 if after == before else math.copysign(math.inf, after)


def _describe(values: np.ndarray, cuts: list[int]) -> list[tuple[int, float, float]]:
    """(cut, median before, median after) over the segments between neighbouring cuts."""
    bounds = [0, *cuts, len(values)]
    return [
        (cut, float(np.median(values[lo:cut])), float(np.median(values[cut:hi])))
        for lo, cut, hi in zip(bounds[:-2], bounds[1:-1], bounds[2:], strict=True)
    ]


def _prune(
    values: np.ndarray, cuts: list[int], min_rel: float, min_abs: float
) -> list[tuple[int, float, float]]:
    """Drop changes within the noise floor, the smallest first, re-measuring after each."""
    cuts = sorted(cuts)
    while True:
        described = _describe(values, cuts)
        small = [
            (abs(_relative(b, a)), cut)
            for cut, b, a in described
            if abs(_relative(b, a)) <= min_rel or abs(a - b) <= min_abs
        ]
        if not small:
            return described
        cuts.remove(min(small)[1])


def find_changes(
    values: Sequence[float],
    *,
    alpha: float = 0.01,
    min_size: int = 3,
    seed: int = 0,
    min_rel: float = 0.0,
    min_abs: float = 0.0,
) -> list[Change]:
    """The change points of a series, in order (see the module docstring for the method).

    `alpha`: significance level of each split's permutation test (two-sided). `min_size`:
    fewest values a side of a split (and so between two changes). `seed`: the permutations'
    seed. `min_rel` / `min_abs`: the noise floor; a change must move the median by more
    than both (the gate's band and floor; zero: any significant change of the median
    counts).
    """
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, not {min_size}")
    raw = np.asarray(values, dtype=float)
    kept = np.flatnonzero(np.isfinite(raw))  # NaN: missing; ±inf: no distance
    clean = raw[kept]
    found = _segment(clean, alpha, min_size, seed)
    if not found:
        return []
    return [
        Change(int(kept[cut]), before, after, _relative(before, after), found[cut])
        for cut, before, after in _prune(clean, list(found), min_rel, min_abs)
    ]
