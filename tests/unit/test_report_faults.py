"""What the report says when a run is not clean: the "What happened" section (status,
reason, incidents with the server's last output), partial levels marked in the reference table
and left out of capacity."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.report import release
from bench.report.markdown import level_row, render_report, what_happened
from bench.report.tables import PARTIAL
from bench.schema import runfile
from bench.schema.results import (
    Check,
    CheckStatus,
    Incident,
    LevelResult,
    LevelStatus,
    RunResult,
)
from bench.schema.runfile import read_run

REFERENCE = Path(__file__).resolve().parents[2] / "reports" / "reference" / "vllm-ascend-800ta2"


def never_ready() -> RunResult:
    run = read_run(REFERENCE)
    run.levels, run.status = [], "failed"
    run.reason = "server not ready after 3 s (waiting for /health)"
    run.incidents = [
        Incident(
            at="2026-11-28T10:00:00+00:00",
            level=0,
            parallel=0,
            kind="server never ready",
            detail="server not ready after 3 s (waiting for /health)",
            log_tail=["loading weights", "fault injection: still loading"],
        )
    ]
    return run


def test_a_server_that_never_got_ready_is_explained_above_the_table() -> None:
    """Regression: a server that never got ready left an empty table and no reason."""
    text = render_report(never_ready())
    happened = text.index("## What happened")
    assert happened < text.index("| Conc. |")
    section = text[happened : text.index("| Conc. |")]
    assert "- Status: failed — server not ready after 3 s (waiting for /health)" in section
    assert "before the sweep: server never ready" in section
    assert "  fault injection: still loading" in section


def test_a_clean_run_has_no_what_happened_section() -> None:
    run = read_run(REFERENCE)
    assert run.ok and "What happened" not in render_report(run)


def test_a_reason_alone_makes_a_complete_run_not_ok() -> None:
    run = read_run(REFERENCE)
    run.reason = "failed requests beyond validity.max_failed_ratio: conc 4: server: 4 of 12"
    assert not run.ok
    assert what_happened(run) == [f"- Status: complete — {run.reason}"]


def test_reason_round_trips_and_old_files_read_without_it() -> None:
    run = never_ready()
    assert runfile.check(run.to_dict(), Path("run.json")).reason == run.reason
    old = run.to_dict()
    del old["reason"]
    assert runfile.check(old, Path("run.json")).reason == ""


def partial(level: LevelResult) -> LevelResult:
    reason = "interrupted after 3 of 8 requests"
    check = Check("complete", CheckStatus.FLAG, f"partial: {reason}")
    return dataclasses.replace(level, status=LevelStatus.PARTIAL, reason=reason, checks=[check])


def test_a_partial_level_is_marked_and_not_used_for_capacity() -> None:
    """Regression: a partial level was unmarked in the table, its checks said "all
    checks passed" and it was the run's capacity (max RPS)."""
    run = read_run(REFERENCE)
    best = max(run.levels, key=lambda lv: lv.rps)
    before = release.capacity_line(run, 1.1)
    assert f"at concurrency {best.parallel}" in before
    run.levels = [partial(lv) if lv is best else lv for lv in run.levels]
    cells, note = level_row(next(lv for lv in run.levels if lv.parallel == best.parallel))
    assert cells[0] == f"{best.parallel} {PARTIAL}"
    assert note == (
        f"{PARTIAL} conc {best.parallel}: interrupted after 3 of 8 requests; not used for capacity"
    )
    after = release.capacity_line(run, 1.1)
    assert f"at concurrency {best.parallel};" not in after
    assert f"- Conc {best.parallel} is partial ({PARTIAL})" in "\n".join(what_happened(run))


def test_an_old_partial_level_without_the_check_is_still_excluded() -> None:
    run = read_run(REFERENCE)
    best = max(run.levels, key=lambda lv: lv.rps)
    run.levels = [
        dataclasses.replace(lv, status="partial") if lv is best else lv for lv in run.levels
    ]
    assert f"at concurrency {best.parallel};" not in release.capacity_line(run, 1.1)


class DeadServer:
    """A server handle whose process died during the cool-down between two levels."""

    def alive(self) -> bool:
        return False

    def log_tail(self) -> str:
        return "fault injection: exiting"

    def reset_caches(self) -> dict[str, int]:
        return {"/reset_prefix_cache": 0}


def test_a_death_between_levels_is_an_incident(tmp_path: Path) -> None:
    """Regression: a server that died between levels (cool-down, cache reset) was not
    recorded as an incident; only the next level's failure showed."""
    from rich.console import Console

    from bench.config.scenario import load_scenario
    from bench.load.plan import plan_level
    from bench.measure import lifecycle
    from bench.schema.plan import SweepLevel

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: between\nmodel: {served_name: m, tokenizer_path: generated}\n"
        "server: {kind: sim, on_death: stop}\nsweep: {parallel: [1, 2], number: [2, 4]}\n"
    )
    run = never_ready()
    run.incidents = []
    handle = DeadServer()
    scenario = load_scenario(path)
    life = lifecycle.ServerLife(scenario, "tok", run, tmp_path, Console(file=None, quiet=True))
    life.handle = handle
    life.between_levels(plan_level(scenario, tmp_path, SweepLevel(2, 1, 2, 4)))
    assert life.handle is handle
    (incident,) = run.incidents
    assert (incident.kind, incident.level, incident.parallel) == (
        "server died between levels",
        2,
        2,
    )
    assert incident.detail == "fault injection: exiting"
