"""compare's precision section: each headline figure with its 95 % interval per run
(over repeats, else over requests: bench/report/precision.py) and each later run's change
against the first with its interval over repeats (Welch t on log values,
bench/analyze/precision.py). "" when no run has repeats or precision data, so comparisons
of runs without them keep their bytes."""

from __future__ import annotations

from bench.analyze import precision as rules
from bench.analyze.compare import format_pct
from bench.report.precision import cell, level_intervals
from bench.report.tables import markdown_table
from bench.schema.metrics import BY_KEY, Better
from bench.schema.results import LevelResult, RunResult, by_level, median_level

KEYS = ("output_tok_s", "ttft_avg_s", "tpot_avg_s")


def _groups(run: RunResult) -> dict[int, list[LevelResult]]:
    return {g[0].parallel: g for g in by_level(run.levels)}


def _change(base: list[LevelResult], other: list[LevelResult], key: str) -> str:
    b = [lv.value(key) for lv in base if lv.measured]
    c = [lv.value(key) for lv in other if lv.measured]
    got = rules.change_interval(b, c, BY_KEY[key].better is Better.HIGHER)
    return "—" if got is None else f"{format_pct(100 * got[0])} … {format_pct(100 * got[1])}"


def precision_section(runs: list[RunResult], levels: list[int]) -> str:
    """The table (module docstring): Conc., then per metric each run's value ± and each
    later run's worse-by interval."""
    groups = [_groups(run) for run in runs]
    has = any(len(g) > 1 or any(lv.precision for lv in g) for run in groups for g in run.values())
    if not has:
        return ""
    letters = [chr(ord("A") + k) for k in range(len(runs))]
    header = ["Conc."]
    for key in KEYS:
        header += [f"{BY_KEY[key].label} {x}" for x in letters]
        header += [f"worse {x} (95 % CI)" for x in letters[1:]]
    rows = []
    for conc in levels:
        row = [str(conc)]
        for key in KEYS:
            for run in groups:
                group = run.get(conc)
                if not group:
                    row.append("—")
                    continue
                value = median_level(group).value(key)
                row.append(cell(key, value, level_intervals(group).get(key)))
            first = groups[0].get(conc)
            row += [
                _change(first, run[conc], key) if first and conc in run else "—"
                for run in groups[1:]
            ]
        rows.append(row)
    return markdown_table(header, rows)
