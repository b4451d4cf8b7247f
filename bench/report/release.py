"""`vlm-bench release-table`: one table across runs (hardware × backend × version), with
each run's capacity: the level of maximum RPS, the knee, and the largest concurrency that
meets the scenario's SLO (for a rate sweep: the highest arrival rate, and no knee).

Only levels measured in full count (not failed, not partial, output lengths honoured, no
validity check flagged).
Knee: the first level whose P99 TPOT exceeds `knee` (default 1.1) times the concurrency-1
level's — where adding load starts to slow every stream down. SLO: `slo.ttft_p99_s` and
`slo.tpot_p99_s` of the run's scenario, both met (a level failing either does not count).

The same rows three ways: markdown (`render`, a missing key shown as "—"), CSV (`csv_text`)
and JSON (`json_summary`), where a missing key or a value that is not a finite number is an
empty cell or null: never a display dash a script would have to know about.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Any

from bench.analyze.compare import run_label
from bench.errors import UserError
from bench.report.markdown import level_row, reference_header
from bench.report.tables import markdown_table, template
from bench.schema.metrics import REFERENCE_COLUMNS
from bench.schema.results import (
    LevelResult,
    RunResult,
    aggregate,
    by_level,
    load_point,
    median_level,
    point_order,
    server_version,
)

# The fields a table's runs are grouped by (`--by`): column title and the run's value, ""
# when the run does not say.
BY: dict[str, tuple[str, Callable[[RunResult], str]]] = {
    "hardware": ("Hardware", lambda run: run.scenario.hardware),
    "backend": ("Backend", lambda run: run.scenario.backend),
    # Regression: this read provenance["server_version"], which nothing writes, so the
    # column was always "—"; the version is the server's /version answer.
    "version": ("Version", lambda run: server_version(run) or ""),
    "scenario": ("Scenario", lambda run: run.scenario_name),
    "run": ("Run", run_label),
    "model": ("Model", lambda run: run.scenario.model.served_name),
}
MISSING = "—"  # a missing key in the markdown table only


def keys(run: RunResult, by: list[str]) -> list[str]:
    """The run's values of the `by` fields, "" where it has none."""
    return [BY[f][1](run) for f in by]


def parse_by(text: str) -> list[str]:
    fields = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in fields if f not in BY]
    if unknown or not fields:
        raise UserError(f"--by {text!r}: allowed fields are {', '.join(BY)} (comma-separated)")
    return fields


# The figures a capacity claim compares: a level with any of them NaN or infinite has no
# data for it and cannot carry the claim.
_JUDGED = ("rps", "ttft_p99_s", "tpot_p99_s")


def _trusted(levels: list[LevelResult]) -> list[LevelResult]:
    """Levels that can carry a capacity claim: measured in full (a partial level's
    figures cover only the requests that finished, even in runs recorded before partial
    levels were flagged), every output length honoured (a truncating server's RPS and
    TPOT are not the workload's), no validity check flagged."""
    ok = [
        lv
        for lv in levels
        if lv.trusted and lv.status == "ok" and all(math.isfinite(lv.value(k)) for k in _JUDGED)
    ]
    return sorted(ok, key=lambda lv: point_order(load_point(lv)))


def knee(levels: list[LevelResult], factor: float) -> int | None:
    """The first concurrency whose P99 TPOT exceeds `factor` × concurrency 1's (closed
    loop only: a rate sweep's levels have no knee)."""
    trusted = [lv for lv in _trusted(levels) if lv.rate is None]
    base = next((lv for lv in trusted if lv.parallel == 1), None)
    if base is None:
        return None
    return next(
        (
            lv.parallel
            for lv in trusted
            if lv.parallel > 1 and lv.tpot_p99_s > factor * base.tpot_p99_s
        ),
        None,
    )


def _meeting(
    levels: list[LevelResult], ttft_p99_s: float | None, tpot_p99_s: float | None
) -> list[LevelResult]:
    return [
        lv
        for lv in _trusted(levels)
        if (ttft_p99_s is None or lv.ttft_p99_s <= ttft_p99_s)
        and (tpot_p99_s is None or lv.tpot_p99_s <= tpot_p99_s)
    ]


def slo_capacity(
    levels: list[LevelResult], ttft_p99_s: float | None, tpot_p99_s: float | None
) -> int | None:
    """The largest concurrency meeting every SLO bound given (None if none does)."""
    meeting = [lv.parallel for lv in _meeting(levels, ttft_p99_s, tpot_p99_s)]
    return max(meeting) if meeting else None


def slo_rate(
    levels: list[LevelResult], ttft_p99_s: float | None, tpot_p99_s: float | None
) -> float | None:
    """A rate sweep's highest arrival rate meeting every SLO bound given (None if none)."""
    meeting = [lv.rate for lv in _meeting(levels, ttft_p99_s, tpot_p99_s) if lv.rate is not None]
    return max(meeting) if meeting else None


def _knee_part(trusted: list[LevelResult], levels: list[LevelResult], factor: float) -> str:
    base = next((lv for lv in trusted if lv.parallel == 1), None)
    if base is None:
        return "knee: no concurrency-1 level to compare with"
    at = knee(levels, factor)
    limit = f"P99 TPOT > {factor:g} × {base.tpot_p99_s:.3f} s"
    top = trusted[-1].parallel
    return f"knee ({limit}) at {at}" if at else f"no knee ({limit}) up to {top}"


