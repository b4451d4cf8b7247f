"""The sequential gate's verdict as markdown (bench/analyze/sequential.py): one row per
cell with its decision, the change and its confidence bounds at the last look."""

from __future__ import annotations

from bench.analyze.compare import format_pct
from bench.analyze.sequential import CellLook
from bench.report.tables import markdown_table, point_header
from bench.schema.metrics import BY_KEY
from bench.schema.results import point_label


def render_sequential(state: str, looks: int, max_looks: int, cells: list[CellLook]) -> str:
    rows = [
        [
            point_label((c.parallel, c.rate)),
            BY_KEY[c.key].name,
            c.look.decision,
            format_pct(100 * c.look.worse),
            f"[{format_pct(100 * c.look.lower)}, {format_pct(100 * c.look.upper)}]",
        ]
        for c in cells
    ]
    header = point_header([(c.parallel, c.rate) for c in cells])
    table = markdown_table([header, "Metric", "Decision", "Worse", "Bounds"], rows)
    head = f"gate (sequential): {state} after {looks} of at most {max_looks} candidate repeats"
    note = "Bounds: the change's one-sided confidence bounds at this look's error (docs/gate.md)."
    return f"{head}\n\n{table}\n\n{note}\n"
