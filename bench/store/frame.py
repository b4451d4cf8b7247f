"""The tidy frame of many runs: one row per run × level × repeat × metric.

`load_runs` reads it from a folder of run.json files (no database needed) or from the
store; both build it from the same rows (bench.store.rows), so they give the same frame.
`vlm-bench export` writes it (bench/store/export.py, formats.py). pandas is imported
only when a frame is made: indexing at the end of a run does not need it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.schema.results import RunResult
from bench.schema.runfile import read_run
from bench.schema.tidy import COLUMNS, DTYPES
from bench.store.db import Store, StoreError, open_store, reading, reason, target
from bench.store.index import find_runs, settled
from bench.store.rows import LEVEL_FIELDS, METRIC_KEYS, RUN_FIELDS, run_rows
from bench.store.tables import LEVEL_METRICS, LEVELS, RUNS
from bench.store.typed import BadValue, check_run_dir, checked_rows

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def load_runs(db_or_dir: str | Path) -> pd.DataFrame:
    """Every run under a folder (its run.json files, read directly; a bad one is logged and
    skipped) or in a store (a database URL, or a SQLite file), as the tidy frame."""
    text = str(db_or_dir)
    if not text.strip():
        raise UserError("load_runs: empty path; give a folder of runs, a store file or a URL")
    path = Path(text)
    if not _URL.match(text) and (path.is_dir() or path.name == "run.json"):
        return frame(*_rows_from_folder(path))
    return frame(*_rows_from_store(text))


def load_store(url_or_path: str | Path | None = None) -> pd.DataFrame:
    """Every run in a store (None: VLM_BENCH_DB, else reports/vlm-bench.db) as the tidy
    frame. Unlike `load_runs`, a folder is never read as run folders: `--db DIR` is an
    error naming it."""
    return frame(*_rows_from_store(url_or_path))


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _rows_from_folder(path: Path) -> Rows:
    runs = []
    for run_file in find_runs(path):
        try:
            runs.append((read_run(run_file), run_file.parent))
        except UserError as exc:
            log.warning("skipped: %s", exc)
    return _rows(runs)


def runs_frame(runs: Iterable[tuple[RunResult, Path]]) -> pd.DataFrame:
    """The tidy frame of runs already read, each with its folder."""
    return frame(*_rows(runs))


def _rows(runs: Iterable[tuple[RunResult, Path]]) -> Rows:
    out: Rows = ([], [], [])
    for key, (run, run_dir) in enumerate(runs):
        rows = run_rows(run, run_dir)
        rows.run.update(settled(run, run_dir))  # as indexing stores it
        out[0].append({**rows.run, "key": key})
        out[1].extend({**lv, "key": key} for lv in rows.levels)
        out[2].extend({**m, "key": key} for m in rows.metrics)
    return out


def _rows_from_store(url_or_path: str | Path | None) -> Rows:
    with open_store(url_or_path, must_exist=True) as store:
        try:
            return _query(store)
        except BadValue as exc:
            raise StoreError(
                f"{store.label}: {exc} (a tampered or foreign store: rebuild it from the run "
                "folders with `vlm-bench db index --db NEW`)"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            why = reason(exc, target(url_or_path))
            raise StoreError(f"{store.label}: cannot read: {why}") from None


def _query(store: Store) -> Rows:
    """The runs, levels and metrics rows, every value checked against its column, read
    in one transaction (an indexer committing meanwhile is not half seen)."""
    with reading(store.engine) as conn:
        runs = checked_rows(conn, RUNS, ("id", *RUN_FIELDS), lambda r: f"id {r['id']}")
        for run in runs:
            check_run_dir(run)
        named = {r["id"]: r["run_dir"] for r in runs}

        def run_of(row: dict[str, Any]) -> str:
            return str(named.get(row["run_key"], f"key {row['run_key']} (not in runs)"))

        levels = checked_rows(conn, LEVELS, ("run_key", "position", *LEVEL_FIELDS), run_of)
        metrics = checked_rows(
            conn, LEVEL_METRICS, ("run_key", "position", "metric", "value"), run_of
        )
    return (
        [{**_renamed(r, "id"), "key": r["id"]} for r in runs],
        [{**_renamed(r, "run_key"), "key": r["run_key"]} for r in levels],
        [{**_renamed(r, "run_key"), "key": r["run_key"]} for r in metrics],
    )


def _renamed(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


def frame(
    runs: list[dict[str, Any]], levels: list[dict[str, Any]], metrics: list[dict[str, Any]]
) -> pd.DataFrame:
    """The tidy frame from run, level and metric rows joined on `key` (and `position`)."""
    import pandas as pd

    run_df = pd.DataFrame(runs, columns=["key", *RUN_FIELDS]).rename(
        columns={"status": "run_status"}
    )
    level_df = pd.DataFrame(levels, columns=["key", "position", *LEVEL_FIELDS]).rename(
        columns={"index": "level_index", "status": "level_status"}
    )
    metric_df = pd.DataFrame(metrics, columns=["key", "position", "metric", "value"])
    out = metric_df.merge(level_df, on=["key", "position"]).merge(run_df, on="key")
    order = {k: i for i, k in enumerate(METRIC_KEYS)}
    out["_metric"] = out["metric"].map(order).fillna(len(order))
    out = out.sort_values(["run_dir", "position", "_metric", "metric"], kind="stable")
    return out[list(COLUMNS)].astype(DTYPES).reset_index(drop=True)
