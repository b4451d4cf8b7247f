"""Pure statistics for the gate: numbers in, numbers out. No I/O, no globals.

Libraries where they do the job: `statistics` for the median and the standard deviation,
`scipy.stats` for the Mann-Whitney U test. A level's own figures (means, evalscope's
nearest-rank percentiles, rates) are in bench/schema/figures.py.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# An exact permutation test enumerates every split of the pooled values: C(m + n, m) of
# them (252 for 5 vs 5, 184,756 for 10 vs 10). Beyond this many, the normal approximation.
EXACT_ARRANGEMENTS = 20_000


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values (where `statistics.median` raises)."""
    return statistics.median(values) if values else math.nan


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation: sample standard deviation / |mean| (NaN below 2 values or
    for a zero mean)."""
    if len(values) < 2:
        return math.nan
    m = statistics.fmean(values)
    return statistics.stdev(values) / abs(m) if m else math.nan


def mann_whitney_greater(xs: Sequence[float], ys: Sequence[float]) -> float:
    """One-sided p-value that `xs` tends to be larger than `ys` (Mann-Whitney U,
    `scipy.stats.mannwhitneyu`, alternative="greater"; Mann & Whitney 1947).

    Method: without ties, the exact distribution of U (method="exact"). With ties, an exact
    permutation test over every split of the pooled values (`PermutationMethod` with as
    many resamples as there are splits, so scipy enumerates them all) while there are at
    most EXACT_ARRANGEMENTS splits, else the normal approximation with tie and continuity
    correction (method="asymptotic"). Why not scipy's own choice: in scipy 1.17 "auto"
    takes the normal approximation as soon as there is a tie (0.00596 for [6, 6, 8, 9, 10]
    over [1, 2, 3, 4, 5], where the exact p is 1/252 = 0.00397), and "exact" ignores ties
    (0.65 for two samples of identical values, where nothing distinguishes them: p = 1).
    The smallest exact p for sizes m, n is 1 / C(m + n, m): 0.05 for 3 vs 3, so no such
    comparison can reach p < 0.05. Empty input gives NaN.
    """
    # scipy.stats takes over a second to import: only the gate's comparisons pay for it.
    from scipy.stats import PermutationMethod, mannwhitneyu

    m, n = len(xs), len(ys)
    if not m or not n:
        return math.nan
    pooled = [*xs, *ys]
    if len(set(pooled)) == 1:
        return 1.0  # all values equal: no evidence either way
    arrangements = math.comb(m + n, m)
    method: str | PermutationMethod
    if len(set(pooled)) == len(pooled):
        method = "exact"
    elif arrangements <= EXACT_ARRANGEMENTS:
        method = PermutationMethod(n_resamples=arrangements)
    else:
        method = "asymptotic"
    return float(mannwhitneyu(xs, ys, alternative="greater", method=method).pvalue)
