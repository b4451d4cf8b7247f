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
from bench.report.dashboard.svgchart import render
from bench.report.dashboard.trends import TREND_METRICS, concurrencies, trend_chart
from bench.schema.metrics import BY_KEY
from bench.schema.results import provenance_columns


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


def index_page(scenarios: list[Scenario], gates: list[GateMark]) -> str:
    rows = [(s, [index_row(s, e, gates) for e in reversed(s.entries)]) for s in scenarios]
    return _render("index.html.j2", title="vlm-bench dashboard", scenarios=rows)


def trend_page(scenario: Scenario, frame: pd.DataFrame, gates: list[GateMark]) -> str:
    concs = concurrencies(scenario.entries)
    groups = []
    mine = frame[frame["scenario_name"] == scenario.name]
    for key in TREND_METRICS:
        part = mine[mine["metric"] == key]
        charts = [trend_chart(part, scenario.entries, gates, key, c) for c in concs]
        groups.append((BY_KEY[key], [t for t in charts if t is not None]))
    return _render(
        "trend.html.j2",
        title=f"Trends: {scenario.name}",
        scenario=scenario,
        groups=groups,
        changes=sum(t.changes for _, charts in groups for t in charts),
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
