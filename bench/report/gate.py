"""The gate's report: the flagged cells as a markdown table, with the runs' names, the
allowed mismatches and the levels a validity check flagged (judging: bench/analyze/gate.py).
"""

from __future__ import annotations

from bench.analyze import precision, stats
from bench.analyze.compare import format_pct, run_label
from bench.analyze.gate import NO_DATA, Cell, GateResult
from bench.report.tables import format_display, markdown_table, point_header, template
from bench.schema.metrics import BY_KEY, Better
from bench.schema.results import CheckStatus, aggregate, by_level, load_point, point_label


def _spread(key: str, values: list[float]) -> str:
    if not values:
        return "—"
    text = format_display(key, stats.median(values))
    if len(values) > 1:
        text += f" [{format_display(key, min(values))}–{format_display(key, max(values))}]"
    return text


def _change_ci(cell: Cell) -> str:
    """The change's 95 % confidence interval over repeats (analyze.precision)."""
    if cell.verdict == NO_DATA:
        return "—"
    higher = BY_KEY[cell.key].better is Better.HIGHER
    got = precision.change_interval(cell.base, cell.cand, higher)
    return "—" if got is None else f"{format_pct(100 * got[0])} … {format_pct(100 * got[1])}"


MARKS = {"REGRESSION": "❌", "FAILED": "❌", "SUSPECT": "⚠️", "NOISY": "〰️", NO_DATA: "❔"}


def _flagged_levels(result: GateResult) -> list[str]:
    """Levels of either run that a validity check flagged: their cells are judged, but the
    reader must know (a throttled client or a truncating server changes every figure)."""
    out = []
    for side, run in (("baseline", result.baseline), ("candidate", result.candidate)):
        for level in aggregate(run.levels):
            checks = [c.name for c in level.checks if c.status == CheckStatus.FLAG]
            if checks:
                out.append(f"{side} conc {point_label(load_point(level))} ({', '.join(checks)})")
    return out


def render(result: GateResult) -> str:
    rows = [
        [
            f"{MARKS[c.verdict]} {c.verdict}",
            point_label((c.parallel, c.rate)),
            BY_KEY[c.key].display_label,
            _spread(c.key, c.base),
            _spread(c.key, c.cand),
            format_pct(100 * c.worse) if c.base and c.verdict != NO_DATA else "—",
            _change_ci(c),
            f"{c.p:.4f}" if c.p is not None else "—",
            f"{100 * c.cv:.1f} %" if len(c.base) > 1 and c.verdict != NO_DATA else "—",
            c.detail,
        ]
        for c in result.flagged()
    ]
    points = [(c.parallel, c.rate) for c in result.flagged()]
    header = ["", point_header(points), "Metric", "Baseline", "Candidate", "Worse by"]
    header += ["95 % CI", "p", "CV", "Note"]
    return template("gate.md.j2").render(
        summary=result.summary(),
        baseline=run_label(result.baseline),
        candidate=run_label(result.candidate),
        table=markdown_table(header, rows) if rows else "",
        mismatches=result.mismatches,
        flagged=_flagged_levels(result),
        repeats=(
            len(by_level(result.baseline.levels)[0]),
            len(by_level(result.candidate.levels)[0]),
        ),
    )
