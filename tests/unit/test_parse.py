"""The evalscope level parser over real evalscope 1.14.1 output (tests/data/evalscope).

Expected values come from evalscope's own files of the same run, never from numbers
written here; broken inputs are damaged copies of those files, made in tmp_path.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.errors import UserError
from bench.load.evalscope_db import read_requests, request_sha
from bench.measure.parse import parse_level
from bench.schema.results import Diagnostics, LevelResult
from bench.sim.openai import parse_request
from bench.sim.profile import load_profile

DATA = Path(__file__).parent.parent / "data" / "evalscope"
OK = DATA / "ok" / "parallel_2_number_4"
SOME_FAILED = DATA / "some_failed" / "parallel_2_number_6"
ALL_FAILED = DATA / "all_failed" / "parallel_2_number_4"
TRUNCATED = DATA / "truncated" / "parallel_2_number_4"
ONE_TOKEN = DATA / "one_token" / "parallel_2_number_2"

# (summary key, LevelResult field, factor to evalscope's unit, decimals evalscope keeps)
SUMMARY_FIGURES = [
    ("Test Duration (s)", "duration_s", 1, 4),
    ("Req Throughput (req/s)", "rps", 1, 4),
    ("Avg Latency (s)", "latency_avg_s", 1, 4),
    ("Avg Input Tokens", "input_tokens_avg", 1, 4),
    ("Avg Output Tokens", "output_tokens_avg", 1, 4),
    ("Output Throughput (tok/s)", "output_tok_s", 1, 4),
    ("Total Throughput (tok/s)", "total_tok_s", 1, 4),
    ("Avg TTFT (ms)", "ttft_avg_s", 1000, 2),
    ("Avg TPOT (ms)", "tpot_avg_s", 1000, 2),
    ("Avg ITL (ms)", "itl_avg_s", 1000, 2),
]
PERCENTILE_FIGURES = [
    ("50%", "Latency (s)", "latency_p50_s", 1),
    ("90%", "Latency (s)", "latency_p90_s", 1),
    ("99%", "Latency (s)", "latency_p99_s", 1),
    ("50%", "TTFT (ms)", "ttft_p50_s", 1000),
    ("99%", "TTFT (ms)", "ttft_p99_s", 1000),
    ("50%", "TPOT (ms)", "tpot_p50_s", 1000),
    ("99%", "TPOT (ms)", "tpot_p99_s", 1000),
]


def parse(level_dir: Path, expected: int | None = 16) -> LevelResult:
    _, parallel, _, number = level_dir.name.split("_")
    return parse_level(level_dir, int(parallel), int(number), expected)


def summary(level_dir: Path) -> dict[str, Any]:
    return json.loads((level_dir / "benchmark_summary.json").read_text())


def percentile_row(level_dir: Path, label: str) -> dict[str, Any]:
    rows = json.loads((level_dir / "benchmark_percentile.json").read_text())
    return next(row for row in rows if row["Percentiles"] == label)


def agrees(ours: float, theirs: float, decimals: int) -> bool:
    return abs(ours - theirs) <= 0.5 * 10.0**-decimals + 1e-9


def copy_level(level_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / level_dir.name
    shutil.copytree(level_dir, dest)
    return dest


def strict_json(result: LevelResult) -> str:
    """run.json must stay strict JSON: no NaN or infinity may leak into a result."""
    return json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("level_dir", [OK, SOME_FAILED, TRUNCATED])
@pytest.mark.parametrize(("key", "name", "factor", "decimals"), SUMMARY_FIGURES)
def test_averages_and_rates_agree_with_evalscope_summary(
    level_dir: Path, key: str, name: str, factor: int, decimals: int
) -> None:
    result = parse(level_dir)
    assert agrees(getattr(result, name) * factor, summary(level_dir)[key], decimals)


@pytest.mark.parametrize("level_dir", [OK, SOME_FAILED, TRUNCATED])
@pytest.mark.parametrize(("label", "key", "name", "factor"), PERCENTILE_FIGURES)
def test_percentiles_agree_with_evalscope_percentile_file(
    level_dir: Path, label: str, key: str, name: str, factor: int
) -> None:
    result = parse(level_dir)
    assert agrees(getattr(result, name) * factor, percentile_row(level_dir, label)[key], 4)


@pytest.mark.parametrize("level_dir", [OK, SOME_FAILED, TRUNCATED, ONE_TOKEN, ALL_FAILED])
def test_no_mismatch_is_reported_on_real_output(level_dir: Path) -> None:
    result = parse(level_dir)
    for key in ("summary_mismatch", "percentile_mismatch", "summary_check"):
        assert getattr(result.diagnostics, key) is None
    strict_json(result)


def test_ok_level() -> None:
    result = parse(OK)
    s = summary(OK)
    assert (result.status, result.reason) == ("ok", "")
    assert (
        (result.succeeded, result.failed)
        == (s["Success Requests"], s["Failed Requests"])
        == (
            4,
            0,
        )
    )
    assert result.raw_dir == "parallel_2_number_4"
    assert (result.parallel, result.number) == (2, 4)
    assert result.success_rate == 100.0
    assert result.diagnostics == Diagnostics()


def test_p99_is_the_maximum_with_few_requests() -> None:
    """Nearest rank with fewer than 100 values: p99 is the largest value, as evalscope."""
    records = [r for r in read_requests(OK) if r.success]
    result = parse(OK)
    assert result.latency_p99_s == max(r.latency_s or 0 for r in records)
    assert result.ttft_p99_s == max(r.ttft_s or 0 for r in records)
    assert result.tpot_p99_s == max(r.tpot_s or 0 for r in records)
    assert agrees(result.latency_p99_s, percentile_row(OK, "max")["Latency (s)"], 4)


def test_output_length_check_passes_when_every_request_has_the_asked_length() -> None:
    result = parse(OK)
    assert result.wrong_length == 0
    assert result.output_tokens_min == result.output_tokens_max == 16
    assert result.expected_output_tokens == 16
    assert result.tokens_honoured


def test_output_length_check_catches_a_server_that_stops_early() -> None:
    """The simulator stops after 5 tokens although ignore_eos asked for 16."""
    result = parse(TRUNCATED)
    assert result.status == "ok"
    assert result.succeeded == 4
    assert result.wrong_length == result.succeeded
    assert (result.output_tokens_min, result.output_tokens_max) == (5, 5)
    assert not result.tokens_honoured
    assert "did not produce 16 tokens" in result.reason


def test_without_an_expected_length_nothing_is_flagged() -> None:
    result = parse(TRUNCATED, expected=None)
    assert result.wrong_length == 0
    assert result.output_tokens_max == 5
    assert result.tokens_honoured
    assert result.reason == ""


def test_some_failed_counts() -> None:
    result = parse(SOME_FAILED)
    s = summary(SOME_FAILED)
    assert (result.succeeded, result.failed) == (s["Success Requests"], s["Failed Requests"])
    assert result.succeeded + result.failed == s["Total Requests"] == 6
    assert result.failed == 2  # arrivals 3 and 6 of the simulator (1 is the connection test)
    assert result.status == "ok"
    assert result.reason == "2 of 6 requests failed"
    assert result.success_rate == pytest.approx(100 * 4 / 6)


def test_duration_spans_failed_requests_too() -> None:
    """evalscope's wall time runs from the first start to the last completion of all rows."""
    records = read_requests(SOME_FAILED)
    span = max(r.completed_time for r in records) - min(r.start_time for r in records)
    assert parse(SOME_FAILED).duration_s == span


