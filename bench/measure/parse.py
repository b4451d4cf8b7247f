"""Parse one evalscope perf level folder (`parallel_P_number_N/`) into a `LevelResult`.

Every figure is recomputed from the raw per-request rows of `benchmark_data.db`, in SI
units, with evalscope 1.14.1's own definitions (evalscope/perf/utils/benchmark_util.py,
`MetricsAccumulator.update`/`to_result` for averages and rates; utils/db_util.py,
`get_percentile_results` for percentiles), so p50/p90 exist and nothing depends on the
rounding or the mixed ms/s units of evalscope's summary. `benchmark_summary.json` and
`benchmark_percentile.json` only serve as a cross-check: a disagreement beyond their
rounding is noted in `LevelResult.extra`, never fatal. The same rows give the client's own
view (`client_stats`: its requests in flight, its delay in starting the next request).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analyze.stats import mean, percentile
from bench.digest import request_digest
from bench.errors import UserError
from bench.schema.results import LevelResult

log = logging.getLogger(__name__)

DB_FILE = "benchmark_data.db"
SUMMARY_FILE = "benchmark_summary.json"
PERCENTILE_FILE = "benchmark_percentile.json"

_COLUMNS = (
    "start_time",
    "completed_time",
    "latency",
    "first_chunk_latency",
    "prompt_tokens",
    "completion_tokens",
    "success",
    "is_stream",
    "inter_token_latencies",
    "request",
)


@dataclass(frozen=True)
class RequestRecord:
    """One measured request, as evalscope recorded it (times on its perf_counter clock, s).

    Latency, TTFT and token counts are None for failed requests: evalscope stores none.
    `request_sha` matches the simulator's trace (`bench.digest.request_digest`); None
    when the stored body has nothing to digest.
    """

    start_time: float
    completed_time: float
    latency_s: float | None
    ttft_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    success: bool
    request_sha: str | None
    stream: bool = True
    itl_s: tuple[float, ...] = ()  # gaps between successive non-empty content chunks

    @property
    def tpot_s(self) -> float | None:
        """(latency - TTFT) / (tokens - 1); None without a decode phase (one token)."""
        tokens = self.completion_tokens
        if self.latency_s is None or self.ttft_s is None or tokens is None or tokens < 2:
            return None
        return (self.latency_s - self.ttft_s) / (tokens - 1)


def _request_sha(request: Any) -> str | None:
    # The column holds json.dumps(body, ensure_ascii=False) of the body as sent.
    if not isinstance(request, str):
        return None
    try:
        return request_digest(json.loads(request))
    except json.JSONDecodeError:
        return None


def _record(path: Path, rowid: int, row: Sequence[Any]) -> RequestRecord:
    start, completed, latency, ttft, prompt, completion, success, stream, itl, request = row
    where = f"{path}: row {rowid}"
    if not isinstance(start, float | int) or not isinstance(completed, float | int):
        raise UserError(f"{where}: start_time/completed_time missing")
    if success and None in (latency, ttft, prompt, completion):
        raise UserError(f"{where}: a successful request without latency, TTFT or token counts")
    try:
        gaps = json.loads(itl) if itl else []
        gaps = tuple(float(g) for g in gaps)
    except (json.JSONDecodeError, TypeError, ValueError):
        raise UserError(f"{where}: inter_token_latencies is not a JSON list of numbers") from None
    return RequestRecord(
        start_time=float(start),
        completed_time=float(completed),
        latency_s=None if latency is None else float(latency),
        ttft_s=None if ttft is None else float(ttft),
        prompt_tokens=None if prompt is None else int(prompt),
        completion_tokens=None if completion is None else int(completion),
        success=bool(success),
        request_sha=_request_sha(request),
        stream=bool(stream),
        itl_s=gaps,
    )


def read_requests(level_dir: Path) -> list[RequestRecord]:
    """Every measured request of a level (warm-up excluded, as evalscope stores none), in
    the order evalscope recorded them (completion order)."""
    path = level_dir / DB_FILE
    if not path.is_file():
        raise UserError(f"{path}: missing (not an evalscope level folder, or the run died early)")
    # Read-only: a plain connect() would create an empty database where none exists.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as con:
            rows = con.execute(
                f"SELECT rowid, {', '.join(_COLUMNS)} FROM result ORDER BY rowid"
            ).fetchall()
    except sqlite3.Error as exc:
        raise UserError(f"{path}: unreadable evalscope database ({exc})") from None
    return [_record(path, row[0], row[1:]) for row in rows]


def _wall_time(records: Sequence[RequestRecord]) -> float | None:
    """Earliest start to latest completion over all requests, failed ones included.

    evalscope `MetricsAccumulator._update_wall_time` skips records without a valid
    interval; with none left it divides by 1.0, which we report as no duration at all.
    """
    valid = [r for r in records if r.start_time > 0 and r.completed_time >= r.start_time]
    if not valid:
        return None
    return max(0.0, max(r.completed_time for r in valid) - min(r.start_time for r in valid))


def _per(total: float, seconds: float | None) -> float:
    return total / seconds if seconds else math.nan


def _figures(records: Sequence[RequestRecord]) -> dict[str, float]:
    """Every derived LevelResult figure by field name; NaN where it is undefined."""
    ok = [r for r in records if r.success]
    wall = _wall_time(records)
    prompt = [float(r.prompt_tokens or 0) for r in ok]
    output = [float(r.completion_tokens or 0) for r in ok]
    latency = [r.latency_s for r in ok if r.latency_s is not None]
    # TTFT and TPOT only mean something for streamed replies; evalscope falls back to
    # all successful requests only when none was streamed.
    streamed = [r for r in ok if r.stream] or ok
    ttft = [r.ttft_s for r in streamed if r.ttft_s is not None]
    if any(r.stream for r in ok):
        # Averages skip one-token replies (no decode phase); percentiles skip TPOT <= 0.
        tpot_avg = [t for r in streamed if (t := r.tpot_s) is not None]
        tpot_pct = [t for t in tpot_avg if t > 0]
    else:
        tpot_avg = tpot_pct = [r.tpot_s or 0.0 for r in ok]
    # ITL is pooled: the mean of every gap of every request, not a mean of per-request means.
    gaps = [g for r in ok for g in r.itl_s]
    return {
        "duration_s": wall if wall is not None else math.nan,
        "rps": _per(len(ok), wall),
        "output_tok_s": _per(sum(output), wall),
        "total_tok_s": _per(sum(prompt) + sum(output), wall),
        "latency_avg_s": mean(latency),
        "latency_p50_s": percentile(latency, 50),
        "latency_p90_s": percentile(latency, 90),
        "latency_p99_s": percentile(latency, 99),
        "ttft_avg_s": mean(ttft),
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p99_s": percentile(ttft, 99),
        "tpot_avg_s": mean(tpot_avg),
        "tpot_p50_s": percentile(tpot_pct, 50),
        "tpot_p99_s": percentile(tpot_pct, 99),
        "itl_avg_s": mean(gaps),
        "input_tokens_avg": mean(prompt),
        "output_tokens_avg": mean(output),
    }


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
    """Compare with evalscope's own files; disagreements go to `result.extra`."""
    summary = _load_json(level_dir / SUMMARY_FILE)
    if summary is None:
        result.extra["summary_check"] = f"{SUMMARY_FILE} missing: not cross-checked"
    elif not isinstance(summary, dict):
        raise UserError(f"{level_dir / SUMMARY_FILE}: not an evalscope summary (no JSON object)")
    elif notes := _summary_mismatches(summary, figures, result.succeeded, result.failed):
        result.extra["summary_mismatch"] = "; ".join(notes)
    try:
        rows = _load_json(level_dir / PERCENTILE_FILE)
    except UserError as exc:
        # evalscope skips or mangles this file in corner cases; the db is what counts.
        result.extra["percentile_check"] = str(exc)
        return
    if not isinstance(rows, list):
        result.extra["percentile_check"] = f"{PERCENTILE_FILE} missing or not a list"
    elif notes := _percentile_mismatches(rows, figures):
        result.extra["percentile_mismatch"] = "; ".join(notes)
    for key in ("summary_mismatch", "percentile_mismatch"):
        if key in result.extra:
            log.warning("%s: %s disagrees with evalscope: %s", level_dir, key, result.extra[key])


