"""A run's requests.parquet read back as rows (pyarrow, no pandas) and inserted into the
store's `requests` table when the run is indexed (bench/store/index.py). The frame of them
across runs is bench/store/requests.py's `load_requests`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.schema.requests import COLUMNS, REQUESTS_FILE
from bench.store.tables import REQUESTS


def file_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of `run_dir`'s requests.parquet (COLUMNS); [] when it has none. UserError
    naming the file when it is not a readable Parquet file."""
    path = run_dir / REQUESTS_FILE
    if not path.is_file():
        return []
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: unreadable requests file ({exc})") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise UserError(f"{path}: not a requests file (no column {missing[0]!r})")
    return [{k: row[k] for k in COLUMNS} for row in table.select(list(COLUMNS)).to_pylist()]


def insert_requests(conn: sa.Connection, key: int, run_dir: Path) -> None:
    """The requests of the run indexed as `key`, from its folder's requests.parquet (none:
    nothing to insert)."""
    rows = file_rows(run_dir)
    if rows:
        conn.execute(
            sa.insert(REQUESTS),
            [
                {**r, "itl_s": json.dumps(list(r["itl_s"] or [])), "run_key": key, "seq": i}
                for i, r in enumerate(rows)
            ],
        )
