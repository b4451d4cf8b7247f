"""What `vlm-bench run` prints at the end: the reference table's columns for the run, times in
milliseconds (the one unit for people; report.md keeps the reference's seconds), its
footnotes, a `workload:` run's workload line (bench/report/workload.py), and for a
time-scaled simulator the same table in the modelled hardware's time.

Kept here, not in the CLI, so the text is a pure function of a stored run (golden-tested
in tests/unit/test_golden.py) and the CLI only prints it. `trusted_line` says how many
levels the validity checks trust (bench/analyze/validity.py's `trust`), and why not the
others, in plain words.
"""

from __future__ import annotations

from bench.analyze.validity import trust
from bench.report.goodput import goodput_table, slo_text
from bench.report.markdown import reference_table, rescale, sim_time_scale
from bench.report.tables import PEOPLE
from bench.report.workload import workload_line
from bench.schema.results import LevelResult, RunResult, aggregate

# Why a flagged check costs a level its trust, in plain words (docs/validity.md has more).
WHY = {
    "measured": "nothing was measured",
    "complete": "the level was cut short",
    "output length": "requests did not produce the fixed output length",
    "success": "requests failed",
    "concurrency": "the target concurrency was not held",
    "mm cache": "images were answered from the server's cache",
    "server saw": "the server counted other prompt tokens than the images sent imply",
    "prefix cache": "prompts were answered from the prefix cache",
    "client": "the load generator was saturated",
    "TTFT gap": "the client measured much more TTFT than the server",
    "accelerator": "the accelerator was mostly idle",
    "client error": "the client added more than its tolerance to TTFT",
    "warm-up": "the cheap warm-up was too short",
}


def run_tables(run: RunResult) -> str:
    """The console text of a finished run: measured table, notes, rescaled table."""
    table, notes = reference_table(run.levels, PEOPLE)
    sim = run.scenario.server.capabilities.simulator
    lines = [f"\nResults (measured{', simulator time' if sim else ''}; times in ms):", table]
    lines += notes
    trusted = trusted_line(run.levels)
    if trusted:
        lines.append(trusted[0].upper() + trusted[1:] + ".")
    sent = workload_line(run)  # "" for a run without a workload: section
    if sent:
        lines.append(sent + ".")
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


def trusted_line(levels: list[LevelResult]) -> str:
    """ "4 of 6 levels trusted; 2 flagged: the client added more than its tolerance to
    TTFT (conc 16, 32)"; "" when no level carries checks (a published table)."""
    got = trust(levels)
    if got is None:
        return ""
    noun = "level" if got.judged == 1 else "levels"
    line = f"{got.trusted} of {got.judged} {noun} trusted"
    if not got.untrusted:
        return line
    why = [f"{WHY.get(name, name)} ({_points(flagged)})" for name, flagged in got.flagged.items()]
    return f"{line}; {got.untrusted} flagged: " + "; ".join(why)


def _points(levels: list[LevelResult]) -> str:
    labels = [f"{lv.parallel}" + (f" #{lv.repeat}" if lv.repeat > 1 else "") for lv in levels]
    return "conc " + ", ".join(dict.fromkeys(labels))
