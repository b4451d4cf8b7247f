"""Parse one evalscope perf level folder (`parallel_P_number_N/`) into a `LevelResult`.

Every figure is recomputed from the raw per-request rows of `benchmark_data.db` (read by
the evalscope adapter, bench/load/evalscope_db.py, as typed `RequestRow`s), in SI
units, with evalscope 1.14.1's own definitions (evalscope/perf/utils/benchmark_util.py,
`MetricsAccumulator.update`/`to_result` for averages and rates; utils/db_util.py,
`get_percentile_results` for percentiles), so p50/p90 exist and nothing depends on the
rounding or the mixed ms/s units of evalscope's summary. `benchmark_summary.json` and
`benchmark_percentile.json` only serve as a cross-check: a disagreement beyond their
rounding is noted in `LevelResult.diagnostics`, never fatal. The same rows give the client's own
view (`client_stats`: its requests in flight, its delay in starting the next request).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.evalscope_db import (
    DB_FILE,
    PERCENTILE_FILE,
    SUMMARY_FILE,
    RequestRow,
    read_requests,
)
from bench.schema.figures import Timed, goodput, level_figures, percentile, wall_time
from bench.schema.results import LevelResult, LevelStatus, decide_status
from bench.schema.views import ClientView

log = logging.getLogger(__name__)


def _figures(records: Sequence[RequestRow]) -> dict[str, float]:
    """Every derived LevelResult figure by field name; NaN where it is undefined."""
    ok = [
        Timed(
            latency_s=r.latency_s or 0.0,
            ttft_s=r.ttft_s or 0.0,
            prompt_tokens=r.prompt_tokens or 0,
            output_tokens=r.completion_tokens or 0,
            stream=r.stream,
            itl_s=r.itl_s,
        )
        for r in records
        if r.success  # the reader refuses a successful row without these figures
    ]
    wall = wall_time((r.start_time, r.completed_time) for r in records)
    return level_figures(ok, wall)


def _load_json(path: Path) -> Any:
    """Parsed JSON; None when the file is absent; UserError when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({exc})") from None
    try:
        # evalscope writes bare NaN (not strict JSON) for metrics without values;
        # Python's json module accepts it.
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


# (evalscope key, LevelResult field, factor to evalscope's unit, decimals evalscope keeps)
_SUMMARY_ALWAYS = (
    ("Req Throughput (req/s)", "rps", 1.0, 4),
    ("Output Throughput (tok/s)", "output_tok_s", 1.0, 4),
    ("Total Throughput (tok/s)", "total_tok_s", 1.0, 4),
    ("Test Duration (s)", "duration_s", 1.0, 4),
)
# Without a successful request evalscope writes -1 sentinels (-1000 in ms) here.
_SUMMARY_IF_SUCCESS = (
    ("Avg Latency (s)", "latency_avg_s", 1.0, 4),
    ("Avg Input Tokens", "input_tokens_avg", 1.0, 4),
    ("Avg Output Tokens", "output_tokens_avg", 1.0, 4),
    ("Avg TTFT (ms)", "ttft_avg_s", 1000.0, 2),
    ("Avg TPOT (ms)", "tpot_avg_s", 1000.0, 2),
    ("Avg ITL (ms)", "itl_avg_s", 1000.0, 2),
)
_PERCENTILES = (
    ("50%", "Latency (s)", "latency_p50_s", 1.0),
    ("90%", "Latency (s)", "latency_p90_s", 1.0),
    ("99%", "Latency (s)", "latency_p99_s", 1.0),
    ("50%", "TTFT (ms)", "ttft_p50_s", 1000.0),
    ("99%", "TTFT (ms)", "ttft_p99_s", 1000.0),
    ("50%", "TPOT (ms)", "tpot_p50_s", 1000.0),
    ("99%", "TPOT (ms)", "tpot_p99_s", 1000.0),
)


