"""Per-request records across runs: each run's requests.parquet read back, indexed into the
store's `requests` table, and `load_requests`, the pandas frame of them (docs/store.md).

The frame is the same from a folder of runs and from the store (SQLite or PostgreSQL): the
run's `run_id`, `run_dir` and `scenario_name`, then bench/schema/requests.py's columns,
in run folder then file order. pyarrow reads the file without pandas, so indexing at the
end of a run does not import pandas.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.schema.requests import COLUMNS
from bench.schema.runfile import read_run
from bench.store.db import StoreError, open_store, reason
from bench.store.index import find_runs
from bench.store.requestrows import file_rows
from bench.store.rows import run_dir_key
from bench.store.tables import REQUESTS, RUNS

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

RUN_COLUMNS = ("run_id", "run_dir", "scenario_name")
FRAME_COLUMNS: dict[str, str] = {**dict.fromkeys(RUN_COLUMNS, "string"), **COLUMNS}


def load_requests(db_or_dir: str | Path) -> pd.DataFrame:
    """Every request of every run under a folder (read directly; a bad run is logged and
    skipped) or in a store (a database URL, or a SQLite file), as one frame."""
    text = str(db_or_dir)
    path = Path(text)
    if "://" not in text and (path.is_dir() or path.name == "run.json"):
        return requests_frame(_from_folder(path))
    return requests_frame(_from_store(text))


def _from_folder(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for run_file in find_runs(path):
        try:
            run = read_run(run_file)
            rows = file_rows(run_file.parent)
        except UserError as exc:
            log.warning("skipped: %s", exc)
            continue
        head = {
            "run_id": run.run_id,
            "run_dir": run_dir_key(run_file.parent),
            "scenario_name": run.scenario_name,
        }
        out += [{**head, **r} for r in rows]
    return out


def _from_store(url_or_path: str) -> list[dict[str, Any]]:
    with open_store(url_or_path, must_exist=True) as store:
        query = (
            sa.select(*(RUNS.c[c] for c in RUN_COLUMNS), *(REQUESTS.c[c] for c in COLUMNS))
            .join(RUNS, RUNS.c.id == REQUESTS.c.run_key)
            .order_by(RUNS.c.run_dir, REQUESTS.c.seq)
        )
        try:
            with store.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(query)]
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"{store.label}: cannot read: {reason(exc, url_or_path)}") from None


def gaps(value: Any) -> list[float]:
    """ITL gaps as a list of seconds, from the store's JSON text or the file's list."""
    if isinstance(value, str):
        value = json.loads(value)
    return [float(g) for g in value] if value is not None else []


def requests_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame of request rows (FRAME_COLUMNS), sorted by run folder, file order kept."""
    import pandas as pd

    data = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    # SQLite gives the UTC times back without their zone: they are UTC all the same.
    data["sent_at"] = pd.to_datetime(data["sent_at"], utc=True)
    data["itl_s"] = pd.Series([gaps(v) for v in data["itl_s"]], index=data.index, dtype=object)
    data = data.astype(FRAME_COLUMNS)
    return data.sort_values("run_dir", kind="stable").reset_index(drop=True)
