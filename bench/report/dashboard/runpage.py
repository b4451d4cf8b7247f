"""What one run's page shows: its facts (provenance through `provenance_columns` only),
the reference table's columns with their marks and notes (times in milliseconds, as
every chart beside them), the sweep's charts, every level's validity
checks, and "What happened" (status, reason, incidents, partial levels).

Everything here is data for the template; the template escapes it. The scenario shown is
the stored one, redacted again on the way out (as run.json is written).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.redact import redact_scenario
from bench.report.dashboard.collect import Entry
from bench.report.dashboard.levelcharts import level_charts
from bench.report.markdown import level_row, plot_caption, reference_header, workload_summary
from bench.report.tables import PEOPLE
from bench.schema.results import RunResult, by_level, median_level, provenance_columns


@dataclass(frozen=True)
class Counts:
    trusted: int
    flagged: int
    failed: int


def level_counts(run: RunResult) -> Counts:
    """Levels (repeats folded) that are trusted, measured but not trusted, not measured."""
    levels = [median_level(group) for group in by_level(run.levels)]
    trusted = sum(1 for lv in levels if lv.trusted)
    failed = sum(1 for lv in levels if not lv.measured)
    return Counts(trusted, len(levels) - trusted - failed, failed)


def facts(entry: Entry) -> list[tuple[str, str]]:
    """(name, value) rows of the run's header: what ran, where, when, with what."""
    run, prov = entry.run, provenance_columns(entry.run)
    scenario = run.scenario
    rows = [
        ("Scenario", run.scenario_name),
        ("Run", run.run_id),
        ("Status", str(run.status) + (f" — {run.reason}" if run.reason else "")),
        ("Hardware", scenario.hardware or "—"),
        ("Backend", scenario.backend or "—"),
        ("Model", scenario.model.served_name),
        ("Server version", prov.get("server_version") or "—"),
        ("Started", prov.get("started_at") or "—"),
        ("Ended", prov.get("ended_at") or "—"),
        ("Host", prov.get("host") or "—"),
        ("Commit", f"{prov.get('commit') or '—'}" + (" (dirty)" if prov.get("dirty") else "")),
        ("evalscope", prov.get("evalscope") or "—"),
        ("vlm-bench", prov.get("vlm_bench") or "—"),
        ("Accelerators", prov.get("accelerators") or "—"),
        ("Workload", workload_summary(scenario)),
        ("Scenario hash", run.scenario_hash),
    ]
    return [(name, str(value)) for name, value in rows]


def table(run: RunResult) -> tuple[list[str], list[list[str]], list[str]]:
    """The reference table's columns in milliseconds (header, rows, footnotes), repeats
    as median [min–max]."""
    rows, notes = [], []
    for group in by_level(run.levels):
        cells, note = level_row(median_level(group), group, PEOPLE)
        rows.append(cells)
        if note:
            notes.append(note)
    return reference_header(run.levels, PEOPLE), rows, notes


def checks(run: RunResult) -> list[dict[str, Any]]:
    """Every level's validity checks, each repeat on its own."""
    out = []
    for lv in sorted(run.levels, key=lambda lv: (lv.index, lv.parallel, lv.repeat)):
        out.append(
            {
                "parallel": lv.parallel,
                "repeat": lv.repeat,
                "status": str(lv.status),
                "reason": lv.reason,
                "checks": [(c.name, str(c.status), c.detail) for c in lv.checks],
            }
        )
    return out


def happened(run: RunResult) -> dict[str, Any] | None:
    """The "What happened" section of a run that is not clean; None when it is."""
    if run.ok:
        return None
    incidents = [
        {
            "at": inc.at or "?",
            "where": f"conc {inc.parallel}" if inc.parallel else "before the sweep",
            "kind": inc.kind,
            "restarted": bool(inc.restarted),
            "detail": inc.detail or "(no detail)",
            "level_reason": inc.level_reason or "",
            "log_tail": "\n".join(inc.log_tail or []),
        }
        for inc in run.incidents
    ]
    partial = [(lv.parallel, lv.reason) for lv in run.levels if lv.status == "partial"]
    return {
        "status": str(run.status),
        "reason": run.reason,
        "incidents": incidents,
        "partial": partial,
    }


def context(entry: Entry) -> dict[str, Any]:
    run = entry.run
    header, rows, notes = table(run)
    scenario = redact_scenario(run.scenario.model_dump(mode="json"))
    return {
        "entry": entry,
        "facts": facts(entry),
        "header": header,
        "rows": rows,
        "notes": notes,
        "caption": plot_caption(run),
        "figures": level_charts([(entry.label, run.levels)], prefix=f"run-{entry.slug}"),
        "checks": checks(run),
        "happened": happened(run),
        "scenario_text": json.dumps(scenario, indent=2, sort_keys=True),
        "counts": level_counts(run),
    }