def _differs(ours: float, theirs: Any, decimals: int) -> str | None:
    """A note when evalscope's rounded figure is not ours rounded; None when it agrees or
    either side has no value (NaN, missing)."""
    if not isinstance(theirs, float | int) or not math.isfinite(theirs) or math.isnan(ours):
        return None
    if abs(ours - theirs) <= 0.5 * 10.0**-decimals + 1e-9 * max(1.0, abs(theirs)):
        return None
    return f"ours {ours:.{decimals + 2}f}, evalscope {theirs}"


def _summary_mismatches(
    summary: dict[str, Any], figures: dict[str, float], succeeded: int, failed: int
) -> list[str]:
    notes = [
        f"{key}: ours {ours}, evalscope {summary.get(key)}"
        for key, ours in (
            ("Total Requests", succeeded + failed),
            ("Success Requests", succeeded),
            ("Failed Requests", failed),
        )
        if summary.get(key) != ours
    ]
    checks = _SUMMARY_ALWAYS + (_SUMMARY_IF_SUCCESS if succeeded else ())
    for key, name, factor, decimals in checks:
        if (note := _differs(figures[name] * factor, summary.get(key), decimals)) is not None:
            notes.append(f"{key}: {note}")
    return notes


def _percentile_mismatches(rows: list[Any], figures: dict[str, float]) -> list[str]:
    by_label = {row.get("Percentiles"): row for row in rows if isinstance(row, dict)}
    notes = []
    for label, key, name, factor in _PERCENTILES:
        theirs = by_label.get(label, {}).get(key)
        # evalscope rounds each percentile to 4 decimals in the file's unit.
        if (note := _differs(figures[name] * factor, theirs, 4)) is not None:
            notes.append(f"{label} {key}: {note}")
    return notes


def _cross_check(level_dir: Path, figures: dict[str, float], result: LevelResult) -> None:
    """Compare with evalscope's own files; disagreements go to `result.diagnostics`."""
    summary = _load_json(level_dir / SUMMARY_FILE)
    if summary is None:
        result.diagnostics.summary_check = f"{SUMMARY_FILE} missing: not cross-checked"
    elif not isinstance(summary, dict):
        raise UserError(f"{level_dir / SUMMARY_FILE}: not an evalscope summary (no JSON object)")
    elif notes := _summary_mismatches(summary, figures, result.succeeded, result.failed):
        result.diagnostics.summary_mismatch = "; ".join(notes)
    try:
        rows = _load_json(level_dir / PERCENTILE_FILE)
    except UserError as exc:
        # evalscope skips or mangles this file in corner cases; the db is what counts.
        result.diagnostics.percentile_check = str(exc)
        return
    if not isinstance(rows, list):
        result.diagnostics.percentile_check = f"{PERCENTILE_FILE} missing or not a list"
    elif notes := _percentile_mismatches(rows, figures):
        result.diagnostics.percentile_mismatch = "; ".join(notes)
    mismatches = {
        "summary_mismatch": result.diagnostics.summary_mismatch,
        "percentile_mismatch": result.diagnostics.percentile_mismatch,
    }
    for key, note in mismatches.items():
        if note is not None:
            log.warning("%s: %s disagrees with evalscope: %s", level_dir, key, note)


def client_stats(records: Sequence[RequestRow], parallel: int) -> ClientView:
    """What the load generator achieved, from its own records: the mean number of its
    requests in flight over the measured window, and how long a request started after a
    slot freed. In a closed loop the k-th request (in start order) takes the slot of the
    (k - parallel)-th to complete; warm-up requests, which are not recorded, are assumed
    to complete before the measured ones."""
    spans = [(r.start_time, r.completed_time) for r in records if r.completed_time >= r.start_time]
    if not spans:
        return ClientView()
    begin, end = min(s for s, _ in spans), max(c for _, c in spans)
    out: dict[str, Any] = {"window": [begin, end]}
    if end > begin:
        out["in_flight_mean"] = sum(c - s for s, c in spans) / (end - begin)
    starts, ends = sorted(s for s, _ in spans), sorted(c for _, c in spans)
    delays = [max(0.0, starts[k] - ends[k - parallel]) for k in range(parallel, len(starts))]
    if delays:
        out["start_delay_p50_s"] = percentile(delays, 50)
        out["start_delay_p90_s"] = percentile(delays, 90)
        out["start_delay_max_s"] = max(delays)
    return ClientView(**out)


