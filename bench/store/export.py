"""`vlm-bench export`'s table: the tidy frame of runs (`--what levels`) or their
per-request records (`--what requests`), from a folder of runs or a store, with its
timestamps as timezone-aware datetimes, ready for any registered format
(bench/store/formats.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import UserError
from bench.store.frame import load_runs
from bench.store.requests import load_requests

if TYPE_CHECKING:
    import pandas as pd

# What `--what` names: the loader of each table.
TABLES: dict[str, Callable[[str | Path], pd.DataFrame]] = {
    "levels": load_runs,
    "requests": load_requests,
}
# ISO 8601 text columns of the tables that are points in time.
TIMESTAMPS = ("started_at", "ended_at", "finished_at", "indexed_at", "sent_at")


def with_times(data: pd.DataFrame) -> pd.DataFrame:
    """`data` with its TIMESTAMPS columns as UTC datetimes (a time without a zone is
    taken as UTC; missing stays missing, and so does text that is no time)."""
    import pandas as pd

    out = data.copy()
    for column in TIMESTAMPS:
        if column in out.columns:
            # A value that is no time (a hand-edited run.json) is missing, not a traceback.
            out[column] = pd.to_datetime(out[column], utc=True, format="ISO8601", errors="coerce")
    return out


def export_table(source: str | Path, what: str = "levels") -> pd.DataFrame:
    """The table `what` ("levels" or "requests") of every run in `source` (a folder of
    runs, a SQLite file or a database URL)."""
    try:
        load = TABLES[what]
    except KeyError:
        raise UserError(f"--what {what!r}: must be one of {', '.join(TABLES)}") from None
    return with_times(load(source))
