"""The gate's statistics against hand-computed values (pure)."""

from __future__ import annotations

import math

import pytest

from bench.analyze import stats
from bench.analyze.gate import Threshold, judge
from bench.schema.metrics import BY_KEY


@pytest.mark.parametrize(
    ("xs", "ys", "p"),
    [
        # Complete separation: 1 arrangement of C(m+n, m).
        ([4, 5, 6], [1, 2, 3], 1 / 20),  # 3 vs 3: exactly 0.05, so p < 0.05 is unreachable
        ([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], 1 / 252),
        ([5, 6, 7, 8], [1, 2, 3, 4], 1 / 70),
        # One swap (U = mn - 1): the two most extreme arrangements.
        ([3, 5, 6], [1, 2, 4], 2 / 20),
        # U = 20 of 25 for 5 vs 5: arrangements with U >= 20 are those with U <= 5 by
        # symmetry: 1 + 1 + 2 + 3 + 5 + 7 = 19 (partitions into at most 5 parts <= 5).
        ([4, 5, 6, 7, 8], [0, 1, 2, 3, 9.5], 19 / 252),
        # Complete overlap is not evidence: the opposite direction gives p = 1.
        ([1, 2, 3], [4, 5, 6], 1.0),
    ],
)
def test_exact_one_sided_p_values(xs: list[float], ys: list[float], p: float) -> None:
    assert stats.mann_whitney_greater(xs, ys) == pytest.approx(p, abs=1e-12)


def test_ties_use_the_exact_permutation_distribution() -> None:
    """With ties the p-value was the normal approximation (0.00596 on this example); the
    exact permutation p is 1/252 (the xs are the top five values in one split of 252)."""
    p = stats.mann_whitney_greater([6, 6, 8, 9, 10], [1, 2, 3, 4, 5])
    assert p == pytest.approx(1 / 252, abs=1e-12)
    assert stats.mann_whitney_greater([1, 1, 1], [1, 1, 1]) == 1.0
    # A tie across the samples: U = 24.5 of 25; splits at least as extreme are the
    # observed one and the one swapping the two 5s: 2 of 252.
    assert stats.mann_whitney_greater([5, 6, 7, 8, 9], [1, 2, 3, 4, 5]) == pytest.approx(2 / 252)


def test_many_tied_values_use_the_normal_approximation() -> None:
    """Beyond EXACT_ARRANGEMENTS splits (12 vs 12 with ties) the tie-corrected normal
    approximation: a clear separation is still significant, an overlap is not."""
    low, high = [1.0, 2.0, 2.0, 3.0] * 3, [7.0, 8.0, 8.0, 9.0] * 3
    assert math.comb(24, 12) > stats.EXACT_ARRANGEMENTS
    assert stats.mann_whitney_greater(high, low) < 1e-4
    assert stats.mann_whitney_greater(low, high) > 0.99


def test_empty_samples_give_no_p_value() -> None:
    assert math.isnan(stats.mann_whitney_greater([], [1.0]))


def test_median_and_cv() -> None:
    assert stats.median([3, 1, 2]) == 2 and stats.median([4, 1, 2, 3]) == 2.5
    assert stats.cv([10, 10, 10]) == 0.0
    assert stats.cv([9, 11]) == pytest.approx(math.sqrt(2) / 10)
    assert math.isnan(stats.cv([5]))


TPOT = BY_KEY["tpot_avg_s"]
TOKS = BY_KEY["output_tok_s"]
BAND = Threshold(0.05, 0.0005)


def test_five_repeats_beyond_band_and_significant_is_a_regression() -> None:
    base = [0.0500, 0.0501, 0.0499, 0.0502, 0.0498]
    cand = [0.0551, 0.0549, 0.0552, 0.0550, 0.0548]  # +10 %
    cell = judge(8, TPOT, base, cand, BAND, alpha=0.05)
    assert cell.verdict == "REGRESSION" and cell.p == pytest.approx(1 / 252)
    assert cell.worse == pytest.approx(0.10, abs=0.002)


def test_significance_threshold_is_corrected() -> None:
    """p = 1/252 = 0.004 is significant at 0.05 / 6 levels but not at 0.05 / 36 cells."""
    base = [0.0500, 0.0501, 0.0499, 0.0502, 0.0498]
    cand = [0.0551, 0.0549, 0.0552, 0.0550, 0.0548]
    assert judge(8, TPOT, base, cand, BAND, alpha=0.05 / 6).verdict == "REGRESSION"
    assert judge(8, TPOT, base, cand, BAND, alpha=0.05 / 36).verdict == "SUSPECT"


def test_beyond_band_but_overlapping_is_suspect() -> None:
    base = [0.050, 0.060, 0.050, 0.061, 0.050]
    cand = [0.059, 0.061, 0.050, 0.062, 0.058]
    cell = judge(1, TPOT, base, cand, BAND, alpha=0.05)
    assert cell.verdict == "SUSPECT" and cell.p is not None and cell.p > 0.05


def test_floor_keeps_tiny_absolute_changes_out() -> None:
    base = [0.0040] * 5
    cand = [0.0044] * 5  # +10 % but only 0.4 ms: below the 0.5 ms floor
    assert judge(1, TPOT, base, cand, BAND, alpha=0.05).verdict == "OK"


def test_three_repeats_need_twice_the_band() -> None:
    base = [100.0, 101.0, 99.0]
    assert judge(4, TOKS, base, [93.0, 92.0, 94.0], Threshold(0.05, 0), 0.05).verdict == "SUSPECT"
    cell = judge(4, TOKS, base, [85.0, 86.0, 84.0], Threshold(0.05, 0), 0.05)
    assert cell.verdict == "REGRESSION" and cell.p is None  # 3 vs 3 could never reach p < 0.05


def test_improvement_is_not_flagged_and_spread_is_noisy() -> None:
    base = [100.0, 101.0, 99.0, 100.0, 100.0]
    better = [120.0, 121.0, 119.0, 120.0, 122.0]
    assert judge(1, TOKS, base, better, Threshold(0.05, 0), 0.05).verdict == "OK"
    noisy = [100.0, 130.0, 80.0, 100.0, 110.0]
    cell = judge(1, TOKS, base, noisy, Threshold(0.05, 0), 0.05)
    assert cell.verdict == "NOISY" and cell.cv > 0.10
