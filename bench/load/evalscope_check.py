"""evalscope's own figures (`benchmark_summary.json`, `benchmark_percentile.json`) as a
cross-check of ours: every figure is recomputed from the raw rows (bench/load/result.py
`row_figures`, with evalscope 1.14.1's definitions, bench/schema/figures.py), and a
disagreement beyond evalscope's rounding is noted in the level's diagnostics, never fatal.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.load.evalscope_db import PERCENTILE_FILE, SUMMARY_FILE
from bench.load.result import RequestRow, row_figures

log = logging.getLogger(__name__)


def _load_json(path: Path) -> Any:
    """Parsed JSON; None when the file is absent; UserError when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable ({exc})") from None
    try:
        # evalscope writes bare NaN (not strict JSON) for metrics without values;
        # Python's json module accepts it.
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


# (evalscope key, LevelResult field, factor to evalscope's unit, decimals evalscope keeps)
_SUMMARY_ALWAYS = (
    ("Req Throughput (req/s)", "rps", 1.0, 4),
    ("Output Throughput (tok/s)", "output_tok_s", 1.0, 4),
    ("Total Throughput (tok/s)", "total_tok_s", 1.0, 4),
    ("Test Duration (s)", "duration_s", 1.0, 4),
)
# Without a successful request evalscope writes -1 sentinels (-1000 in ms) here.
_SUMMARY_IF_SUCCESS = (
    ("Avg Latency (s)", "latency_avg_s", 1.0, 4),
    ("Avg Input Tokens", "input_tokens_avg", 1.0, 4),
    ("Avg Output Tokens", "output_tokens_avg", 1.0, 4),
    ("Avg TTFT (ms)", "ttft_avg_s", 1000.0, 2),
    ("Avg TPOT (ms)", "tpot_avg_s", 1000.0, 2),
    ("Avg ITL (ms)", "itl_avg_s", 1000.0, 2),
)
_PERCENTILES = (
    ("50%", "Latency (s)", "latency_p50_s", 1.0),
    ("90%", "Latency (s)", "latency_p90_s", 1.0),
    ("99%", "Latency (s)", "latency_p99_s", 1.0),
    ("50%", "TTFT (ms)", "ttft_p50_s", 1000.0),
    ("99%", "TTFT (ms)", "ttft_p99_s", 1000.0),
    ("50%", "TPOT (ms)", "tpot_p50_s", 1000.0),
    ("99%", "TPOT (ms)", "tpot_p99_s", 1000.0),
)


def _differs(ours: float, theirs: Any, decimals: int) -> str | None:
    """A note when evalscope's rounded figure is not ours rounded; None when it agrees or
    either side has no value (NaN, missing)."""
    if not isinstance(theirs, float | int) or not math.isfinite(theirs) or math.isnan(ours):
        return None
    if abs(ours - theirs) <= 0.5 * 10.0**-decimals + 1e-9 * max(1.0, abs(theirs)):
        return None
    return f"ours {ours:.{decimals + 2}f}, evalscope {theirs}"


def _summary_mismatches(
    summary: dict[str, Any], figures: dict[str, float], succeeded: int, failed: int
) -> list[str]:
    notes = [
        f"{key}: ours {ours}, evalscope {summary.get(key)}"
        for key, ours in (
            ("Total Requests", succeeded + failed),
            ("Success Requests", succeeded),
            ("Failed Requests", failed),
        )
        if summary.get(key) != ours
    ]
    checks = _SUMMARY_ALWAYS + (_SUMMARY_IF_SUCCESS if succeeded else ())
    for key, name, factor, decimals in checks:
        if (note := _differs(figures[name] * factor, summary.get(key), decimals)) is not None:
            notes.append(f"{key}: {note}")
    return notes


def _percentile_mismatches(rows: list[Any], figures: dict[str, float]) -> list[str]:
    by_label = {row.get("Percentiles"): row for row in rows if isinstance(row, dict)}
    notes = []
    for label, key, name, factor in _PERCENTILES:
        theirs = by_label.get(label, {}).get(key)
        # evalscope rounds each percentile to 4 decimals in the file's unit.
        if (note := _differs(figures[name] * factor, theirs, 4)) is not None:
            notes.append(f"{label} {key}: {note}")
    return notes


def cross_check(level_dir: Path, rows: Sequence[RequestRow]) -> dict[str, str]:
    """Our figures from `rows` against evalscope's own files in `level_dir`: the
    disagreements, by `LevelResult.diagnostics` field."""
    figures = row_figures(rows)
    succeeded = sum(1 for r in rows if r.success)
    out: dict[str, str] = {}
    summary = _load_json(level_dir / SUMMARY_FILE)
    if summary is None:
        out["summary_check"] = f"{SUMMARY_FILE} missing: not cross-checked"
    elif not isinstance(summary, dict):
        raise UserError(f"{level_dir / SUMMARY_FILE}: not an evalscope summary (no JSON object)")
    elif notes := _summary_mismatches(summary, figures, succeeded, len(rows) - succeeded):
        out["summary_mismatch"] = "; ".join(notes)
    try:
        percentiles = _load_json(level_dir / PERCENTILE_FILE)
    except UserError as exc:
        # evalscope skips or mangles this file in corner cases; the db is what counts.
        out["percentile_check"] = str(exc)
        return out
    if not isinstance(percentiles, list):
        out["percentile_check"] = f"{PERCENTILE_FILE} missing or not a list"
    elif notes := _percentile_mismatches(percentiles, figures):
        out["percentile_mismatch"] = "; ".join(notes)
    for key in ("summary_mismatch", "percentile_mismatch"):
        if key in out:
            log.warning("%s: %s disagrees with evalscope: %s", level_dir, key, out[key])
    return out
