"""A sweep end to end: scenario → server → load level by level → results → report.

The run directory (`<output_dir>/<scenario>/<run-id>/`) gets `scenario.yaml` (resolved),
`server.log`, `raw/level-NN/…` (evalscope's files, verbatim), and `run.json`,
`levels.csv` and `report.md`, rewritten atomically after every level so an interrupted or
failed sweep keeps everything it finished.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import redact
from bench.config.scenario import validate
from bench.errors import ServerError, UserError
from bench.load.generator import client_version, prewarm, release
from bench.load.plan import plan_level
from bench.measure import provenance
from bench.measure.answercheck import answer_check_before_sweep
from bench.measure.calibrate import Calibrator
from bench.measure.holds import hold
from bench.measure.level import Interrupted, now_iso
from bench.measure.lifecycle import ServerLife
from bench.measure.lock import RunLock
from bench.measure.outputs import (
    Reserve,
    WriteFailed,
    failure_reason,
    finish,
    is_file_error,
    save,
    signals_held,
    write_report,
)
from bench.measure.prepare import check_references, resolve_tokenizer
from bench.measure.records import Records
from bench.report.eta import level_line
from bench.report.markdown import what_happened
from bench.safepath import writing
from bench.schema.plan import SweepLevel
from bench.schema.provenance import Provenance
from bench.schema.results import CheckStatus, LevelResult, RunResult, RunStatus
from bench.schema.runfile import read_run
from bench.schema.scenario import Scenario, scenario_hash
from bench.serve import server

log = logging.getLogger(__name__)
PlanFn = Callable[[RunResult], Iterable[SweepLevel]]  # the levels to measure, given the run


def scenario_of(run_dir: Path) -> Scenario:
    """The resolved scenario a run directory was made with (for --resume)."""
    data = read_run(run_dir).scenario.model_dump(mode="json")
    if redact.REDACTED in json.dumps(data):
        # Literal secrets are redacted before run.json is written, so they cannot come back.
        raise UserError(
            f"{run_dir / 'run.json'}: scenario: its secrets were redacted when it was "
            "written; to resume, give them as ${env:NAME} references in the scenario file"
        )
    return validate(data, run_dir / "run.json")


def new_run_dir(scenario: Scenario, output_dir: Path | None) -> tuple[str, Path]:
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    root = output_dir if output_dir is not None else Path(scenario.output_dir)
    check_output_dir(root)
    # Absolute: the server and evalscope run in other working directories.
    return run_id, root.resolve() / scenario.name / run_id


def check_output_dir(root: Path) -> None:
    """Refuse an output folder that cannot be made or written (under a file, read-only)
    before anything starts, so the mistake costs no server start-up."""
    probe = root.absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"output_dir {root}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"output_dir {root}: {probe} is not writable")


@dataclass
class Outcome:
    run: RunResult
    run_dir: Path


def _order(level: LevelResult) -> tuple[int, int]:
    return level.index, level.repeat


INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); `vlm-bench run --resume RUN_DIR` finishes it"


def _resume_refusal(scenario: Scenario, result: RunResult, workload: str | None) -> str:
    """Why a run cannot be resumed: its workload's sources changed since it started (the
    scenario hash takes their fingerprint), or its scenario differs."""
    started = result.provenance.workload_fingerprint
    if started and workload and started != workload:
        return (
            f"the workload's sources changed since the run started (fingerprint {started}, "
            f"now {workload}); start a new run"
        )
    return (
        f"run.json's scenario differs from {scenario.name}'s "
        "(resume reads the scenario kept in the run directory)"
    )


def _begin(
    scenario: Scenario, output_dir: Path | None, resume: Path | None, tokenizer: str
) -> tuple[RunResult, Path]:
    if resume is not None:
        resume = resume.resolve()
        result = read_run(resume)
        workload = provenance.workload_of(scenario)
        if result.scenario_hash != scenario_hash(scenario, workload):
            raise UserError(f"{resume}: {_resume_refusal(scenario, result, workload)}")
        result.status = RunStatus.RUNNING
        result.reason = ""  # why the earlier attempt stopped; this one says its own
        result.provenance.append("resumed_at", now_iso())
        return result, resume
    run_id, run_dir = new_run_dir(scenario, output_dir)
    # Everything written goes through bench.redact (the server's own server.log aside).
    resolved = redact.redact_scenario(scenario.model_dump(mode="json"))
    with writing(run_dir, "output_dir"):  # the check above cannot foresee a full disk
        run_dir.mkdir(parents=True)
        (run_dir / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    workload = provenance.workload_of(scenario)
    prov = Provenance.model_validate(
        provenance.collect(
            server.server_argv(scenario, tokenizer, run_dir), scenario.server.env, workload
        )
    )
    prov.started_at = now_iso()
    # The run keeps the scenario as written, secrets redacted, as read_run would give it.
    kept = validate(resolved, run_dir / "run.json")
    return RunResult(run_id, scenario.name, kept, scenario_hash(scenario, workload), prov), run_dir


@dataclass
class _Held:
    """What the run holds and stops at its end, whatever happened: the server (whichever
    is current after restarts) and the client self-calibration's simulator."""

    life: ServerLife
    calibrator: Calibrator | None = None
    records: Records | None = None  # requests.parquet (bench/measure/records.py)

    def stop(self) -> None:
        """Stop the servers and the client's warm process; bring the records up to date
        (the level a Ctrl-C cut)."""
        if self.calibrator is not None:
            self.calibrator.close()
        self.life.stop()
        release(self.life.run_dir)
        if self.records is not None:
            self.records.sync_quietly()


