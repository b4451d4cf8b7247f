"""Text building blocks every renderer shares: the cell marks, a metric's number format
(the reference's, and the one unit for people), aligned markdown tables and the jinja
templates (bench/report/templates/).

Kept apart from the run report (markdown.py) so that the server view, compare, release
and gate renderers use them without importing one another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import jinja2

from bench.schema.metrics import BY_KEY
from bench.schema.results import LoadPoint

NOT_HONOURED = "†"
FAILED = "✗"
FLAGGED = "⚑"
PARTIAL = "⚠partial"


def point_header(points: list[LoadPoint]) -> str:
    """The load points' column header: `Conc.`, `Conc. @ rate` when a point has a rate."""
    return "Conc. @ rate" if any(rate is not None for _, rate in points) else "Conc."


def format_cell(key: str, value: float) -> str:
    """A metric as the reference prints it (RPS 2 decimals, seconds 3, success rate 1 and %)."""
    metric = BY_KEY[key]
    if not math.isfinite(value):
        return "—"  # no data (NaN or infinite): never shown as a figure
    text = f"{value:.{metric.digits}f}"
    return f"{text}%" if key == "success_rate" else text


def format_display(key: str, value: float) -> str:
    """A metric in its display unit, for people: times in milliseconds (Metric.display_*),
    every other metric as the reference prints it."""
    metric = BY_KEY[key]
    if not math.isfinite(value):
        return "—"
    text = f"{value * metric.display_scale:.{metric.display_digits}f}"
    return f"{text}%" if key == "success_rate" else text


@dataclass(frozen=True)
class Units:
    """How a table shows metrics: in the reference's own labels and units (`REFERENCE`:
    the run report's reference table, byte for byte the guide's), or in one unit for
    people (`PEOPLE`: milliseconds for times, every other table and the console)."""

    reference: bool

    def label(self, key: str) -> str:
        metric = BY_KEY[key]
        return metric.label if self.reference else metric.display_label

    def cell(self, key: str, value: float) -> str:
        return format_cell(key, value) if self.reference else format_display(key, value)


REFERENCE = Units(reference=True)
PEOPLE = Units(reference=False)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table with its columns padded to equal width (readable as plain text)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows])


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template(name: str) -> jinja2.Template:
    """A template from bench/report/templates/ (undefined names fail loudly)."""
    return _env().get_template(name)
