"""The cheap warm-up: how long its requests are, why (the simulator's timing model in
simulated time shows a too-short warm-up raising the first measured wave's TTFT), and
the level check that says when it was too short."""

from __future__ import annotations

import pytest

from bench.analyze.validity import judge_level
from bench.config.scenario import load_scenario
from bench.schema.scenario import ValiditySpec
from bench.schema.views import ClientView, ServerView
from bench.sim.engine import Engine
from bench.sim.profile import load_profile
from bench.sim.virtual import REFERENCE_PROMPT_TOKENS, run_closed_loop
from tests.support import factories
from tests.support.paths import SCENARIOS

QUICKSTART = SCENARIOS / "quickstart.yaml"


@pytest.mark.parametrize(
    ("mode", "max_tokens", "parallel", "expected"),
    [
        ("cheap", 512, 32, 128),  # a quarter
        ("cheap", 24, 8, 16),  # the floor
        ("cheap", 8, 8, 8),  # never more than the request itself
        ("full", 512, 32, None),
        ("off", 512, 32, None),
    ],
)
def test_a_cheap_warm_up_request_is_a_quarter_of_the_output(
    mode: str, max_tokens: int, parallel: int, expected: int | None
) -> None:
    load = load_scenario(QUICKSTART).load.model_copy(
        update={"warmup": mode, "max_tokens": max_tokens, "min_tokens": 1}
    )
    assert load.warmup_tokens_for(parallel) == expected
    assert load.model_copy(update={"warmup_requests": 0}).warmup_tokens_for(parallel) is None


def _ttft_at_32(warmup_tokens: int | None) -> float:
    """Avg TTFT of 128 measured requests at concurrency 32 after one warm-up wave, in
    simulated time on the calibrated NPU profile (512 output tokens, as the reference)."""
    profile = load_profile("ascend-800ta2-vllm")
    engine = Engine(profile, 0)
    # The server has served earlier levels: its image encoder's cold start is behind it.
    run_closed_loop(profile, engine, 4, 8, REFERENCE_PROMPT_TOKENS, 1, 16)
    level = run_closed_loop(
        profile,
        engine,
        32,
        128,
        REFERENCE_PROMPT_TOKENS,
        1,
        512,
        0.012,
        warmup=32,
        warmup_tokens=warmup_tokens,
    )
    assert len(level.requests) == 128
    return level.summary()["ttft_avg_s"]


def test_a_warm_up_that_outlasts_its_burst_leaves_ttft_as_a_full_one_does() -> None:
    full = _ttft_at_32(None)
    # 8 tokens end before the wave's 32 prefills do: the measured requests queue behind them.
    assert _ttft_at_32(8) > 1.3 * full
    # A quarter of the output (the cheap warm-up) is still decoding when the burst is done.
    assert _ttft_at_32(128) == pytest.approx(full, rel=0.05)


def _warmup_check(tokens: int | None, paced: bool = False, **figures: float) -> list[str]:
    level = factories.level(parallel=32, succeeded=128, **figures)
    level.diagnostics.warmup_tokens = tokens
    checks = judge_level(level, ServerView(), ClientView(), ValiditySpec(), 0, paced)
    return [f"{c.status}: {c.detail}" for c in checks if c.name == "warm-up"]


def test_the_warm_up_check_flags_a_decode_shorter_than_the_p99_ttft() -> None:
    (ok,) = _warmup_check(128, tpot_p50_s=0.06, ttft_p99_s=4.4)
    assert ok == "ok: 128 tokens, ~7680 ms of decode vs P99 TTFT 4400 ms"
    (flag,) = _warmup_check(16, tpot_p50_s=0.06, ttft_p99_s=4.4)
    assert flag.startswith("flag: 16 tokens, ~960 ms") and "load.warmup: full" in flag
    (na,) = _warmup_check(16, tpot_p50_s=0.0, ttft_p99_s=4.4)
    assert na.startswith("n/a")
    # A full warm-up, or a paced level (requests start on a schedule): no such check.
    assert _warmup_check(None, tpot_p50_s=0.06, ttft_p99_s=4.4) == []
    assert _warmup_check(16, paced=True, tpot_p50_s=0.06, ttft_p99_s=4.4) == []
