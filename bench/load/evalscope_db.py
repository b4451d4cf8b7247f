"""evalscope's output folder: its file names and the schema of `benchmark_data.db`.

The only module that knows them. evalscope perf (1.14.x, evalscope/perf/utils/db_util.py)
writes one folder per level with a SQLite database, table `result`, one row per measured
request (warm-up requests are not stored), and two JSON files of its own figures.
`read_requests` turns the rows into typed `RequestRow`s (bench/load/result.py), which
is all bench/measure/parse.py computes figures from; `count_rows` is the progress bar of
a level that is still running.

Both open the database read-only: a plain connect() would create an empty database where
none exists, and evalscope is still writing to it while a level runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.digest import request_digest
from bench.errors import UserError
from bench.load.result import RequestRow

DB_FILE = "benchmark_data.db"
SUMMARY_FILE = "benchmark_summary.json"
PERCENTILE_FILE = "benchmark_percentile.json"
ARGS_FILE = "benchmark_args.json"

# The columns we read from table `result`, in `_row`'s unpacking order. The table has
# more (response_messages, max_gpu_memory_cost, time_per_output_token, request_id) that
# nothing here needs; evalscope's own TPOT column is recomputed from these.
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


# The column `request` of a request sent by bench/load/evalscope_sender.py: its digest,
# not its body (a prepared body can be hundreds of KB, each written to the database).
SHORT_KEY = "vlm_bench_request_sha"


def short_request(sha: str) -> str:
    """What the lean sender stores in column `request` for a body of digest `sha`."""
    return json.dumps({SHORT_KEY: sha})


def request_sha(request: Any) -> str | None:
    """The digest of a stored request (column `request`), None when there is none."""
    # The column holds json.dumps(body, ensure_ascii=False) of the body as sent, or the
    # lean sender's short record of it.
    if not isinstance(request, str):
        return None
    try:
        body = json.loads(request)
    except json.JSONDecodeError:
        return None
    if isinstance(body, dict) and isinstance(body.get(SHORT_KEY), str) and len(body) == 1:
        return body[SHORT_KEY] or None
    return request_digest(body)


def _optional(value: Any, kind: type[float] | type[int]) -> Any:
    return None if value is None else kind(value)


def _row(path: Path, rowid: int, row: Sequence[Any]) -> RequestRow:
    start, completed, latency, ttft, prompt, completion, success, stream, itl, request = row
    where = f"{path}: row {rowid}"
    if not isinstance(start, float | int) or not isinstance(completed, float | int):
        raise UserError(f"{where}: start_time/completed_time missing")
    if success and None in (latency, ttft, prompt, completion):
        raise UserError(f"{where}: a successful request without latency, TTFT or token counts")
    try:
        gaps = tuple(float(g) for g in (json.loads(itl) if itl else []))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise UserError(f"{where}: inter_token_latencies is not a JSON list of numbers") from None
    return RequestRow(
        start_time=float(start),
        completed_time=float(completed),
        latency_s=_optional(latency, float),
        ttft_s=_optional(ttft, float),
        prompt_tokens=_optional(prompt, int),
        completion_tokens=_optional(completion, int),
        success=bool(success),
        request_sha=request_sha(request),
        stream=bool(stream),
        itl_s=gaps,
    )


def _connect(db: Path, timeout: float = 5.0) -> sqlite3.Connection:
    return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)


def read_requests(level_dir: Path) -> list[RequestRow]:
    """Every measured request of a level folder (warm-up excluded, as evalscope stores
    none), in the order evalscope recorded them (completion order)."""
    path = level_dir / DB_FILE
    if not path.is_file():
        raise UserError(f"{path}: missing (not an evalscope level folder, or the run died early)")
    try:
        with closing(_connect(path)) as con:
            rows = con.execute(
                f"SELECT rowid, {', '.join(_COLUMNS)} FROM result ORDER BY rowid"
            ).fetchall()
    except sqlite3.Error as exc:
        raise UserError(f"{path}: unreadable evalscope database ({exc})") from None
    return [_row(path, row[0], row[1:]) for row in rows]


def count_rows(level_dir: Path) -> tuple[int, int]:
    """(finished, failed) requests committed so far in a running level's folder; (0, 0)
    while the database does not exist or cannot be read yet (evalscope creates it and its
    table only once the first request finishes, and may hold a lock a moment)."""
    db = level_dir / DB_FILE
    if not db.exists():
        return 0, 0
    try:
        # A short timeout: a progress poll must not stall behind evalscope's commit.
        with closing(_connect(db, timeout=0.2)) as con:
            done, ok = con.execute(
                "SELECT COUNT(*), COALESCE(SUM(success), 0) FROM result"
            ).fetchone()
    except sqlite3.Error:
        return 0, 0
    return int(done), int(done) - int(ok)
