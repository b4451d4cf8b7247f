"""The precision table: each level's figures with their 95 % confidence intervals, its
steady-state figures and, under `sweep.stop`, its rounds. Beside the reference table,
never in it (its columns are the guide's). Means and rates are shown `value ± half-width`,
percentiles `value [lo–hi]`, times in milliseconds; over repeats when a level has 2 or more
(t-interval of the repeat values), else over its requests (bench/analyze/precision.py).
"" for runs without precision data (measured before it existed), so their reports keep
their bytes.
"""

from __future__ import annotations

from typing import Any

from bench.analyze import precision as rules
from bench.report.tables import format_display, markdown_table, point_header
from bench.schema.metrics import BY_KEY
from bench.schema.results import LevelResult, by_level, load_point, median_level, point_label

COLUMNS = ("ttft_avg_s", "ttft_p99_s", "tpot_avg_s", "tpot_p99_s", "rps", "output_tok_s")
STEADY = ("ttft_avg_s", "tpot_avg_s", "rps")


def level_intervals(group: list[LevelResult]) -> dict[str, tuple[float, float]]:
    """{metric: (lo, hi)} for a level's repeats: over the repeats with 2 or more, else
    the one repeat's intervals over its requests."""
    measured = [lv for lv in group if lv.measured]
    if len(measured) >= 2:
        out = {}
        for key in COLUMNS:
            got = rules.repeat_interval([lv.value(key) for lv in measured])
            if got is not None:
                out[key] = got
        return out
    one = measured[0] if measured else group[0]
    found = one.precision.intervals if one.precision else {}
    return {k: (v[0], v[1]) for k, v in found.items()}


def cell(key: str, value: float, interval: tuple[float, float] | None) -> str:
    """A figure and its interval in the display unit: `value ± half-width` for means and
    rates, `value [lo–hi]` for percentiles."""
    text = format_display(key, value)
    if interval is None:
        return text
    lo, hi = interval
    if key.endswith("_avg_s") or key in ("rps", "output_tok_s"):
        return f"{text} ± {format_display(key, (hi - lo) / 2)}"
    return f"{text} [{format_display(key, lo)}–{format_display(key, hi)}]"


def precision_table(levels: list[LevelResult]) -> str:
    """The table (module docstring); "" when no level holds precision data."""
    if not any(lv.precision or lv.steady for lv in levels):
        return ""
    stopped = any(lv.precision and lv.precision.rounds for lv in levels)
    header = [point_header([load_point(lv) for lv in levels]), "n"]
    header += [BY_KEY[k].display_label for k in COLUMNS]
    header += [f"Steady {BY_KEY[k].display_label}" for k in STEADY]
    header += ["Rounds (stop)"] if stopped else []
    rows = []
    for group in by_level(levels):
        level, found = median_level(group), level_intervals(group)
        first = group[0]
        n = f"{len(group)} repeats" if len(group) > 1 else f"{level.succeeded} req"
        row = [point_label(load_point(level)), n]
        row += [cell(k, level.value(k), found.get(k)) for k in COLUMNS]
        steady: Any = first.steady
        row += [
            format_display(k, v)
            if steady is not None and (v := getattr(steady, k)) is not None
            else "—"
            for k in STEADY
        ]
        if stopped:
            p = first.precision
            row.append(f"{p.rounds} ({p.stop_reason})" if p and p.rounds else "—")
        rows.append(row)
    return markdown_table(header, rows)


def precision_summary(level: LevelResult) -> dict[str, Any]:
    """`--json`'s precision keys of one level (omitted when it has none)."""
    out: dict[str, Any] = {}
    if level.precision is not None:
        out["precision"] = level.precision.to_dict()
    if level.steady is not None:
        out["steady"] = level.steady.to_dict()
    return out
