"""A compare page: a run against the previous run of its scenario, with the rules and the
figures of `vlm-bench compare` (bench/report/compare.py, bench/analyze/compare.py).

Runs whose workloads differ are not compared (the page says why, in compare's own words);
runs with other load points (concurrency levels, a rate sweep's rates) are compared on
the ones they share, and recorded hardware or software differences are allowed and listed
(`compare --force --allow-mismatch`, once the workloads are known to be equal).
"""

from __future__ import annotations

from typing import Any

from bench.analyze.compare import format_pct, run_label, workload_difference
from bench.errors import UserError, one_line
from bench.report.compare import FAMILIES, Comparison, compare, run_description
from bench.report.dashboard.collect import Entry
from bench.report.dashboard.levelcharts import level_charts
from bench.report.tables import FAILED, NOT_HONOURED, format_display, point_header
from bench.schema.metrics import BY_KEY
from bench.schema.results import LoadPoint, RunResult, has_metric, load_point, point_label


def _cell(comparison: Comparison, run: RunResult, point: LoadPoint, key: str) -> str:
    if not has_metric(run, key):
        return "n/a"
    level = comparison.level(run, point)
    if level is None or not level.measured:
        return FAILED
    text = format_display(key, level.value(key))
    return text if level.tokens_honoured else f"{text} {NOT_HONOURED}"


def family_table(comparison: Comparison, keys: tuple[str, ...]) -> dict[str, Any]:
    """Header and rows of one metric family: per load point, A, B and the change."""
    header = [point_header(comparison.levels)]
    for key in keys:
        label = BY_KEY[key].display_label
        header += [f"{label} A", f"{label} B", "Δ"]
    rows = []
    for point in comparison.levels:
        row = [point_label(point)]
        for key in keys:
            row += [_cell(comparison, run, point, key) for run in comparison.runs]
            row.append(format_pct(comparison.change(1, key, point)))
        rows.append(row)
    return {"header": header, "rows": rows}


def context(previous: Entry, entry: Entry) -> dict[str, Any]:
    """The page's data: the two runs, and the comparison or why there is none."""
    out: dict[str, Any] = {
        "entry": entry,
        "previous": previous,
        "runs": [
            ("A", previous, run_description(previous.run)),
            ("B", entry, run_description(entry.run)),
        ],
        "refused": "",
        "headline": [],
        "families": [],
        "mismatches": [],
        "figures": [],
    }
    # Other workloads are never compared; other concurrency levels on the ones they share.
    why = workload_difference([previous.run, entry.run])
    try:
        if why:
            raise UserError(why)
        comparison = compare([previous.run, entry.run], force=True, allow_mismatch=True)
    except UserError as exc:
        out["refused"] = one_line(exc)
        return out
    series = [
        (run_label(run), [lv for lv in run.levels if load_point(lv) in comparison.levels])
        for run in comparison.runs
    ]
    out["headline"] = comparison.headline()
    out["families"] = [(title, family_table(comparison, keys)) for title, keys in FAMILIES]
    out["mismatches"] = comparison.mismatches
    out["figures"] = level_charts(series, prefix=f"cmp-{entry.slug}")
    return out
