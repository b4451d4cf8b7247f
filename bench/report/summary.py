"""Machine-readable summaries for `--json` (run, gate, compare): plain dicts built from the
library's result objects, with no formula of their own, ready for `json.dumps`.

Numbers are the ones run.json, the gate and the comparison already hold; a value that is
not finite (NaN, inf) becomes null so that the output stays strict JSON.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.analyze import precision
from bench.analyze.gate import Cell, GateResult
from bench.analyze.sequential import CellLook
from bench.analyze.validity import trust
from bench.report.compare import Comparison
from bench.report.console import trusted_line
from bench.report.precision import precision_summary
from bench.schema.metrics import BY_KEY, METRICS, Better
from bench.schema.results import LevelResult, LoadPoint, RunResult, has_metric, point_label


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def level_summary(level: LevelResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "parallel": level.parallel,
        "number": level.number,
        "repeat": level.repeat,
        "status": level.status,
        "reason": level.reason,
        "succeeded": level.succeeded,
        "failed": level.failed,
    }
    for metric in METRICS:
        out[metric.key] = _number(level.value(metric.key))
    out["wrong_length"] = level.wrong_length
    out["checks_flagged"] = level.flags
    if level.client.ttft_error_s is not None:  # only calibrated levels (load.calibrate)
        out["client_ttft_error_s"] = level.client.ttft_error_s
        out["client_tpot_error_s"] = level.client.tpot_error_s
    out.update(precision_summary(level))  # only levels measured with it
    return out


def run_summary(run: RunResult, run_dir: Path) -> dict[str, Any]:
    """run → {run_dir, run_id, status, reason, levels (one per repeat), incidents, trust}."""
    return {
        "run_dir": str(run_dir),
        "run_id": run.run_id,
        "status": run.status,
        "reason": run.reason,
        "levels": [level_summary(level) for level in run.levels],
        "incidents": [inc.to_dict() for inc in run.incidents],
        **_trust(run),
    }


def _trust(run: RunResult) -> dict[str, Any]:
    """{trust: {judged, trusted, flagged: {check: [parallel…]}, line}}; nothing for a run
    whose levels carry no checks (a published table)."""
    got = trust(run.levels)
    if got is None:
        return {}
    flagged = {name: [lv.parallel for lv in levels] for name, levels in got.flagged.items()}
    return {
        "trust": {
            "judged": got.judged,
            "trusted": got.trusted,
            "flagged": flagged,
            "line": trusted_line(run.levels),
        }
    }


def _point(parallel: int, rate: float | None) -> dict[str, Any]:
    """A cell's load point: `parallel`, and `rate` only for a rate sweep's level (so a
    concurrency sweep's output keeps its bytes)."""
    return {"parallel": parallel} if rate is None else {"parallel": parallel, "rate": rate}


def _change_ci(cell: Cell) -> list[float] | None:
    """The change's 95 % CI over repeats (analyze.precision.change_interval)."""
    higher = BY_KEY[cell.key].better is Better.HIGHER
    got = precision.change_interval(cell.base, cell.cand, higher)
    return None if got is None else [got[0], got[1]]


def sequential_summary(verdict: str, looks: int, cells: list[CellLook]) -> dict[str, Any]:
    """gate --adaptive → {verdict, looks, cells: [{parallel, metric, decision, worse,
    lower, upper}]}."""
    return {
        "verdict": verdict,
        "looks": looks,
        "cells": [
            _point(c.parallel, c.rate)
            | {
                "metric": c.key,
                "decision": c.look.decision,
                "worse": _number(c.look.worse),
                "lower": _number(c.look.lower),
                "upper": _number(c.look.upper),
            }
            for c in cells
        ],
    }


def gate_summary(result: GateResult, strict: bool) -> dict[str, Any]:
    """gate → {verdict, exit_code, summary, counts, mismatches, cells}."""
    return {
        "verdict": result.verdict(),
        "exit_code": result.exit_code(strict),
        "summary": result.summary(),
        "alpha": result.alpha,
        "levels": result.levels,
        "counts": {
            v: result.count(v)
            for v in ("OK", "REGRESSION", "SUSPECT", "NOISY", "FAILED", "NO DATA")
        },
        "mismatches": result.mismatches,
        "cells": [
            _point(cell.parallel, cell.rate)
            | {
                "metric": cell.key,
                "verdict": cell.verdict,
                "worse": _number(cell.worse),
                "worse_ci": _change_ci(cell),
                "p": _number(cell.p),
                "cv": _number(cell.cv),
                "baseline": [_number(v) for v in cell.base],
                "candidate": [_number(v) for v in cell.cand],
                "detail": cell.detail,
            }
            for cell in result.cells
        ],
    }


def _value(comparison: Comparison, run: RunResult, point: LoadPoint, key: str) -> Any:
    level = comparison.level(run, point)
    if level is None or not level.measured or not has_metric(run, key):
        return None
    return _number(level.value(key))


def compare_summary(comparison: Comparison) -> dict[str, Any]:
    """compare → {runs, levels, headline, changes: {metric: {point: [Δ% per later run]}},
    values: {metric: {point: [value per run]}}}; repeated levels by their medians, as in
    the comparison's tables (a time-scaled simulator run in the modelled hardware's time).
    A point is its label (`8`, `64 @ 2 req/s`); `levels` the points' concurrencies, and
    `rates` beside it (aligned) only when a point has a rate."""
    values: dict[str, dict[str, list[Any]]] = {}
    changes: dict[str, dict[str, list[Any]]] = {}
    for metric in METRICS:
        key = metric.key
        values[key] = {
            point_label(point): [_value(comparison, run, point, key) for run in comparison.runs]
            for point in comparison.levels
        }
        changes[key] = {
            point_label(point): [
                _number(comparison.change(k, key, point)) for k in range(1, len(comparison.runs))
            ]
            for point in comparison.levels
        }
    rates = [rate for _, rate in comparison.levels]
    return {
        "runs": [run.run_id for run in comparison.runs],
        "levels": [parallel for parallel, _ in comparison.levels],
        **({"rates": rates} if any(r is not None for r in rates) else {}),
        "headline": comparison.headline(),
        "mismatches": comparison.mismatches,
        "values": values,
        "changes": changes,
    }
