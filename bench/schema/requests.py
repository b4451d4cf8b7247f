"""Per-request records: one `RequestRecord` per measured request of a run, kept in the run
folder as `requests.parquet` (bench/measure/records.py), in the store's `requests` table
(bench/store/requests.py) and exported with `vlm-bench export --what requests`.

The record keeps the raw values the level's figures are computed from
(bench/schema/figures.py), so the figures can be recomputed from the records alone:
`figures_of` does it with the same formulas as the evalscope parser. `start_s` and
`end_s` are on the run's monotonic clock (evalscope's `time.perf_counter`, every load
worker's rows shifted onto it): only their differences mean anything; `sent_at` is the same
instant as a timezone-aware UTC time.

Column names and types are defined once here (`COLUMNS`): the Parquet file, the table and
the loaded frame all use them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bench.schema.figures import Timed, level_figures, tpot, wall_time

REQUESTS_FILE = "requests.parquet"  # in the run folder
OK = "ok"
FAILED = "failed"


@dataclass(frozen=True)
class RequestRecord:
    """One measured request (warm-up requests are not measured, so never recorded).

    `level_index`, `repeat`: the level it belongs to (run.json's `index`, `repeat`);
    `worker`: the load worker that sent it (1 without workers); `round`: its round under
    `sweep.stop` (1 otherwise). Latency, TTFT, TPOT and token counts are None for a failed
    request (evalscope records none); `tpot_s` is None for a request with at most one
    output token. Token counts are the server's (its `usage`). `error` is the failure's text
    where the load generator kept one (evalscope 1.14 keeps none: None).
    """

    level_index: int
    repeat: int
    worker: int
    round: int
    sent_at: datetime
    start_s: float
    end_s: float
    ttft_s: float | None
    tpot_s: float | None
    itl_s: tuple[float, ...]
    latency_s: float | None
    prompt_tokens: int | None
    output_tokens: int | None
    stream: bool
    status: str  # OK or FAILED
    error: str | None = None
    request_sha: str | None = None

    def row(self) -> dict[str, Any]:
        """The record as a table row (COLUMNS): ITL gaps as a list."""
        out = asdict(self)
        out["itl_s"] = list(self.itl_s)
        return out


# Column -> pandas dtype, in order (the Parquet file's and the frame's columns).
COLUMNS: dict[str, str] = {
    "level_index": "int64",
    "repeat": "int64",
    "worker": "int64",
    "round": "int64",
    "sent_at": "datetime64[us, UTC]",
    "start_s": "float64",
    "end_s": "float64",
    "ttft_s": "float64",
    "tpot_s": "float64",
    "itl_s": "object",  # a list of seconds (Parquet: list<double>; the store: JSON text)
    "latency_s": "float64",
    "prompt_tokens": "Int64",
    "output_tokens": "Int64",
    "stream": "bool",
    "status": "string",
    "error": "string",
    "request_sha": "string",
}


def record_tpot(latency_s: float | None, ttft_s: float | None, tokens: int | None) -> float | None:
    """`figures.tpot` for a record's optional values."""
    if latency_s is None or ttft_s is None or tokens is None:
        return None
    return tpot(latency_s, ttft_s, tokens)


def figures_of(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """A level's figures (bench/schema/figures.py `level_figures`) from its records as
    row dicts (COLUMNS; `itl_s` a JSON list or a sequence), exactly as the parser computes
    them from evalscope's rows."""
    ok = [
        Timed(
            latency_s=float(r["latency_s"]),
            ttft_s=float(r["ttft_s"]),
            prompt_tokens=int(r["prompt_tokens"]),
            output_tokens=int(r["output_tokens"]),
            stream=bool(r["stream"]),
            itl_s=_gaps(r["itl_s"]),
        )
        for r in rows
        if r["status"] == OK
    ]
    return level_figures(ok, wall_time((r["start_s"], r["end_s"]) for r in rows))


def _gaps(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        value = json.loads(value) if value else []
    return tuple(float(g) for g in value) if isinstance(value, Iterable) else ()
