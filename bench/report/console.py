"""What `vlm-bench run` prints at the end: the reference table's columns for the run, times in
milliseconds (the one unit for people; report.md keeps the reference's seconds), its
footnotes, and for a time-scaled simulator the same table in the modelled hardware's time.

Kept here, not in the CLI, so the text is a pure function of a stored run (golden-tested
in tests/unit/test_golden.py) and the CLI only prints it.
"""

from __future__ import annotations

from bench.report.goodput import goodput_table, slo_text
from bench.report.markdown import reference_table, rescale, sim_time_scale
from bench.report.tables import PEOPLE
from bench.schema.results import RunResult, aggregate


def run_tables(run: RunResult) -> str:
    """The console text of a finished run: measured table, notes, rescaled table."""
    table, notes = reference_table(run.levels, PEOPLE)
    sim = run.scenario.server.capabilities.simulator
    lines = [f"\nResults (measured{', simulator time' if sim else ''}; times in ms):", table]
    lines += notes
    good = goodput_table(aggregate(run.levels))
    if good:
        slo = slo_text(run.scenario.slo) or "no SLO"
        lines += [f"\nLoad and goodput (requests meeting {slo}):", good]
    scale = sim_time_scale(run.scenario)
    if scale:
        lines.append(
            f"\nRescaled to the hardware the simulator profile models (time scale {scale}):"
        )
        lines.append(reference_table([rescale(lv, scale) for lv in run.levels], PEOPLE)[0])
    return "\n".join(lines)
