"""Steady-state window, confidence intervals and the `sweep.stop` rule
(bench/analyze/precision.py, bench/measure/precision.py), on synthetic data."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from pydantic import ValidationError

from bench.analyze import precision as rules
from bench.load import generator
from bench.load.evalscope_db import RequestRow
from bench.measure import precision
from bench.measure.rounds import abutted
from bench.report.compare import compare
from bench.report.compare import render as compare_render
from bench.report.precision import precision_summary, precision_table
from bench.schema.results import LevelResult, median_level
from bench.schema.scenario import without_quiet_defaults
from tests.support.factories import reference, repeated, small_scenario


def _row(start: float, end: float, ttft: float = 0.1, tokens: int = 11) -> RequestRow:
    return RequestRow(start, end, end - start, ttft, 10, tokens, True, None)


def test_steady_window_from_first_full_to_last_full() -> None:
    # Two slots: full from 1.0 (second start) to 9.0 (first drain completion).
    spans = [(0.0, 3.0), (1.0, 4.0), (3.0, 6.0), (4.0, 9.0), (6.0, 9.0), (9.0, 10.0)]
    assert rules.steady_window(spans, 2) == (1.0, 9.0)


def test_steady_window_ignores_hand_over_dips() -> None:
    spans = [(0.0, 2.0), (0.0, 2.5), (2.001, 4.0), (2.5, 5.0)]
    assert rules.steady_window(spans, 2) == (0.0, 4.0)


def test_steady_window_none_when_never_full() -> None:
    assert rules.steady_window([(0.0, 1.0), (2.0, 3.0)], 2) is None


def test_steady_view_says_when_too_few_requests() -> None:
    view = precision.steady_view([_row(0, 1), _row(0, 1.5), _row(1, 2)], 2)
    assert view.note and "no steady-state figures" in view.note and view.ttft_avg_s is None


def test_steady_view_figures_from_requests_inside() -> None:
    rows = [_row(w * 1.0, w * 1.0 + 1.0) for w in range(20) for _ in range(4)]
    view = precision.steady_view(rows, 4)
    assert view.window == [0.0, 20.0] and view.requests == 80
    assert view.ttft_avg_s == pytest.approx(0.1) and view.rps == pytest.approx(4.0)
    assert view.latency_p99_s == pytest.approx(1.0) and view.note is None


def _coverage(draw: object, estimate: object, truth: float, trials: int = 400) -> float:
    rng = random.Random(7)
    hit = 0
    for _ in range(trials):
        values = [draw(rng) for _ in range(60)]  # type: ignore[operator]
        got = estimate(values)  # type: ignore[operator]
        hit += got is not None and got[0] <= truth <= got[1]
    return hit / trials


def test_mean_interval_covers_a_skewed_mean() -> None:
    sigma = 0.5
    truth = math.exp(sigma**2 / 2)
    rate = _coverage(lambda r: r.lognormvariate(0, sigma), rules.mean_interval, truth)
    assert 0.90 <= rate <= 0.99


def test_percentile_interval_covers_the_median_at_least_as_promised() -> None:
    truth = 1.0  # lognormal(0, s) median
    rate = _coverage(
        lambda r: r.lognormvariate(0, 0.5), lambda v: rules.percentile_interval(v, 50), truth
    )
    assert rate >= 0.93


def test_p99_interval_undefined_with_too_few_requests() -> None:
    assert rules.percentile_interval([float(i) for i in range(100)], 99) is None
    assert rules.percentile_interval([float(i) for i in range(1000)], 99) is not None


def test_repeat_interval_needs_two_finite_values() -> None:
    assert rules.repeat_interval([1.0]) is None
    assert rules.repeat_interval([1.0, math.nan]) is None
    lo, hi = rules.repeat_interval([1.0, 1.1, 0.9])  # type: ignore[misc]
    assert lo < 1.0 < hi


def test_stop_rule() -> None:
    est = {"tpot_avg_s": 1.0}
    narrow = {"tpot_avg_s": (0.99, 1.01)}
    wide = {"tpot_avg_s": (0.9, 1.1)}
    metrics = ["tpot_avg_s"]
    assert rules.stop_check(est, narrow, metrics, 0.02, (32, 16, 512), (1, None)).stop
    assert not rules.stop_check(est, narrow, metrics, 0.02, (8, 16, 512), (1, None)).stop
    assert not rules.stop_check(est, wide, metrics, 0.02, (32, 16, 512), (1, None)).stop
    assert (
        "max_requests"
        in rules.stop_check(est, wide, metrics, 0.02, (512, 16, 512), (1, None)).reason
    )
    assert (
        "max_time_s" in rules.stop_check(est, wide, metrics, 0.02, (32, 16, 512), (9, 5.0)).reason
    )
    missing = rules.stop_check(est, {}, metrics, 0.02, (32, 16, 512), (1, None))
    assert not missing.stop and missing.half_width["tpot_avg_s"] == math.inf


def test_rounds_abut() -> None:
    first, second = [_row(0, 1), _row(0, 2)], [_row(10, 11), _row(10, 12)]
    rows = abutted([first, second])
    assert [r.start_time for r in rows] == [0, 0, 2, 2]


def test_level_keeps_precision_and_leaves_it_out_when_absent() -> None:
    level = LevelResult(2, 4, succeeded=4)
    assert "steady" not in level.to_dict() and "precision" not in level.to_dict()
    rows = [
        _row(w * 1.0, w * 1.0 + 1.0, ttft=0.1 + 0.01 * (k % 3)) for w in range(10) for k in range(2)
    ]
    precision.attach(level, rows)
    data = level.to_dict()
    assert (
        data["precision"]["intervals"]["ttft_avg_s"][0]
        < 0.105
        < data["precision"]["intervals"]["ttft_avg_s"][1]
    )
    assert data["steady"]["requests"] == 20
    assert (
        LevelResult(
            **{
                k: v
                for k, v in data.items()
                if k not in ("success_rate", "tokens_honoured", "flags")
            }
        ).precision
        == level.precision
    )


def test_precision_table_only_for_runs_with_precision() -> None:
    plain = LevelResult(2, 4, succeeded=4, ttft_avg_s=0.1)
    assert precision_table([plain]) == ""
    level = LevelResult(2, 20, succeeded=20, ttft_avg_s=0.105, tpot_avg_s=0.01, rps=2.0)
    precision.attach(level, [_row(w * 1.0, w * 1.0 + 1.0) for w in range(10) for _ in range(2)])
    text = precision_table([level])
    assert "Avg TTFT (ms)" in text and "20 req" in text and "Steady RPS" in text
    repeats = [replace(level, repeat=k, rps=2.0 + 0.1 * k) for k in (1, 2, 3)]
    assert "3 repeats" in precision_table(repeats) and "2.20 ± 0.25" in precision_table(repeats)
    assert "precision" in precision_summary(level) and precision_summary(plain) == {}


def test_stop_is_left_out_of_run_json_at_its_default() -> None:
    data = {"sweep": {"parallel": [1], "stop": None}}
    assert without_quiet_defaults(data) == {"sweep": {"parallel": [1]}}


def test_median_level_takes_the_median_of_every_figure() -> None:
    """Regression: since LevelResult's figures were typed `Figure` (step 10), median_level
    matched only fields typed "float" and so kept repeat 1's figures, all but duration_s,
    instead of the medians over repeats."""
    group = [
        LevelResult(2, 4, repeat=k, succeeded=4, rps=r) for k, r in ((1, 3.0), (2, 1.0), (3, 2.0))
    ]
    assert median_level(group).rps == 2.0


def test_compare_shows_precision_only_with_repeats() -> None:
    base = repeated(reference(), 1.0)
    slow = repeated(reference(), 1.12)
    text = compare_render(compare([base, slow]))
    assert "## Precision" in text and "worse B (95 % CI)" in text
    assert "## Precision" not in compare_render(compare([reference(), reference()]))


def test_rounds_run_one_load_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sweep.stop` measures a level in rounds of one evalscope process: a scenario asking
    for more workers is refused, and `auto` resolves to one (on a 64-core client, where
    it would otherwise split conc 256 four ways)."""
    monkeypatch.setattr(generator.os, "cpu_count", lambda: 64)
    stop = {"metric": ["tpot_avg_s"], "rel_half_width": 0.05}
    sweep = {"parallel": [256], "number": [512], "stop": stop}
    with pytest.raises(ValidationError, match=r"sweep\.stop runs each round in one load worker"):
        small_scenario(sweep=sweep, load={"workers": 4})
    scenario = small_scenario(sweep=sweep, load={"workers": "auto"})
    assert generator.worker_count(scenario, 256, 512) == 1
    assert generator.worker_count(small_scenario(sweep={**sweep, "stop": None}), 256, 512) == 4


def test_the_quantiles_from_scipy_special_are_scipy_stats() -> None:
    """precision.py and sequential.py take their t and binomial quantiles from
    scipy.special (a quarter of scipy.stats' import time, paid by every run): the same
    numbers as scipy.stats, for the tails the intervals use."""
    from scipy.stats import binom, t

    from bench.analyze import sequential

    for n in [*range(1, 400), 1000, 4096, 10_000]:
        for p in (0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999):
            for q in (0.005, 0.025, 0.05, 0.95, 0.975, 0.995):
                assert rules._binom_ppf(q, n, p) == int(binom.ppf(q, n, p)), (n, p, q)
    for df in range(1, 300):
        for q in (0.9, 0.95, 0.975, 0.995):
            assert rules._t_quantile(q, df) == pytest.approx(float(t.ppf(q, df)), rel=1e-12)
            upper = float(t.isf(1 - q, df))
            assert sequential._t_upper(1 - q, df) == pytest.approx(upper, rel=1e-12)
