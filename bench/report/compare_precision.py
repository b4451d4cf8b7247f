"""compare's precision section: each headline figure with its 95 % interval per run
(over repeats, else over requests: bench/report/precision.py) and each later run's change
against the first with its interval over repeats (Welch t on log values,
bench/analyze/precision.py). "" when no run has repeats or precision data, so comparisons
of runs without them keep their bytes."""

from __future__ import annotations

from bench.analyze import precision as rules
from bench.analyze.compare import format_pct
from bench.report.markdown import sim_time_scale
from bench.report.precision import cell, level_intervals
from bench.report.tables import markdown_table, point_header
from bench.schema.metrics import BY_KEY, Better
from bench.schema.results import (
    LevelResult,
    LoadPoint,
    RunResult,
    by_level,
    median_level,
    point_label,
)

KEYS = ("output_tok_s", "ttft_avg_s", "tpot_avg_s")


def _groups(run: RunResult) -> dict[LoadPoint, list[LevelResult]]:
    """A run's repeats by load point, a time-scaled simulator's rates in the modelled
    hardware's time as the comparison has them (bench.report.markdown.rescale)."""
    scale = sim_time_scale(run.scenario) or 1.0
    out: dict[LoadPoint, list[LevelResult]] = {}
    for group in by_level(run.levels):
        parallel, rate = group[0].parallel, group[0].rate
        out[(parallel, rate if rate is None else rate * scale)] = group
    return out


def _change(base: list[LevelResult], other: list[LevelResult], key: str) -> str:
    b = [lv.value(key) for lv in base if lv.measured]
    c = [lv.value(key) for lv in other if lv.measured]
    got = rules.change_interval(b, c, BY_KEY[key].better is Better.HIGHER)
    return "—" if got is None else f"{format_pct(100 * got[0])} … {format_pct(100 * got[1])}"


def precision_section(runs: list[RunResult], levels: list[LoadPoint]) -> str:
    """The table (module docstring): the load point, then per metric each run's value ± and each
    later run's worse-by interval."""
    groups = [_groups(run) for run in runs]
    has = any(len(g) > 1 or any(lv.precision for lv in g) for run in groups for g in run.values())
    if not has:
        return ""
    letters = [chr(ord("A") + k) for k in range(len(runs))]
    header = [point_header(levels)]
    for key in KEYS:
        header += [f"{BY_KEY[key].display_label} {x}" for x in letters]
        header += [f"worse {x} (95 % CI)" for x in letters[1:]]
    rows = []
    for point in levels:
        row = [point_label(point)]
        for key in KEYS:
            for run in groups:
                group = run.get(point)
                if not group:
                    row.append("—")
                    continue
                value = median_level(group).value(key)
                row.append(cell(key, value, level_intervals(group).get(key)))
            first = groups[0].get(point)
            row += [
                _change(first, run[point], key) if first and point in run else "—"
                for run in groups[1:]
            ]
        rows.append(row)
    return markdown_table(header, rows)
