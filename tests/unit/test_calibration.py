"""The shipped profiles still reproduce their published tables (in simulated time).

This pins the calibration: editing a profile or the timing model so that the reference sweep
no longer matches reports/reference/ fails here, long before a slow live run would.
"""

from __future__ import annotations

import pytest

from bench.config.published import PROFILE_TABLES, TOLERANCE, load_reference_tables, relative_error
from bench.sim.profile import load_profile
from bench.sim.virtual import CLIENT_DELAYS_S, reference_sweep


@pytest.mark.parametrize("profile_name", sorted(PROFILE_TABLES))
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("client_delay_s", CLIENT_DELAYS_S)
def test_profile_reproduces_published_table(
    profile_name: str, seed: int, client_delay_s: float
) -> None:
    profile = load_profile(profile_name)
    table = load_reference_tables()[PROFILE_TABLES[profile_name]]
    got = reference_sweep(profile, seed, client_delay_s)
    failures = [
        f"conc {c} {key}: {err:+.1%} (tolerance {tol:.0%})"
        for c in got
        for key, tol in TOLERANCE.items()
        if abs(err := relative_error(key, got[c][key], table[c][key])) > tol
    ]
    assert not failures, failures


def test_relative_error_respects_published_rounding() -> None:
    assert relative_error("rps", 0.0449, 0.04) == 0.0
    assert relative_error("rps", 0.035, 0.04) == 0.0
    assert relative_error("rps", 0.050, 0.04) == pytest.approx(0.005 / 0.04)
    assert relative_error("ttft_avg_s", 1.0, 1.333) == pytest.approx((1.0 - 1.3325) / 1.333)
