"""Change points (bench/analyze/changepoint.py): planted steps, flat noise, NaNs, short
series, the noise floor and determinism (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analyze.changepoint import PERMUTATIONS, Change, find_changes


def noisy(n: int, seed: int, cv: float = 0.02, level: float = 1.0) -> list[float]:
    return list(np.random.default_rng(seed).normal(level, cv * level, n))


def stepped(n: int, at: dict[int, float], seed: int) -> list[float]:
    """`n` noisy values around 1.0, multiplied by `at[i]` from index i on."""
    values = np.asarray(noisy(n, seed))
    for index, factor in at.items():
        values[index:] *= factor
    return list(values)


@pytest.mark.parametrize("seed", range(5))
def test_a_planted_step_is_found_at_its_index(seed: int) -> None:
    found = find_changes(stepped(30, {20: 1.08}, seed))
    assert len(found) == 1
    change = found[0]
    assert change.index == 20
    assert change.rel_change == pytest.approx(0.08, abs=0.02)
    assert change.after > change.before
    assert change.p_value < 0.01


def test_a_step_down_is_a_change_too() -> None:
    (change,) = find_changes(stepped(30, {10: 0.9}, 3))
    assert change.index == 10 and change.rel_change < 0


def test_flat_noisy_series_give_no_change() -> None:
    reported = sum(len(find_changes(noisy(30, seed))) for seed in range(20))
    assert reported <= 1  # α = 0.01 per series: 0.2 expected


def test_several_changes_are_found_in_order() -> None:
    found = find_changes(stepped(45, {15: 1.10, 30: 0.85}, 7))
    assert [c.index for c in found] == [15, 30]
    assert found[0].rel_change > 0 > found[1].rel_change
    # The medians either side are those of the neighbouring segments.
    assert found[0].after == pytest.approx(found[1].before)


def test_nan_values_are_dropped_and_indices_refer_to_the_series() -> None:
    values = stepped(30, {20: 1.08}, 1)
    values[5] = values[19] = values[21] = math.nan
    (change,) = find_changes(values)
    assert change.index == 20  # the first value after the change (index 20 is kept)
    values[20] = math.nan
    (change,) = find_changes(values)
    assert change.index == 22  # 20 and 21 are missing: 22 is the first value after


def test_all_nan_and_empty_series_give_nothing() -> None:
    assert find_changes([]) == []
    assert find_changes([math.nan] * 10) == []


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_series_shorter_than_two_segments_give_nothing(n: int) -> None:
    assert find_changes([1.0] * (n // 2) + [9.0] * (n - n // 2)) == []


def test_a_short_series_can_still_show_a_clean_step() -> None:
    # 6 vs 6, completely separated: 2 of C(12, 6) = 924 arrangements are as extreme.
    found = find_changes([1.0] * 6 + [2.0] * 6)
    assert [c.index for c in found] == [6]
    assert found[0].p_value < 0.01


def test_min_size_bounds_where_a_change_can_be() -> None:
    values = [1.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    assert all(c.index >= 4 for c in find_changes(values, min_size=4))
    with pytest.raises(ValueError, match="min_size"):
        find_changes(values, min_size=0)


def test_constant_series_give_nothing() -> None:
    assert find_changes([3.0] * 40) == []


def test_the_noise_floor_drops_small_changes() -> None:
    small = list(np.repeat([1.0, 1.03], 20) + np.random.default_rng(0).normal(0, 0.002, 40))
    assert [c.index for c in find_changes(small)] == [20]
    assert find_changes(small, min_rel=0.05) == []  # significant, but within the band
    assert find_changes(small, min_abs=0.05) == []  # within the absolute floor


def test_the_floor_keeps_a_large_change_beside_a_small_one() -> None:
    rng = np.random.default_rng(4)
    values = list(np.repeat([1.0, 1.03, 1.2], 15) + rng.normal(0, 0.002, 45))
    assert [c.index for c in find_changes(values)] == [15, 30]
    (change,) = find_changes(values, min_rel=0.05)
    assert change.index == 30
    # Re-measured over the merged segment before it (1.0 and 1.03 together).
    assert change.before == pytest.approx(float(np.median(values[:30])))


def test_results_are_deterministic_for_a_seed() -> None:
    values = stepped(30, {20: 1.03}, 11)
    runs = [find_changes(values, seed=5, alpha=0.05) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_p_values_come_from_the_permutations() -> None:
    (change,) = find_changes([1.0] * 15 + [2.0] * 15)
    assert change.p_value == pytest.approx(1 / (1 + PERMUTATIONS))
    assert isinstance(change, Change)


def test_zero_before_gives_an_infinite_relative_change() -> None:
    (change,) = find_changes([0.0] * 10 + [1.0] * 10)
    assert change.rel_change == math.inf


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)),
        max_size=40,
    ),
    st.integers(1, 5),
)
def test_changes_are_ordered_inside_the_series_and_on_kept_values(
    values: list[float], min_size: int
) -> None:
    found = find_changes(values, min_size=min_size, alpha=0.05)
    indices = [c.index for c in found]
    assert indices == sorted(set(indices))
    for c in found:
        assert 0 < c.index < len(values) and not math.isnan(values[c.index])
        assert 0 < c.p_value < 0.05
    kept = [i for i, v in enumerate(values) if not math.isnan(v)]
    positions = [kept.index(i) for i in indices]
    if found:
        gaps = np.diff([0, *positions, len(kept)])
        assert all(g >= min_size for g in gaps)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1.1, 3.0), st.integers(6, 24))
def test_a_clean_step_is_found_exactly(seed: int, factor: float, at: int) -> None:
    rng = np.random.default_rng(seed)
    values = list(np.where(np.arange(30) < at, 1.0, factor) * rng.normal(1, 0.005, 30))
    # The floor (the gate band of TPOT, 5 %) keeps chance splits inside a part out.
    assert [c.index for c in find_changes(values, seed=seed, min_rel=0.05)] == [at]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.5, 2.0), min_size=6, max_size=30), st.floats(1e-3, 1e3))
def test_changes_do_not_depend_on_the_unit(values: list[float], scale: float) -> None:
    """Scaling every value (seconds to ms) finds the same splits with the same p."""
    a = find_changes(values, alpha=0.05)
    b = find_changes([v * scale for v in values], alpha=0.05)
    assert [c.index for c in a] == [c.index for c in b]
    assert [c.p_value for c in a] == [c.p_value for c in b]


def test_infinite_values_are_dropped_like_nan() -> None:
    values = stepped(30, {20: 1.08}, 1)
    values[3], values[25] = math.inf, -math.inf
    assert [c.index for c in find_changes(values)] == [20]