def test_all_failed_is_a_failed_level_without_exceptions() -> None:
    """evalscope writes -1/-1000 sentinels in the summary and bare NaN in the percentiles."""
    assert "NaN" in (ALL_FAILED / "benchmark_percentile.json").read_text()
    assert summary(ALL_FAILED)["Avg TTFT (ms)"] == -1000.0
    result = parse(ALL_FAILED)
    assert result.status == "failed"
    assert result.reason == "all 4 requests failed"
    assert (result.succeeded, result.failed) == (0, 4)
    assert result.rps == result.output_tok_s == result.latency_p99_s == result.ttft_avg_s == 0.0
    assert result.duration_s > 0
    assert result.success_rate == 0.0
    strict_json(result)


def test_one_token_replies_have_no_tpot() -> None:
    """A one-token reply has no decode phase: evalscope leaves it out of TPOT and ITL."""
    result = parse(ONE_TOKEN, expected=1)
    assert result.status == "ok"
    assert result.tpot_avg_s == result.tpot_p99_s == result.itl_avg_s == 0.0
    assert summary(ONE_TOKEN)["Avg TPOT (ms)"] == 0.0
    assert math.isnan(percentile_row(ONE_TOKEN, "99%")["TPOT (ms)"])
    assert set(result.diagnostics.undefined or []) == {
        "tpot_avg_s",
        "tpot_p50_s",
        "tpot_p99_s",
        "itl_avg_s",
    }
    assert result.ttft_avg_s > 0
    strict_json(result)


def test_read_requests() -> None:
    records = read_requests(SOME_FAILED)
    assert len(records) == 6
    failed = [r for r in records if not r.success]
    assert len(failed) == 2
    for r in failed:
        assert r.latency_s is r.ttft_s is r.completion_tokens is r.tpot_s is None
        assert r.completed_time >= r.start_time > 0
        assert r.request_sha is not None  # evalscope keeps the body of failed requests too
    for r in records:
        if r.success:
            assert r.latency_s is not None and r.ttft_s is not None
            assert 0 < r.ttft_s < r.latency_s
            assert r.stream
            assert len(r.itl_s) == 15  # 16 tokens, one per chunk


