"""The load and goodput table: each level's arrival rate (a rate sweep's), its RPS and its
goodput, the successful requests per second that met the scenario's SLO one by one
(docs/metrics.md). Beside the reference table, never in it: its columns are the guide's.
"""

from __future__ import annotations

import math

from bench.report.tables import format_cell, markdown_table
from bench.schema.results import LevelResult
from bench.schema.scenario import SloSpec


def slo_text(slo: SloSpec) -> str:
    """The SLO a request must meet, in words and milliseconds ("" when the scenario sets
    none): "TTFT ≤ 500 ms and TPOT ≤ 50 ms"."""
    parts = [
        f"{name} ≤ {1000 * value:g} ms"
        for name, value in (("TTFT", slo.ttft_p99_s), ("TPOT", slo.tpot_p99_s))
        if value is not None
    ]
    return " and ".join(parts)


def goodput_table(levels: list[LevelResult]) -> str:
    """Conc., rate, RPS, goodput and its share of RPS per level; "" when no level has a
    rate or a goodput (a concurrency sweep without an SLO)."""
    rated = any(lv.rate is not None for lv in levels)
    if not rated and all(lv.goodput_rps is None for lv in levels):
        return ""
    header = ["Conc.", *(["Rate (req/s)"] if rated else []), "RPS", "Goodput", "Met SLO"]
    rows = []
    for lv in levels:
        good = lv.value("goodput_rps")
        share = 100 * good / lv.rps if lv.rps > 0 and math.isfinite(good) else math.nan
        rows.append(
            [
                str(lv.parallel),
                *([f"{lv.rate:g}" if lv.rate is not None else "—"] if rated else []),
                format_cell("rps", lv.rps),
                format_cell("goodput_rps", good),
                format_cell("success_rate", share),
            ]
        )
    return markdown_table(header, rows)
