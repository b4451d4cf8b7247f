"""A level's request rows (bench/load/result.py `RequestRow`, whichever load generator and
strategy gave them) into a `LevelResult`.

Every figure is recomputed from the raw per-request rows, in SI units, with evalscope
1.14.1's own definitions (evalscope/perf/utils/benchmark_util.py,
`MetricsAccumulator.update`/`to_result` for averages and rates; utils/db_util.py,
`get_percentile_results` for percentiles), so p50/p90 exist and nothing depends on the
rounding or the mixed ms/s units of evalscope's summary, which serves only as a
cross-check (bench/load/evalscope_check.py): a disagreement beyond its rounding is noted
in `LevelResult.diagnostics` (`note_cross_check`), never fatal. The same rows give the
client's own view (`client_stats`: its requests in flight, its delay in starting the
next request).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load.generator import RECORDS_FILE, read_folder
from bench.load.result import ClientAccount, RequestRow, row_figures
from bench.schema.figures import goodput, percentile
from bench.schema.results import LevelResult, LevelStatus, decide_status
from bench.schema.views import ClientView


def note_cross_check(result: LevelResult, account: ClientAccount) -> None:
    """The client's own figures' disagreements with ours, into the level's diagnostics."""
    for name, note in account.cross_check.items():
        setattr(result.diagnostics, name, note)


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
        result.status, result.reason = (
            decide_status(0, False),
            f"no requests recorded in {RECORDS_FILE}",
        )
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
    level_dir: Path, parallel: int, number: int, expected_output_tokens: int | None
) -> LevelResult:
    """A normalised LevelResult (seconds, per second) for one kept level folder of one
    client process, cross-checked against the client's own figures.

    `expected_output_tokens` (min == max tokens) enables the output-length check.
    Raises UserError when the database is missing or a file is corrupt; a level where
    no request succeeded is returned with status "failed".
    """
    got = read_folder(level_dir)
    result = parse_rows(got.rows, parallel, number, expected_output_tokens)
    result.raw_dir = level_dir.name
    note_cross_check(result, got.account)
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
    figures = row_figures(records)
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