def _hold(life: ServerLife, keep_raw_db: bool) -> _Held:
    """What the run holds: the server's life, the calibrator (not started yet), and the
    run's records (`keep_raw_db`: evalscope's databases are kept once requests.parquet
    has them)."""
    result, run_dir = life.result, life.run_dir
    version = result.provenance.evalscope
    calibrator = Calibrator(life.scenario, run_dir, life.tokenizer, version, result.provenance)
    return _Held(life, calibrator, Records(run_dir, result, keep_raw_db))


def run(
    scenario: Scenario,
    output_dir: Path | None = None,
    console: Console | None = None,
    resume: Path | None = None,
    skip_check: bool = False,
    plan: PlanFn | None = None,
    keep_raw_db: bool = False,  # bench/measure/records.py
) -> Outcome:
    """Run the levels not yet finished; returns the run (complete, failed or interrupted).
    `resume`: continue that run directory (ok levels kept, the others measured again).
    `plan(run)`: the levels to measure instead of the sweep's, yielded one at a time after
    looking at the levels so far (`vlm-bench capacity`, bench/measure/capacity.py)."""
    console = console or Console(stderr=True)
    check_references(scenario)
    version = client_version()
    tokenizer = resolve_tokenizer(scenario)
    result, run_dir = _begin(scenario, output_dir, resume, tokenizer)
    lock = RunLock(run_dir)  # exit 2 while another vlm-bench runs in this directory
    reserve = Reserve(run_dir)  # room for the last run.json on a disk that fills up
    result.provenance.evalscope = version
    todo = plan(result) if plan is not None else _todo(scenario, result)
    held = _hold(ServerLife(scenario, tokenizer, result, run_dir, console), keep_raw_db)
    failed_write: OSError | None = None
    try:
        save(result, run_dir)
        console.print(f"[bold]{scenario.name}[/] → {run_dir}")
        prewarm(scenario, run_dir)  # the client's imports while the server starts
        held.life.start()
        swept = _sweep(held, todo, check=not (skip_check or resume))  # both: unchecked
        result.status = RunStatus.COMPLETE if swept else RunStatus.FAILED
        result.reason = result.reason or failed_requests(result.levels)
    except (WriteFailed, OSError) as exc:
        # A file of ours could not be written (disk full, most often: run.json, samples,
        # evalscope's log, …): stop; `finish` records it in run.json, one line, exit 1.
        failed_write = exc.error if isinstance(exc, WriteFailed) else exc
        if not is_file_error(failed_write):
            raise
        if failed_write.filename is None:
            failed_write.filename = str(run_dir)
        result.status = RunStatus.FAILED
        result.reason = failure_reason(failed_write)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM; Interrupted carries the cut level
        if isinstance(exc, Interrupted):
            result.levels.append(exc.level)
            result.levels.sort(key=_order)
        result.status = RunStatus.INTERRUPTED
        result.reason = result.reason or INTERRUPTED
        raise
    except UserError as exc:
        result.status = RunStatus.FAILED
        result.reason = result.reason or str(exc)
        if isinstance(exc, ServerError):  # a bad input (exit 2) stays one line
            _tell(console, result)
        raise
    finally:
        finish(result, run_dir, console, write_report, held.stop, lock, failed_write, reserve)
    if not result.ok:
        _tell(console, result)
    return Outcome(result, run_dir)


