"""A run's per-request records: `RUN/requests.parquet`, brought up to date after every level.

`Records.sync(run)` rewrites the file (atomically) with one `RequestRecord` per request of
every level in run.json: read from the client's raw records where a level still has them
(evalscope's databases under its raw folder: one, one per load worker, or one per round of
`sweep.stop`), else kept from the file as it was. A level that is no
longer in the run (dropped by `--resume` to be measured again) loses its records. So an
interrupted run keeps the records of what it measured.

Then, unless the run keeps them (`vlm-bench run --keep-raw-db`), the databases just read
are deleted: they are most of a run folder's size, and the records hold every value the
figures are computed from (docs/store.md). Databases outside the levels' folders (an
earlier attempt set aside by a retry, client self-calibration) are left as they are.

The raw parts come through the load generator (bench/load/generator.py `raw_parts`):
worker rows shifted onto the run's clock by the offset the level stored; rounds keep their
own times (the level's figures join
the rounds end to end, the records say when each request really went out).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load import generator
from bench.load.result import RawPart, RequestRow
from bench.schema.requests import COLUMNS, FAILED, OK, REQUESTS_FILE, RequestRecord
from bench.schema.results import LevelResult, RunResult
from bench.store import formats
from bench.store.requestrows import file_rows

log = logging.getLogger(__name__)


def to_record(
    level: LevelResult, row: RequestRow, at: tuple[int, int], epoch: float
) -> RequestRecord:
    """`row` of `level` as a record; `at` = (worker, round); `epoch`: the wall-clock time
    of the monotonic clock's zero."""
    return RequestRecord(
        level_index=level.index,
        repeat=level.repeat,
        worker=at[0],
        round=at[1],
        sent_at=datetime.fromtimestamp(epoch + row.start_time, UTC),
        start_s=row.start_time,
        end_s=row.completed_time,
        ttft_s=row.ttft_s,
        tpot_s=row.tpot_s,
        itl_s=row.itl_s,
        latency_s=row.latency_s,
        prompt_tokens=row.prompt_tokens,
        output_tokens=row.completion_tokens,
        stream=row.stream,
        status=OK if row.success else FAILED,
        request_sha=row.request_sha,
    )


def read_level(level: LevelResult, parts: list[RawPart], epoch: float) -> list[RequestRecord]:
    """The records of `level`'s raw parts, in completion order; `epoch`: the wall-clock
    time of the monotonic clock's zero."""
    out = [to_record(level, r, (p.worker, p.round), epoch) for p in parts for r in p.rows]
    return sorted(out, key=lambda r: r.end_s)


def write_file(path: Path, rows: list[dict[str, Any]]) -> None:
    """`rows` as requests.parquet through the format registry, replaced atomically."""
    import pandas as pd

    data = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(formats.PARQUET.write(data))
        os.replace(tmp, path)
    except OSError:  # a full disk: no half-written file left beside the run's
        tmp.unlink(missing_ok=True)
        raise


class Records:
    """requests.parquet of `run` (its levels as they grow) in `run_dir`; `keep_raw`: leave
    evalscope's databases."""

    def __init__(self, run_dir: Path, run: RunResult, keep_raw: bool = False) -> None:
        self.path = run_dir / REQUESTS_FILE
        self.run_dir = run_dir
        self.run = run
        self.keep_raw = keep_raw

    def sync(self) -> None:
        """Rewrite the file for `run`'s levels (module docstring), then delete the
        databases read. OSError when the file cannot be written (nothing is deleted)."""
        kept: dict[tuple[int, int], list[dict[str, Any]]] = {}
        try:
            before = file_rows(self.run_dir)
        except UserError as exc:  # a damaged file: written anew from what is still there
            log.warning("%s", exc)
            before = []
        for row in before:
            kept.setdefault((row["level_index"], row["repeat"]), []).append(row)
        rows: list[dict[str, Any]] = []
        read: list[Path] = []
        epoch = time.time() - time.perf_counter()  # perf_counter: the monotonic clock
        for level in self.run.levels:
            try:
                parts = generator.raw_parts(self.run_dir, level)
            except UserError as exc:  # its records are lost, its database is kept
                log.warning("requests of level %d not recorded: %s", level.index, exc)
                parts = []
            fresh = [r.row() for r in read_level(level, parts, epoch)] if parts else None
            rows += kept.get((level.index, level.repeat), []) if fresh is None else fresh
            read += [f for p in parts for f in p.files]
        if not rows and not self.path.exists():
            return
        write_file(self.path, rows)
        if not self.keep_raw:
            for db in read:
                db.unlink(missing_ok=True)

    def sync_quietly(self) -> None:
        """`sync` at the end of a run, whatever happened: a failure is one warning."""
        try:
            self.sync()
        except Exception as exc:  # the run's own result must still be written
            log.warning("%s not written: %s: %s", self.path, type(exc).__name__, exc)
