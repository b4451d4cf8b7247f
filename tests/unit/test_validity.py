"""Per-level validity checks on hand-made levels: each check flags what it must and
nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analyze.validity import judge_level
from bench.load.evalscope_db import RequestRow
from bench.measure.parse import client_stats
from bench.schema.results import Check, CheckStatus, Diagnostics, LevelResult
from bench.schema.scenario import ValiditySpec
from bench.schema.views import ClientView, ServerView
from tests.support import factories


def judge(
    lv: LevelResult, server: dict, client: dict, limits: ValiditySpec, prefix_length: int = 0
) -> list[Check]:
    """judge_level on views written as plain mappings (as run.json stores them)."""
    return judge_level(lv, ServerView(**server), ClientView(**client), limits, prefix_length)


def rec(start: float, end: float) -> RequestRow:
    return RequestRow(start, end, end - start, 0.1, 600, 64, True, None)


def test_client_stats_in_flight_and_start_delays() -> None:
    # Two slots, each request 1 s; the third starts 0.1 s after the first ends, the
    # fourth 0.3 s after the second.
    records = [rec(0.0, 1.0), rec(0.0, 1.0), rec(1.1, 2.1), rec(1.3, 2.3)]
    out = client_stats(records, parallel=2).to_dict()
    assert out["window"] == [0.0, 2.3]
    assert out["in_flight_mean"] == pytest.approx(4.0 / 2.3)
    assert out["start_delay_max_s"] == pytest.approx(0.3)
    assert out["start_delay_p50_s"] == pytest.approx(0.1)
    assert client_stats([], 2).empty


def level(**kw: Any) -> LevelResult:
    """Concurrency 8, 32 requests, all succeeded at the expected length, unless `kw` says."""
    base: dict[str, Any] = dict(
        parallel=8,
        succeeded=32,
        expected_output_tokens=64,
        output_tokens_min=64,
        output_tokens_max=64,
        ttft_avg_s=0.120,
        input_tokens_avg=600.0,
    )
    return factories.level(**{**base, **kw})


SERVER = {
    "samples": 10,
    "in_flight_median": 8.0,
    "running_mean": 7.5,
    "waiting_mean": 0.2,
    "mm_queries": 40.0,
    "mm_hit_rate": 0.0,
    "prefix_queries": 24000.0,
    "prefix_hit_rate": 0.02,  # the chat template's shared block
    "client_cpu_mean": 0.3,
    "client_cpu_max": 0.5,
    "ttft_avg_s": 0.100,
}
CLIENT = {"in_flight_mean": 7.9, "start_delay_p90_s": 0.002}


def flagged(lv: LevelResult, server: dict, client: dict, prefix_length: int = 0) -> list[str]:
    checks = judge(lv, server, client, ValiditySpec(), prefix_length)
    return [c.name for c in checks if c.status == "flag"]


def test_a_good_level_passes_every_check() -> None:
    checks = judge(level(), SERVER, CLIENT, ValiditySpec())
    # The accelerator check needs telemetry (tests/unit/test_telemetry_results.py).
    assert [c.status for c in checks] == ["ok"] * 7 + ["n/a"]


@pytest.mark.parametrize(
    ("change", "server", "client", "expected"),
    [
        ({"wrong_length": 32, "output_tokens_max": 12}, {}, {}, ["output length"]),
        ({"failed": 1}, {}, {}, ["success"]),
        ({}, {"in_flight_median": 5.0}, {}, ["concurrency"]),
        ({}, {"in_flight_median": 9.0}, {}, ["concurrency"]),  # another tenant
        ({}, {}, {"in_flight_mean": 6.5}, ["concurrency"]),  # the client fell behind
        ({}, {"mm_hit_rate": 0.5}, {}, ["mm cache"]),
        ({}, {"prefix_hit_rate": 0.4}, {}, ["prefix cache"]),
        ({}, {"client_cpu_mean": 0.97}, {}, ["client"]),
        ({}, {}, {"start_delay_p90_s": 0.2}, ["client"]),
        ({}, {"ttft_avg_s": 0.03}, {}, ["TTFT gap"]),  # gap 90 ms, 3x the server's
    ],
)
def test_each_check_flags_its_own_failure(
    change: dict, server: dict, client: dict, expected: list[str]
) -> None:
    assert flagged(level(**change), SERVER | server, CLIENT | client) == expected


def test_gap_must_be_large_in_both_absolute_and_relative_terms() -> None:
    # 60 ms over a 2 s TTFT is 3 %: the client's overhead, not a problem.
    assert flagged(level(ttft_avg_s=2.06), SERVER | {"ttft_avg_s": 2.0}, CLIENT) == []


def test_concurrency_is_not_judged_on_a_few_server_samples() -> None:
    """Regression: on a real vLLM level of ~2 s, 1-second samples all landed while the
    requests sat in the API server's image preprocessing (running 0) and flagged a level
    whose client kept 3.94 of 4 requests in flight."""
    few = SERVER | {"samples": 2, "in_flight_median": 0.0}
    checks = judge(level(), few, CLIENT, ValiditySpec())
    conc = next(c for c in checks if c.name == "concurrency")
    assert conc.status == "ok", conc
    assert "too few samples to judge" in conc.detail and "client 7.90 of 8" in conc.detail


def test_expected_prefix_hits_grow_with_the_shared_prefix() -> None:
    server = SERVER | {"prefix_hit_rate": 0.4}
    assert flagged(level(), server, CLIENT, prefix_length=300) == []


def test_without_metrics_the_server_checks_are_not_applicable() -> None:
    checks = judge(level(), {}, {}, ValiditySpec())
    status = {c.name: c.status for c in checks}
    assert status == {
        "output length": "ok",
        "success": "ok",
        "concurrency": "n/a",
        "mm cache": "n/a",
        "prefix cache": "n/a",
        "client": "n/a",
        "TTFT gap": "n/a",
        "accelerator": "n/a",
    }


def test_a_failed_level_has_one_check() -> None:
    lv = level(status="failed", succeeded=0, failed=32, reason="all 32 requests failed")
    assert judge(lv, SERVER, CLIENT, ValiditySpec()) == [
        Check("measured", CheckStatus.FLAG, "all 32 requests failed")
    ]


def test_gap_names_a_server_window_that_misses_requests() -> None:
    checks = judge(level(), SERVER | {"ttft_requests": 30}, CLIENT, ValiditySpec())
    gap = next(c for c in checks if c.name == "TTFT gap")
    assert gap.status == "ok"
    assert gap.detail.endswith("(the server's window holds 30 of the 32 requests)")


def checks_by_name(lv: LevelResult, server: dict, client: dict, **limits: float) -> dict:
    return {c.name: c for c in judge(lv, server, client, ValiditySpec(**limits))}


def test_server_errors_are_blamed_on_the_server_not_the_client() -> None:
    """Regression: with 1 in 3 requests answered 500 by the server, conc 4 was flagged
    "the load generator fell behind" at 0.05 client cores (failed requests free their
    slots early), and the failures were not attributed to the server."""
    lv = level(parallel=4, number=12, succeeded=8, failed=4)
    idle = SERVER | {"in_flight_median": 4.0, "client_cpu_mean": 0.05}
    short = {"in_flight_mean": 3.16, "start_delay_p90_s": 0.2}
    checks = checks_by_name(lv, idle, short)
    assert checks["success"].status == "flag"
    assert checks["success"].detail == "server: 4 of 12 requests failed (33.3 %)"
    assert checks["concurrency"].status == "ok", checks["concurrency"]
    assert "not judged: 4 failed requests" in checks["concurrency"].detail
    assert checks["client"].status == "ok", checks["client"]
    assert "not judged (4 failed requests)" in checks["client"].detail


def test_failures_with_a_saturated_client_blame_neither_party_alone() -> None:
    lv = level(parallel=4, number=12, succeeded=8, failed=4)
    busy = SERVER | {"in_flight_median": 4.0, "client_cpu_mean": 0.97}
    checks = checks_by_name(lv, busy, {"in_flight_mean": 3.0})
    assert "either may be at fault" in checks["success"].detail
    assert not checks["success"].detail.startswith("server:")
    assert checks["concurrency"].status == "flag"
    assert "the load generator fell behind" in checks["concurrency"].detail
    assert checks["client"].status == "flag"


def test_failed_requests_within_the_tolerance_are_not_flagged() -> None:
    lv = level(succeeded=31, failed=1)
    ok = checks_by_name(lv, SERVER, CLIENT, max_failed_ratio=0.05)["success"]
    assert ok.status == "ok"
    assert ok.detail.endswith("(within validity.max_failed_ratio 5.0 %)")
    assert checks_by_name(lv, SERVER, CLIENT)["success"].status == "flag"  # default 0


def test_timed_out_requests_are_counted_with_the_timeout() -> None:
    lv = level(succeeded=30, failed=2, diagnostics=Diagnostics(timed_out=2, request_timeout_s=3.0))
    detail = checks_by_name(lv, SERVER, CLIENT)["success"].detail
    assert detail == (
        "server: 2 of 32 requests failed (6.2 %), 2 of them timed out after 3 s "
        "(load.request_timeout_s)"
    )


def test_a_partial_level_is_flagged_incomplete() -> None:
    """Regression: a level interrupted after 3 of 8 requests showed "all checks passed"."""
    lv = level(number=8, succeeded=3, status="partial", reason="interrupted after 3 of 8 requests")
    checks = checks_by_name(lv, SERVER, {"in_flight_mean": 7.9})
    assert checks["complete"] == Check(
        "complete",
        CheckStatus.FLAG,
        "partial, 3 of 8 requests recorded: interrupted after 3 of 8 requests",
    )
    assert "complete" not in checks_by_name(level(), SERVER, CLIENT)