def _slo_part(run: RunResult, levels: list[LevelResult], rated: bool) -> str:
    ttft, tpot = run.scenario.slo.ttft_p99_s, run.scenario.slo.tpot_p99_s
    if ttft is None and tpot is None:
        return "no SLO in the scenario"
    bounds = " and ".join(
        f"{name} ≤ {value:g} s"
        for name, value in (("P99 TTFT", ttft), ("P99 TPOT", tpot))
        if value is not None
    )
    if rated:
        rate = slo_rate(levels, ttft, tpot)
        top = f"{rate:g} req/s" if rate is not None else None
    else:
        conc = slo_capacity(levels, ttft, tpot)
        top = f"concurrency {conc}" if conc else None
    return f"SLO ({bounds}) met up to {top}" if top else f"SLO ({bounds}) met at no level"


def capacity_line(run: RunResult, factor: float) -> str:
    """Capacity from the run's levels (repeats folded into medians); a rate sweep's in
    arrival rates (its levels' caps in brackets), with no knee."""
    levels = aggregate(run.levels)
    trusted = _trusted(levels)
    if not trusted:
        return f"{run_label(run)}: no trusted level"
    best = max(trusted, key=lambda lv: lv.rps)
    rated = any(lv.rate is not None for lv in levels)
    at = (
        f"concurrency {best.parallel}"
        if best.rate is None
        else f"{best.rate:g} req/s (concurrency cap {best.parallel})"
    )
    parts = [f"max RPS {best.rps:.2f} at {at}"]
    if rated:
        parts.append("no knee (it is defined over concurrency, not arrival rate)")
    else:
        parts.append(_knee_part(trusted, levels, factor))
    parts.append(_slo_part(run, levels, rated))
    return f"{run_label(run)}: " + "; ".join(parts)


def rows(runs: list[RunResult], by: list[str]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows (reference-format cells) and footnotes of the release table; a rate
    sweep level's first cell is its load point (`64 @ 2 req/s`)."""
    header = [BY[f][0] for f in by] + reference_header([lv for run in runs for lv in run.levels])
    out, notes = [], []
    for run in runs:
        shown = [key or MISSING for key in keys(run, by)]
        for group in by_level(run.levels):
            cells, note = level_row(median_level(group), group)
            out.append(shown + cells)
            if note:
                notes.append(f"{run_label(run)}: {note}")
    return header, out, notes


def render(runs: list[RunResult], by: list[str], factor: float = 1.1) -> str:
    if not runs:
        raise UserError("release-table needs at least one run")
    header, body, notes = rows(runs, by)
    return template("release.md.j2").render(
        table=markdown_table(header, body),
        notes=notes,
        capacity=[capacity_line(run, factor) for run in runs],
        factor=factor,
        rated=any(lv.rate is not None for run in runs for lv in run.levels),
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def csv_text(runs: list[RunResult], by: list[str]) -> str:
    """The same rows, machine-readable: metric keys, seconds and rates, full precision; a
    `rate` column (arrivals per second, empty for a closed-loop level) after `parallel`
    only when a run has rate levels. A missing key or figure is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rated = any(lv.rate is not None for run in runs for lv in run.levels)
    load = ["parallel", "rate"] if rated else ["parallel"]
    writer.writerow([*by, *load, "status", *REFERENCE_COLUMNS, "tokens_honoured"])
    for run in runs:
        for row in _records(run, by, rated):
            writer.writerow(
                ["" if v is None else repr(v) if isinstance(v, float) else v for v in row.values()]
            )
    return out.getvalue()


def _records(run: RunResult, by: list[str], rated: bool) -> list[dict[str, Any]]:
    """One dict per level (repeats folded into medians): the CSV's and the JSON's rows."""
    records = []
    for lv in aggregate(run.levels):
        record: dict[str, Any] = dict(zip(by, keys(run, by), strict=True))
        record["parallel"] = lv.parallel
        if rated:
            record["rate"] = lv.rate
        record["status"] = lv.status
        record.update({k: _finite(lv.value(k)) for k in REFERENCE_COLUMNS})
        record["tokens_honoured"] = lv.tokens_honoured
        records.append(record)
    return records


def _capacity(run: RunResult, factor: float) -> dict[str, Any]:
    """A run's capacity as numbers (null where there is none) and as `capacity_line`."""
    levels = aggregate(run.levels)
    trusted = _trusted(levels)
    best = max(trusted, key=lambda lv: lv.rps) if trusted else None
    ttft, tpot = run.scenario.slo.ttft_p99_s, run.scenario.slo.tpot_p99_s
    rated = any(lv.rate is not None for lv in levels)
    return {
        "run": run_label(run),
        "max_rps": None if best is None else _finite(best.rps),
        "max_rps_parallel": None if best is None else best.parallel,
        "max_rps_rate": None if best is None else best.rate,
        "knee_parallel": None if rated else knee(levels, factor),
        "slo_parallel": None if rated else slo_capacity(levels, ttft, tpot),
        "slo_rate": slo_rate(levels, ttft, tpot) if rated else None,
        "text": capacity_line(run, factor),
    }


def json_summary(runs: list[RunResult], by: list[str], factor: float = 1.1) -> dict[str, Any]:
    """`release-table --json`: {by, knee_factor, rows (as the CSV's, keys null where a run
    has none), capacity: [{run, max_rps, max_rps_parallel, max_rps_rate, knee_parallel,
    slo_parallel, slo_rate, text}], notes}."""
    if not runs:
        raise UserError("release-table needs at least one run")
    rated = any(lv.rate is not None for run in runs for lv in run.levels)
    rows_ = [
        {k: (v or None) if k in by else v for k, v in record.items()}
        for run in runs
        for record in _records(run, by, rated)
    ]
    return {
        "by": by,
        "knee_factor": factor,
        "rows": rows_,
        "capacity": [_capacity(run, factor) for run in runs],
        "notes": rows(runs, by)[2],
    }