def _check_lengths(result: LevelResult, ok: Sequence[RequestRow]) -> None:
    counts = [r.completion_tokens or 0 for r in ok]
    if counts:
        result.output_tokens_min, result.output_tokens_max = min(counts), max(counts)
    expected = result.expected_output_tokens
    if expected is not None:
        result.wrong_length = sum(1 for n in counts if n != expected)


def _set_status(result: LevelResult, recorded: int) -> None:
    sent = result.succeeded + result.failed
    if recorded == 0:
        result.status, result.reason = decide_status(0, False), f"no requests recorded in {DB_FILE}"
        return
    result.status = decide_status(result.succeeded, cut_short=False)
    if result.status == LevelStatus.FAILED:
        result.reason = f"all {sent} requests failed"
        return
    flags = []
    if result.failed:
        flags.append(f"{result.failed} of {sent} requests failed")
    if result.wrong_length:
        flags.append(
            f"{result.wrong_length} of {result.succeeded} successful requests did not "
            f"produce {result.expected_output_tokens} tokens "
            f"(got {result.output_tokens_min}..{result.output_tokens_max})"
        )
    result.reason = "; ".join(flags)


def parse_level(
    level_dir: Path,
    parallel: int,
    number: int,
    expected_output_tokens: int | None,
    records: Sequence[RequestRow] | None = None,
) -> LevelResult:
    """A normalised LevelResult (seconds, per second) for one evalscope level folder.

    `expected_output_tokens` (min == max tokens) enables the output-length check.
    Raises UserError when the database is missing or a file is corrupt; a level where
    no request succeeded is returned with status "failed". `records`: the folder's rows,
    when the caller has read them already.
    """
    if records is None:
        records = read_requests(level_dir)
    result = parse_rows(records, parallel, number, expected_output_tokens)
    result.raw_dir = level_dir.name
    _cross_check(level_dir, _figures(records), result)
    return result


def parse_rows(
    records: Sequence[RequestRow], parallel: int, number: int, expected_output_tokens: int | None
) -> LevelResult:
    """A LevelResult from request rows: one evalscope folder's, or a split level's merged
    rows (bench/load/pool.py), every figure from the raw values."""
    ok = [r for r in records if r.success]
    result = LevelResult(
        parallel=parallel,
        number=number,
        expected_output_tokens=expected_output_tokens,
        succeeded=len(ok),
        failed=len(records) - len(ok),
    )
    figures = _figures(records)
    for name, value in figures.items():
        # Undefined figures stay 0.0 (as evalscope's TPOT/ITL do): run.json must stay
        # strict JSON, and `undefined` says which they are.
        setattr(result, name, value if math.isfinite(value) else 0.0)
    if ok:
        undefined = sorted(name for name, value in figures.items() if not math.isfinite(value))
        if undefined:
            result.diagnostics.undefined = undefined
    if len(records) != number:
        result.diagnostics.recorded_requests = len(records)
    _check_lengths(result, ok)
    result.client = client_stats(records, parallel)
    _set_status(result, len(records))
    return result


def set_goodput(
    result: LevelResult,
    records: Sequence[RequestRow],
    ttft_max_s: float | None,
    tpot_max_s: float | None,
) -> None:
    """The level's goodput (figures.goodput) from its successful requests, over the same
    wall time as its RPS; left None without an SLO or a duration."""
    ok = [(r.ttft_s, r.tpot_s) for r in records if r.success and r.ttft_s is not None]
    value = goodput(ok, result.duration_s or None, ttft_max_s, tpot_max_s)
    result.goodput_rps = value if value is not None and math.isfinite(value) else None