def _todo(scenario: Scenario, result: RunResult) -> list[SweepLevel]:
    """The levels still to measure: a level kept from an earlier attempt has status ok
    (the others are dropped from the run and measured again)."""
    done = {(lv.index, lv.repeat): lv for lv in result.levels if lv.status == "ok"}
    result.levels = sorted(done.values(), key=_order)
    return [at for at in scenario.sweep.runs() if (at.index, at.repeat) not in done]


def _sweep(held: _Held, todo: Iterable[SweepLevel], check: bool) -> bool:
    """The answer check (when `check`), then `todo` in order, the run saved after each
    level; False when a required check failed (nothing is measured) or when a level
    failed or the server died, which ends the sweep there."""
    life = held.life
    scenario, result, console = life.scenario, life.result, life.console
    checked = not check or answer_check_before_sweep(
        scenario, life.current, life.run_dir, result, console
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        if checked:  # kept levels (--resume) whose calibration was cut short get it now
            _calibrate(held, result.levels, result, life.run_dir, progress, console)
        for k, at in enumerate(todo if checked else []):
            console.print(level_line(scenario, at, result.levels), markup=False, highlight=False)
            plan = plan_level(scenario, life.run_dir, at)  # the level's one plan, every step
            if k:
                hold("between-levels")
                life.between_levels(plan)
            level = life.measure(plan, progress)
            commit(result, level, life.run_dir)  # in run.json before anything can go wrong
            if held.records is not None:  # the level's records; its databases deleted
                held.records.sync()
            _calibrate(held, [level], result, life.run_dir, progress, console)
            if level.status != "ok" or not life.current.alive():
                console.print(f"[red]conc {plan.parallel}: {level.status}:[/] {level.reason}")
                why = level.reason or "the server died"
                result.reason = result.reason or f"conc {plan.parallel}: {level.status}: {why}"
                return False
    return checked


def commit(result: RunResult, level: LevelResult, run_dir: Path) -> None:
    """A finished level into the run and run.json, at once: whatever comes next (its
    calibration, the next level, the report, a Ctrl-C or SIGTERM) finds it kept, and
    `--resume` never measures it again. The signals wait for the write."""
    with signals_held():
        result.levels.append(level)
        result.levels.sort(key=_order)
        save(result, run_dir)


def _calibrate(
    held: _Held,
    levels: list[LevelResult],
    result: RunResult,
    run_dir: Path,
    progress: Progress,
    console: Console,
) -> None:
    """The client's error on each of these committed levels that still lacks it, each
    level saved again once it carries the figure."""
    calibrator = held.calibrator
    for level in levels:
        if calibrator is not None and calibrator.pending(level):
            calibrator.attach(level, progress, console)
            save(result, run_dir)


def _tell(console: Console, run: RunResult) -> None:
    """The report's "What happened" section, on the console."""
    console.print("[bold red]What happened[/]")
    for line in what_happened(run):
        console.print(line, markup=False, highlight=False)


def failed_requests(levels: list[LevelResult]) -> str:
    """Why a complete sweep is still not clean: levels whose failed requests went beyond
    validity.max_failed_ratio (their `success` check is flagged)."""
    bad = [
        f"conc {lv.parallel}: {check.detail}"
        for lv in levels
        for check in lv.checks
        if check.name == "success" and check.status == CheckStatus.FLAG
    ]
    return "failed requests beyond validity.max_failed_ratio: " + "; ".join(bad) if bad else ""
