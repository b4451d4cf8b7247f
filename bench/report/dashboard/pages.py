"""The site's pages as HTML text: the index, a trend page per scenario, a page per run and
a compare page per run with a predecessor. Templates in templates/, autoescaped: every
name, reason and detail a run carries is text, never markup (the charts are built as
escaped `Markup` in svgchart.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
import pandas as pd

from bench import __version__
from bench.report.dashboard import comparepage, runpage
from bench.report.dashboard.collect import Entry, GateMark, slugify
from bench.report.dashboard.svgchart import Chart, render
from bench.report.dashboard.trends import TREND_METRICS, overview_chart, tidy, trend_chart
from bench.schema.results import provenance_columns

# The page's filter: (tag key, its label), in the order the selects are shown.
FILTERS = (
    ("scenario", "Scenario"),
    ("model", "Model"),
    ("hardware", "Hardware"),
    ("backend", "Backend"),
    ("conc", "Concurrency"),
)


@dataclass
class Scenario:
    """A scenario's runs, oldest first, and its trend page's name."""

    name: str
    entries: list[Entry]

    @property
    def slug(self) -> str:
        return slugify(self.name)

    def previous(self, entry: Entry) -> Entry | None:
        i = self.entries.index(entry)
        return self.entries[i - 1] if i else None


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bench.report.dashboard", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["chart"] = render
    env.globals["version"] = __version__
    return env


def _render(name: str, **values: Any) -> str:
    return _env().get_template(name).render(**values)


def group(entries: list[Entry]) -> list[Scenario]:
    """The runs by scenario name (entries are sorted by scenario, then start time)."""
    out: dict[str, Scenario] = {}
    for entry in entries:
        out.setdefault(
            entry.run.scenario_name, Scenario(entry.run.scenario_name, [])
        ).entries.append(entry)
    return list(out.values())


def index_row(scenario: Scenario, entry: Entry, gates: list[GateMark]) -> dict[str, Any]:
    run, counts = entry.run, runpage.level_counts(entry.run)
    prov = provenance_columns(run)
    gate = next((g for g in gates if g.candidate in (entry.label, run.scenario_name)), None)
    return {
        "entry": entry,
        "status": str(run.status),
        "date": (prov.get("started_at") or "")[:19].replace("T", " ") or "—",
        "hardware": run.scenario.hardware or "—",
        "backend": run.scenario.backend or "—",
        "version": prov.get("server_version") or "—",
        "counts": counts,
        "compare": scenario.previous(entry) is not None,
        "gate": gate,
    }


def filters(charts: list[Chart]) -> list[dict[str, Any]]:
    """The selects of the page's filter: each tag whose lines differ in it, its values
    (concurrencies in numeric order) and the one selected at first ("" = all; the first
    scenario when there are several, so the page opens on a readable chart)."""
    out = []
    for key, label in FILTERS:
        found = {v for c in charts for line in c.lines for k, v in line.tags if k == key}
        if len(found) < 2:
            continue
        values = sorted(found, key=lambda v: (int(v), v) if v.isdigit() else (0, v))
        out.append(
            {
                "key": key,
                "label": label,
                "options": values,
                "selected": values[0] if key == "scenario" else "",
            }
        )
    return out


def index_page(
    scenarios: list[Scenario], gates: list[GateMark], frame: pd.DataFrame | None = None
) -> str:
    """The runs by scenario, under one chart per metric over all of them with the filter;
    `frame`: the runs' tidy frame when the caller has it (else made here)."""
    rows = [(s, [index_row(s, e, gates) for e in reversed(s.entries)]) for s in scenarios]
    groups = [s.entries for s in scenarios]
    if frame is None:
        frame = tidy([e for entries in groups for e in entries])
    charts = [overview_chart(frame, groups, gates, key) for key in TREND_METRICS]
    shown = [c for c in charts if c is not None]
    return _render(
        "index.html.j2",
        title="vlm-bench dashboard",
        scenarios=rows,
        charts=shown,
        filters=filters(shown),
    )


def trend_page(scenario: Scenario, frame: pd.DataFrame, gates: list[GateMark]) -> str:
    mine = frame[frame["scenario_name"] == scenario.name]
    found = [trend_chart(mine, scenario.entries, gates, key) for key in TREND_METRICS]
    trends = [t for t in found if t is not None]
    return _render(
        "trend.html.j2",
        title=f"Trends: {scenario.name}",
        scenario=scenario,
        charts=[t.chart for t in trends],
        filters=filters([t.chart for t in trends]),
        changes=sum(t.changes for t in trends),
    )


def run_page(entry: Entry, scenario: Scenario) -> str:
    previous = scenario.previous(entry)
    return _render(
        "run.html.j2",
        title=f"{entry.label}",
        scenario=scenario,
        previous=previous,
        **runpage.context(entry),
    )


def compare_page(previous: Entry, entry: Entry, scenario: Scenario) -> str:
    return _render(
        "compare.html.j2",
        title=f"Compare: {entry.label} vs {previous.label}",
        scenario=scenario,
        **comparepage.context(previous, entry),
    )
