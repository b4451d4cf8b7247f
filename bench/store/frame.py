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
from bench.store.db import Store, StoreError, open_store, reason
from bench.store.index import find_runs
from bench.store.rows import LEVEL_FIELDS, METRIC_KEYS, RUN_FIELDS, run_rows
from bench.store.tables import LEVEL_METRICS, LEVELS, RUNS

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def load_runs(db_or_dir: str | Path) -> pd.DataFrame:
    """Every run under a folder (its run.json files, read directly; a bad one is logged and
    skipped) or in a store (a database URL, or a SQLite file), as the tidy frame."""
    text = str(db_or_dir)
    path = Path(text)
    if not _URL.match(text) and (path.is_dir() or path.name == "run.json"):
        return frame(*_rows_from_folder(path))
    return frame(*_rows_from_store(text))


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
        out[0].append({**rows.run, "key": key})
        out[1].extend({**lv, "key": key} for lv in rows.levels)
        out[2].extend({**m, "key": key} for m in rows.metrics)
    return out


def _rows_from_store(url_or_path: str) -> Rows:
    with open_store(url_or_path, must_exist=True) as store:
        try:
            return _query(store)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"{store.label}: cannot read: {reason(exc, url_or_path)}") from None


def _query(store: Store) -> Rows:
    with store.engine.connect() as conn:
        runs = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(RUNS.c.id.label("key"), *(RUNS.c[c] for c in RUN_FIELDS))
            )
        ]
        levels = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    LEVELS.c.run_key.label("key"),
                    LEVELS.c.position,
                    *(LEVELS.c[c] for c in LEVEL_FIELDS),
                )
            )
        ]
        metrics = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    LEVEL_METRICS.c.run_key.label("key"),
                    LEVEL_METRICS.c.position,
                    LEVEL_METRICS.c.metric,
                    LEVEL_METRICS.c.value,
                )
            )
        ]
    return runs, levels, metrics


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
