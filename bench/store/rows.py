"""A run as the store's rows, and the tidy frame's rows: pure, no database, no pandas.

Both ways of reading runs (a folder of run.json files, or the store) go through the same
row dicts, so `bench.store.frame.load_runs` gives the same frame from either. Provenance
comes only from `bench.schema.results.provenance_columns`; the workload fingerprint from
`bench.analyze.compare.workload_fingerprint`, the one compare and gate judge runs by.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.analyze.compare import workload_fingerprint
from bench.schema.metrics import METRICS
from bench.schema.results import RunResult, has_metric, provenance_columns

# The figures of a level kept as metrics: the registry's, and the request counts.
METRIC_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys([*(m.key for m in METRICS), "succeeded", "failed", "success_rate"])
)

# The runs columns the tidy frame shows, in its order (the store's names).
RUN_FIELDS = (
    "run_id",
    "run_dir",
    "scenario_name",
    "scenario_hash",
    "workload_fingerprint",
    "hardware",
    "backend",
    "model",
    "status",
    "host",
    "started_at",
    "ended_at",
    "commit",
    "dirty",
    "server_version",
    "evalscope",
    "vlm_bench",
    "accelerators",
    "published",
)
LEVEL_FIELDS = ("index", "parallel", "number", "repeat", "status", "trusted")


@dataclass
class RunRows:
    """One run's rows: `run` for the runs table, and its levels, metrics and checks, each
    naming its level by `position` (its place in run.json's levels)."""

    run: dict[str, Any]
    levels: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)


def file_digest(data: bytes) -> str:
    """The content digest that makes re-indexing an unchanged run.json a no-op."""
    return hashlib.sha256(data).hexdigest()


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_dir_key(run_dir: Path) -> str:
    """How a run folder is named in the store and the frame: absolute, resolved."""
    return run_dir.resolve().as_posix()


def _finite_or_none(value: float) -> float | None:
    """NaN (a figure no request defined) is NULL: SQLite cannot keep NaN."""
    return value if math.isfinite(value) else None


def run_rows(
    run: RunResult, run_dir: Path, digest: str = "", schema_version: int | None = None
) -> RunRows:
    """The rows of `run`, stored in `run_dir`. `schema_version`: the file's own version
    (an older run.json is upgraded on reading); the run's when not given."""
    prov = provenance_columns(run)
    head = {
        "run_id": run.run_id,
        "run_dir": run_dir_key(run_dir),
        "scenario_name": run.scenario_name,
        "scenario_hash": run.scenario_hash,
        "workload_fingerprint": workload_fingerprint(run),
        "hardware": run.scenario.hardware,
        "backend": run.scenario.backend,
        "model": run.scenario.model.served_name,
        "status": str(run.status),
        "reason": run.reason,
        **{k: prov[k] for k in RUN_FIELDS if k in prov},
        "published": bool(prov["published"]),
        "schema_version": run.schema_version if schema_version is None else schema_version,
        "digest": digest,
        "indexed_at": now_utc(),
    }
    out = RunRows(head)
    keys = [k for k in METRIC_KEYS if has_metric(run, k)]
    for position, lv in enumerate(run.levels):
        out.levels.append(
            {
                "position": position,
                "index": lv.index,
                "parallel": lv.parallel,
                "number": lv.number,
                "repeat": lv.repeat,
                "status": str(lv.status),
                "reason": lv.reason,
                "trusted": bool(lv.trusted),
                "started_at": lv.started_at,
                "finished_at": lv.finished_at,
            }
        )
        out.metrics += [
            {"position": position, "metric": k, "value": _finite_or_none(lv.value(k))} for k in keys
        ]
        out.checks += [
            {
                "position": position,
                "seq": seq,
                "name": c.name,
                "status": str(c.status),
                "detail": c.detail,
            }
            for seq, c in enumerate(lv.checks)
        ]
    return out
