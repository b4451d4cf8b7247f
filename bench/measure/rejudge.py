"""Re-judging a stored run with other validity thresholds, without re-measuring.

`vlm-bench report RUN --set validity.max_client_cpu=0.5`: every level's validity checks
are run again (bench/analyze/validity.py's `judge`, the same call a measured level gets
in bench/measure/level.py) from the server and client views run.json kept, under the
run's own `validity:` with the overrides applied. Only `validity.*` may be overridden:
anything else would be a different measurement, which a stored run cannot give.

The measured judgement is never overwritten: the re-judged report goes to
`RUN/report-rejudged.md` (no plots there, since the run's plots mark the measured flags),
or with `--out DIR` to DIR/report.md with its own plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.analyze import validity
from bench.errors import UserError
from bench.measure.outputs import with_note, write_report
from bench.measure.sweep import failed_requests
from bench.report.markdown import render_report
from bench.schema.results import LevelResult, RunResult
from bench.schema.runwrite import write_atomic
from bench.schema.scenario import ValiditySpec

REJUDGED = "report-rejudged.md"
# The prefix of the run's `reason` that thresholds decide (bench/measure/sweep.py).
FAILED_PREFIX = "failed requests beyond validity.max_failed_ratio"
# Validity fields that decide how a level is measured, not how it is judged.
NOT_THRESHOLDS = {"scrape_interval_s", "telemetry", "telemetry_interval_s"}


def thresholds(run: RunResult, overrides: dict[str, Any]) -> ValiditySpec:
    """The run's own `validity:` with `overrides` ({"validity.FIELD": value}) applied;
    UserError naming the field for anything that is not a validity threshold."""
    allowed = sorted(set(ValiditySpec.model_fields) - NOT_THRESHOLDS)
    fields: dict[str, Any] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if section != "validity" or name not in allowed:
            raise UserError(
                f"--set {key}: a stored run can only be re-judged with validity.* "
                f"thresholds; allowed: {', '.join('validity.' + f for f in allowed)}"
            )
        fields[name] = value
    try:
        return ValiditySpec.model_validate({**run.scenario.validity.model_dump(), **fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        raise UserError(f"--set validity.{where}: {err['msg']}") from None


def _flagged(level: LevelResult) -> dict[str, str]:
    """{check name: detail} of the level's flagged checks (`flags` reads "name: detail")."""
    return dict(flag.partition(": ")[::2] for flag in level.flags)


def _changes(level: LevelResult, before: dict[str, str]) -> list[str]:
    after = _flagged(level)
    name = f"conc {level.parallel}" + (f" repeat {level.repeat}" if level.repeat > 1 else "")
    now = [f"{check} ({after[check]})" for check in after if check not in before]
    gone = [check for check in before if check not in after]
    out = [f"{name}: now flagged: {'; '.join(now)}"] if now else []
    if gone:
        out.append(f"{name}: no longer flagged: {', '.join(gone)}")
    return out


def rejudge(run: RunResult, overrides: dict[str, Any], source: Path) -> list[str]:
    """Re-run every judged level's validity checks under the overridden thresholds, in
    place; the levels whose flags changed, one line each. Levels stored without checks
    (published tables, runs made before levels were checked) stay as they are."""
    limits = thresholds(run, overrides)
    judged = [lv for lv in run.levels if lv.checks]
    if not judged:
        raise UserError(
            f"{source}: no level carries validity checks (a published table, or a run "
            "made before levels were checked): nothing to re-judge"
        )
    changes: list[str] = []
    for level in judged:
        before = _flagged(level)
        level.checks = validity.judge(level, run.scenario, limits)
        changes += _changes(level, before)
    if run.status == "complete" and (not run.reason or run.reason.startswith(FAILED_PREFIX)):
        run.reason = failed_requests(run.levels)  # the one part of `reason` thresholds decide
    return changes


def note(overrides: dict[str, Any]) -> str:
    """The re-judged report's first paragraph: what was changed, and what was not."""
    given = ", ".join(f"{key}={value}" for key, value in overrides.items())
    return (
        f"Re-judged with {given} (vlm-bench report --set): the stored measurements were "
        "checked again, nothing was re-measured; report.md keeps the measured judgement."
    )


def write_rejudged(
    run: RunResult, overrides: dict[str, Any], run_dir: Path, out: Path | None
) -> Path:
    """Write the re-judged report beside the run (markdown only) or into `out` (with its
    plots); the report's path."""
    if out is None:
        path = run_dir / REJUDGED
        write_atomic(path, with_note(render_report(run, []), note(overrides)))
        return path
    out.mkdir(parents=True, exist_ok=True)
    write_report(run, out, note(overrides))
    return out / "report.md"
