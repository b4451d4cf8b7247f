"""The tidy frame's shape: one row per run × level × repeat × metric (docs/store.md).

Defined here, below both its producer (bench.store.frame: `load_runs`, `export`) and its
readers (bench.analyze.history, the dashboard), so there is one list of its columns.
"""

from __future__ import annotations

# The columns and their pandas types, in order.
_TEXT = "string"
DTYPES: dict[str, str] = {
    **dict.fromkeys(("run_id", "run_dir", "scenario_name", "scenario_hash"), _TEXT),
    "workload_fingerprint": _TEXT,  # <NA>: a run without a `workload:` section
    **dict.fromkeys(("hardware", "backend", "model", "run_status", "host"), _TEXT),
    **dict.fromkeys(("started_at", "ended_at", "commit"), _TEXT),
    "dirty": "boolean",  # unknown (not a git checkout): <NA>
    **dict.fromkeys(("server_version", "evalscope", "vlm_bench", "accelerators"), _TEXT),
    "published": "bool",
    **dict.fromkeys(("level_index", "parallel", "number", "repeat"), "int64"),
    "level_status": _TEXT,
    "trusted": "bool",
    "metric": _TEXT,
    "value": "float64",  # NaN: a figure no request defined
}
COLUMNS: tuple[str, ...] = tuple(DTYPES)