def test_request_sha_matches_the_simulator_trace() -> None:
    trace = [json.loads(line) for line in (DATA / "ok" / "trace.jsonl").read_text().splitlines()]
    by_sha = {line["request_sha"]: line for line in trace}
    records = read_requests(OK)
    assert len(records) == 4
    for r in records:
        assert r.request_sha in by_sha
        line = by_sha[r.request_sha]
        assert line["prompt_tokens"] == r.prompt_tokens
        assert line["output_tokens"] == r.completion_tokens
        # Both clocks are perf_counter: the server saw the request after the client sent it.
        assert r.start_time <= line["arrival"] <= r.start_time + (r.latency_s or 0)
    assert len({r.request_sha for r in records}) == 4


@pytest.mark.parametrize(
    ("chat", "body"),
    [
        (True, {"messages": [{"role": "user", "content": "one string"}]}),
        (
            True,
            {
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "first"},
                            {"type": "text", "text": "ünïcode second"},
                        ],
                    },
                ]
            },
        ),
        (False, {"prompt": "a completions prompt"}),
        (False, {"prompt": [11, 12, 13]}),
    ],
)
def test_request_sha_follows_the_simulator_definition(
    chat: bool, body: dict[str, Any], tokenizer_dir: Path
) -> None:
    body = {"model": "sim-model", "max_tokens": 4, **body}
    # evalscope stores the body with json.dumps(body, ensure_ascii=False).
    stored = json.dumps(body, ensure_ascii=False)
    parsed = parse_request(stored.encode(), chat, load_profile("fast"), str(tokenizer_dir))
    assert request_sha(stored) == parsed.request_sha


def test_missing_db_is_a_user_error(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    (level / "benchmark_data.db").unlink()
    with pytest.raises(UserError, match=r"benchmark_data\.db") as info:
        parse(level)
    assert str(level) in str(info.value)
    assert "\n" not in str(info.value)
    assert not (level / "benchmark_data.db").exists()  # reading must not create one


@pytest.mark.parametrize("damage", ["truncate", "header", "empty"])
def test_corrupt_db_is_a_user_error(tmp_path: Path, damage: str) -> None:
    level = copy_level(OK, tmp_path)
    db = level / "benchmark_data.db"
    data = db.read_bytes()
    if damage == "truncate":
        db.write_bytes(data[: len(data) // 3])
    elif damage == "header":
        db.write_bytes(b"\0" * 100 + data[100:])
    else:
        db.write_bytes(b"")
    with pytest.raises(UserError, match=r"benchmark_data\.db") as info:
        parse(level)
    assert "\n" not in str(info.value)


def test_db_without_result_table_is_a_user_error(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    with sqlite3.connect(level / "benchmark_data.db") as con:
        con.execute("ALTER TABLE result RENAME TO other")
    with pytest.raises(UserError, match=r"benchmark_data\.db.*no such table"):
        parse(level)


def test_corrupt_summary_is_a_user_error(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    path = level / "benchmark_summary.json"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(UserError, match=r"benchmark_summary\.json") as info:
        parse(level)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_summary_is_noted_not_fatal(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    (level / "benchmark_summary.json").unlink()
    result = parse(level)
    assert result.status == "ok"
    assert "missing" in (result.diagnostics.summary_check or "")


@pytest.mark.parametrize("damage", ["missing", "truncate", "not_a_list"])
def test_bad_percentile_file_is_noted_not_fatal(tmp_path: Path, damage: str) -> None:
    level = copy_level(OK, tmp_path)
    path = level / "benchmark_percentile.json"
    if damage == "missing":
        path.unlink()
    elif damage == "truncate":
        path.write_text(path.read_text()[:-30])
    else:
        path.write_text(json.dumps(percentile_row(OK, "99%")))
    result = parse(level)
    assert result.status == "ok"
    assert result.latency_p99_s == parse(OK).latency_p99_s
    assert "benchmark_percentile.json" in (result.diagnostics.percentile_check or "")


def test_disagreeing_summary_is_noted(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    path = level / "benchmark_summary.json"
    data = json.loads(path.read_text())
    data["Avg TTFT (ms)"] = round(data["Avg TTFT (ms)"] * 2, 2)
    data["Success Requests"] = 3
    path.write_text(json.dumps(data))
    result = parse(level)
    note = result.diagnostics.summary_mismatch or ""
    assert "Avg TTFT (ms)" in note and "Success Requests" in note
    assert "Avg Latency (s)" not in note
    assert result.ttft_avg_s == parse(OK).ttft_avg_s  # the db decides, not the summary


def test_disagreeing_percentile_is_noted(tmp_path: Path) -> None:
    level = copy_level(OK, tmp_path)
    path = level / "benchmark_percentile.json"
    rows = json.loads(path.read_text())
    for row in rows:
        if row["Percentiles"] == "99%":
            row["Latency (s)"] += 0.01
    path.write_text(json.dumps(rows))
    assert "99% Latency (s)" in (parse(level).diagnostics.percentile_mismatch or "")
