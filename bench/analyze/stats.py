"""Pure statistics: numbers in, numbers out. No I/O, no globals."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, as evalscope computes it (value at rank ceil(p/100 * n)).

    With fewer than 100 values p99 is therefore the maximum. `p` is in [0, 100];
    an empty input gives NaN.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    if p >= 100:
        return ordered[-1]
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation: sample standard deviation / mean (NaN below 2 values)."""
    n = len(values)
    if n < 2:
        return math.nan
    m = mean(values)
    if m == 0:
        return math.nan
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return math.sqrt(var) / abs(m)


def mann_whitney_u(xs: Sequence[float], ys: Sequence[float]) -> float:
    """U statistic of `xs` against `ys`: pairs (x, y) with x > y, ties counting one half."""
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in xs for y in ys)


def _u_distribution(m: int, n: int) -> list[int]:
    """Number of arrangements giving each U = 0..m*n for samples of sizes m and n without
    ties (the classic recursion on the largest value's sample)."""
    # counts[i][j][u] for i x-values and j y-values, built up one value at a time.
    table: dict[tuple[int, int], list[int]] = {}
    for i in range(m + 1):
        for j in range(n + 1):
            if i == 0 or j == 0:
                table[i, j] = [1]
                continue
            # The largest value is an x (beats all j y's) or a y (beats nothing).
            with_x = [0] * j + table[i - 1, j]
            with_y = table[i, j - 1]
            size = i * j + 1
            table[i, j] = [
                (with_x[u] if u < len(with_x) else 0) + (with_y[u] if u < len(with_y) else 0)
                for u in range(size)
            ]
    return table[m, n]


def mann_whitney_greater(xs: Sequence[float], ys: Sequence[float]) -> float:
    """One-sided p-value that `xs` tends to be larger than `ys` (Mann-Whitney U).

    Exact (the permutation distribution of U) when there are no ties and both samples
    have at most 20 values; otherwise the normal approximation with tie correction and
    continuity correction. Mann & Whitney (1947); the exact smallest p for sizes m, n is
    1 / C(m + n, m): 0.05 for 3 vs 3, so no such comparison can reach p < 0.05.
    """
    m, n = len(xs), len(ys)
    if not m or not n:
        return math.nan
    u = mann_whitney_u(xs, ys)
    pooled = [*xs, *ys]
    tied = len(set(pooled)) < len(pooled)
    if not tied and m <= 20 and n <= 20:
        counts = _u_distribution(m, n)
        at_least = sum(counts[math.ceil(u) :])
        return at_least / math.comb(m + n, m)
    # Normal approximation, ties corrected.
    total = m + n
    ties = {v: pooled.count(v) for v in set(pooled)}
    tie_term = sum(t**3 - t for t in ties.values()) / (total * (total - 1))
    sigma = math.sqrt(m * n / 12 * ((total + 1) - tie_term))
    if sigma == 0:
        return 1.0
    z = (u - m * n / 2 - 0.5) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2))