def client_stats(records: Sequence[RequestRecord], parallel: int) -> dict[str, Any]:
    """What the load generator achieved, from its own records: the mean number of its
    requests in flight over the measured window, and how long a request started after a
    slot freed. In a closed loop the k-th request (in start order) takes the slot of the
    (k - parallel)-th to complete; warm-up requests, which are not recorded, are assumed
    to complete before the measured ones."""
    spans = [(r.start_time, r.completed_time) for r in records if r.completed_time >= r.start_time]
    if not spans:
        return {}
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
    return out


def _check_lengths(result: LevelResult, ok: Sequence[RequestRecord]) -> None:
    counts = [r.completion_tokens or 0 for r in ok]
    if counts:
        result.output_tokens_min, result.output_tokens_max = min(counts), max(counts)
    expected = result.expected_output_tokens
    if expected is not None:
        result.wrong_length = sum(1 for n in counts if n != expected)


def _set_status(result: LevelResult, recorded: int) -> None:
    sent = result.succeeded + result.failed
    if recorded == 0:
        result.status, result.reason = "failed", f"no requests recorded in {DB_FILE}"
        return
    if result.succeeded == 0:
        result.status, result.reason = "failed", f"all {sent} requests failed"
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
    result.status, result.reason = "ok", "; ".join(flags)


def parse_level(
    level_dir: Path, parallel: int, number: int, expected_output_tokens: int | None
) -> LevelResult:
    """A normalised LevelResult (seconds, per second) for one evalscope level folder.

    `expected_output_tokens` (min == max tokens) enables the output-length check.
    Raises UserError when the database is missing or a file is corrupt; a level where
    no request succeeded is returned with status "failed".
    """
    records = read_requests(level_dir)
    ok = [r for r in records if r.success]
    result = LevelResult(
        parallel=parallel,
        number=number,
        raw_dir=level_dir.name,
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
            result.extra["undefined"] = undefined
    if len(records) != number:
        result.extra["recorded_requests"] = len(records)
    _check_lengths(result, ok)
    result.client = client_stats(records, parallel)
    _set_status(result, len(records))
    _cross_check(level_dir, figures, result)
    return result
