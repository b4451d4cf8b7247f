"""The sequential gate's spending and decisions (bench/analyze/sequential.py)."""

from __future__ import annotations

import random

import pytest

from bench.analyze import sequential as seq


@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
def test_spending_sums_to_alpha_and_grows(kind: seq.Spending) -> None:
    parts = [seq.increment(k, 5, 0.05, kind) for k in range(1, 6)]
    assert sum(parts) == pytest.approx(0.05)
    assert all(p > 0 for p in parts)


def test_obrien_fleming_spends_little_early() -> None:
    assert seq.increment(1, 5, 0.05) < 1e-4 < seq.increment(5, 5, 0.05)


def _look(base: list[float], cand: list[float], k: int) -> seq.Look:
    return seq.look(base, cand, False, 0.05, 0.0, (0.025, 0.05), (k, 5))


BASE = [1.0, 1.004, 0.997, 1.002, 0.999]


def test_clear_slowdown_stops_early_as_regression() -> None:
    got = _look(BASE, [1.10, 1.101], 2)
    assert got.decision == seq.REGRESSION and got.worse == pytest.approx(0.1, abs=0.01)


def test_no_change_stops_early_as_pass() -> None:
    assert _look(BASE, [1.001, 0.999], 2).decision == seq.PASS


def test_first_look_cannot_confirm_a_regression() -> None:
    # O'Brien-Fleming spends ~1e-5 at look 1: a single repeat is never enough.
    assert _look(BASE, [1.10], 1).decision != seq.REGRESSION


def test_change_inside_the_band_is_never_a_regression() -> None:
    # Significant but only 3 % worse: the band (5 %) decides, as in the fixed gate.
    got = _look(BASE, [1.03, 1.03, 1.031], 3)
    assert got.decision != seq.REGRESSION


def test_last_look_decides() -> None:
    noisy = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert _look(noisy, [1.07, 0.99, 1.12, 1.0, 1.09], 5).decision in (seq.PASS, seq.SUSPECT)


def test_higher_is_better_direction() -> None:
    got = seq.look(BASE, [0.9, 0.901], True, 0.05, 0.0, (0.025, 0.05), (2, 5))
    assert got.decision == seq.REGRESSION


def test_missing_values_continue() -> None:
    assert _look([1.0], [1.0], 1).decision == seq.CONTINUE


def test_verdict_over_cells() -> None:
    assert seq.verdict([seq.PASS, seq.REGRESSION]) == seq.REGRESSION
    assert seq.verdict([seq.PASS, seq.PASS]) == seq.PASS
    assert seq.verdict([seq.PASS, seq.CONTINUE]) == seq.CONTINUE
    assert seq.verdict([seq.PASS, seq.SUSPECT]) == seq.SUSPECT


def test_false_alarm_rate_held_on_synthetic_repeats() -> None:
    """Null: candidate and baseline from one distribution (2 % CV); a fixed seed."""
    rng = random.Random(3)
    alarms, looks = 0, 0
    for _ in range(400):
        base = [rng.gauss(1.0, 0.02) for _ in range(5)]
        cand: list[float] = []
        for k in range(1, 6):
            cand.append(rng.gauss(1.0, 0.02))
            got = _look(base, cand, k)
            if got.decision != seq.CONTINUE:
                alarms += got.decision == seq.REGRESSION
                looks += k
                break
    assert alarms / 400 <= 0.05
    assert looks / 400 < 5


def test_a_change_below_the_floor_passes_early() -> None:
    """Futility is judged against what a REGRESSION needs: beyond the band AND the floor.
    A metric of ~20 ms with a 10 ms floor cannot regress by less than 50 %."""
    base = [0.018, 0.019, 0.020, 0.018, 0.021]
    got = seq.look(base, [0.021, 0.017], False, 0.10, 0.010, (0.025, 0.05), (2, 5))
    assert got.decision == seq.PASS
