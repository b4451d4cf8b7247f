"""The capacity search's probes as a table and as --json (bench/measure/capacity.py's
Search): each probe's point, its P99s with their confidence intervals, its goodput and
the verdict; then the capacity found. Times in milliseconds (the display unit); --json
keeps seconds."""

from __future__ import annotations

import math
from typing import Any, Protocol

from bench.report.tables import format_cell, format_display, markdown_table
from bench.schema.metrics import BY_KEY
from bench.schema.results import LevelResult


class ProbeLike(Protocol):
    value: float
    level: LevelResult
    meets: bool


def _ci(level: LevelResult, key: str) -> list[float] | None:
    got = level.precision.intervals.get(key) if level.precision else None
    return list(got) if got and all(math.isfinite(x) for x in got) else None


def probe_table(by: str, probes: list[ProbeLike]) -> str:
    """One row per probe, in the order measured."""
    header = [
        "#",
        "Rate (req/s)" if by == "rate" else "Conc.",
        BY_KEY["ttft_p99_s"].display_label,
        "95% CI",
        BY_KEY["tpot_p99_s"].display_label,
        "95% CI",
        "Goodput",
        "SLO",
    ]
    rows = []
    for n, probe in enumerate(probes, 1):
        lv = probe.level
        keys = ("ttft_p99_s", "tpot_p99_s")
        cis = [(k, _ci(lv, k)) for k in keys]
        text = [
            "—" if c is None else f"[{format_display(k, c[0])}, {format_display(k, c[1])}]"
            for k, c in cis
        ]
        rows.append(
            [
                str(n),
                f"{probe.value:g}",
                format_display("ttft_p99_s", lv.ttft_p99_s),
                text[0],
                format_display("tpot_p99_s", lv.tpot_p99_s),
                text[1],
                format_cell("goodput_rps", lv.value("goodput_rps")),
                "met" if probe.meets else "missed",
            ]
        )
    return markdown_table(header, rows)


def capacity_line(by: str, capacity: float | None, bounded: bool, step: float, top: int) -> str:
    what = "rate" if by == "rate" else "concurrency"
    if capacity is None:
        return f"Capacity: no {what} met the SLO."
    unit = " req/s" if by == "rate" else ""
    exact = f"± {step:g}{unit}" if by == "rate" else "to one"
    if not bounded:
        return f"Capacity: at least {capacity:g}{unit} ({what}; met at the search's top)"
    return f"Capacity: {what} {capacity:g}{unit} (exact {exact}: the next step missed the SLO)"


def capacity_json(by: str, capacity: float | None, bounded: bool, probes: list[ProbeLike]) -> Any:
    """{by, capacity, bounded, probes: [{value, meets, ttft/tpot p99 and CIs, goodput}]}."""
    out = []
    for probe in probes:
        lv = probe.level
        good = lv.value("goodput_rps")
        out.append(
            {
                "value": probe.value,
                "parallel": lv.parallel,
                "number": lv.number,
                "meets": probe.meets,
                "ttft_p99_s": lv.ttft_p99_s,
                "ttft_p99_ci": _ci(lv, "ttft_p99_s"),
                "tpot_p99_s": lv.tpot_p99_s,
                "tpot_p99_ci": _ci(lv, "tpot_p99_s"),
                "goodput_rps": good if math.isfinite(good) else None,
                "status": lv.status,
            }
        )
    return {"by": by, "capacity": capacity, "bounded": bounded, "probes": out}
