"""One level measured and judged: evalscope in a child process (or split across load
workers) while the server's /metrics, the client's CPU and the accelerators are sampled,
then the parsed result, the server's, the client's and the accelerators' view, and the
validity checks (bench/analyze/validity.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from bench.analyze import validity
from bench.load import evalscope
from bench.load.evalscope_db import DB_FILE, RequestRow, read_requests
from bench.measure import level_split, precision, rounds, servermetrics, telemetry
from bench.measure.parse import parse_level, parse_rows, set_goodput
from bench.schema.results import LevelResult, LevelStatus, decide_status
from bench.schema.scenario import Scenario
from bench.serve import server

# (source name, readings) of bench.measure.telemetry
Telemetry = tuple[str | None, list[dict[str, Any]]]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _level_timeout(scenario: Scenario, slot: tuple[int, int, int, int]) -> float:
    """The scenario's (load.level_timeout_s), or `Scenario.generous_limit_s`."""
    if scenario.load.level_timeout_s is not None:
        return scenario.load.level_timeout_s
    index, _, parallel, number = slot
    return scenario.generous_limit_s(index, parallel, number)


def measure(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
) -> LevelResult:
    """Measure one level (`slot`: index, repeat, parallel, number) against a ready server
    and judge it; raises Interrupted, carrying the level cut short, on Ctrl-C."""
    index, repeat, parallel, number = slot
    log_start = handle.log_offset()
    started = now_iso()
    k = level_split.worker_count(scenario, parallel, number)
    folder = run_dir / "raw" / evalscope.level_name(index, repeat)
    folder.mkdir(parents=True, exist_ok=True)
    accel = telemetry.TelemetryWatch(
        telemetry.open_source(scenario),
        telemetry.device_ids(scenario),
        folder,
        scenario.validity.telemetry_interval_s,
    )
    accel.start()
    got: rounds.Rounds | None = None
    try:
        if scenario.sweep.stop is not None:
            got = rounds.measure_rounds(scenario, handle, tokenizer, run_dir, slot, progress)
            level, outcome, samples, interrupted = got.level, got.outcome, got.samples, False
        elif k > 1 or level_split.split(scenario):
            level, outcome, samples, interrupted = _measure_split(
                scenario, handle, tokenizer, run_dir, slot, progress, k
            )
        else:
            level, outcome, samples, interrupted = _measure_one(
                scenario, handle, tokenizer, run_dir, slot, progress
            )
    finally:
        readings = accel.stop()
    level.index, level.repeat, level.rate = index, repeat, scenario.sweep.rate_at(index)
    level.started_at, level.finished_at = started, now_iso()
    level.diagnostics.server_log_bytes = [log_start, handle.log_offset()]
    level.diagnostics.warmup_tokens = scenario.load.warmup_tokens_for(parallel)
    if level.measured:  # steady state and confidence intervals (measure/precision.py)
        precision.attach(level, got.rows if got else level_split.level_rows(run_dir, level))
    interrupted = interrupted or bool(got and got.interrupted)
    _mark_outcome(scenario, handle, level, outcome, interrupted, slot)
    _judge(scenario, level, samples, (accel.source.name if accel.source else None, readings))
    if interrupted:
        raise Interrupted(level)
    return level


def _measure_one(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
) -> tuple[LevelResult, evalscope.LevelRun, list[dict[str, Any]], bool]:
    """The level as one evalscope process: (parsed level, how it ended, samples, Ctrl-C)."""
    index, repeat, parallel, number = slot
    level_log = run_dir / "raw" / evalscope.level_name(index, repeat) / evalscope.LOG_FILE
    folder = evalscope.level_dir(run_dir / "raw", index, parallel, number, repeat)
    outcome, samples, interrupted = _run(scenario, handle, tokenizer, run_dir, slot, progress)
    if (folder / DB_FILE).exists():
        rows = read_requests(folder)  # once: parsing, timeouts and goodput all use them
        level = parse_level(folder, parallel, number, scenario.load.fixed_output_tokens, rows)
        _count_timeouts(rows, level, scenario.load.request_timeout_s)
        set_goodput(level, rows, scenario.slo.ttft_p99_s, scenario.slo.tpot_p99_s)
    else:
        level = LevelResult(
            parallel,
            number,
            status=LevelStatus.FAILED,
            reason=f"evalscope wrote no results (exit {outcome.returncode}): {tail(level_log)}",
        )
    level.raw_dir = str(folder.relative_to(run_dir))
    return level, outcome, samples, interrupted


def _measure_split(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
    k: int,
) -> tuple[LevelResult, evalscope.LevelRun, list[dict[str, Any]], bool]:
    """The level as `k` load workers (bench/measure/level_split.py), from their merged rows;
    a worker that died fails the level with its reason."""
    _, _, parallel, number = slot
    timeout = _level_timeout(scenario, slot)
    got = level_split.run_split(scenario, handle, tokenizer, run_dir, slot, progress, k, timeout)
    level = parse_rows(got.rows, parallel, number, scenario.load.fixed_output_tokens)
    _count_timeouts(got.rows, level, scenario.load.request_timeout_s)
    set_goodput(level, got.rows, scenario.slo.ttft_p99_s, scenario.slo.tpot_p99_s)
    level.diagnostics.workers = got.stats
    level.raw_dir = str(got.folder.relative_to(run_dir))
    if got.run.dead:
        dead = next(o for o in got.run.outputs if o.exit_code not in (0, None))
        mark(level, LevelStatus.FAILED, f"{got.run.dead}: {dead.log_tail}")
        level.status = LevelStatus.FAILED
    outcome = evalscope.LevelRun(got.run.returncode, timed_out=got.run.timed_out)
    return level, outcome, got.samples, got.interrupted


def _run(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
) -> tuple[evalscope.LevelRun, list[dict[str, Any]], bool]:
    """evalscope's level in a child process, with a progress bar, while /metrics and the
    client's CPU are sampled: (how it ended, the samples, whether Ctrl-C cut it short)."""
    index, repeat, parallel, number = slot
    raw = run_dir / "raw"
    name = evalscope.level_name(index, repeat)
    (raw / name).mkdir(parents=True, exist_ok=True)
    argv = evalscope.level_argv(
        scenario, handle.url, tokenizer, index, parallel, number, raw, repeat
    )
    repeats = scenario.sweep.repeats
    title = f"conc {parallel:>3}" + (f" #{repeat}/{repeats}" if repeats > 1 else "")
    task = progress.add_task(title, total=number)

    def on_progress(done: int, failed: int) -> None:
        label = title + (f" [red]{failed} failed[/]" if failed else "")
        progress.update(task, completed=done, description=label)

    watch = servermetrics.LevelWatch(
        handle.metrics_text,
        raw / name,
        scenario.load.warmup_for(parallel),
        scenario.validity.scrape_interval_s,
    )
    watch.start()
    interrupted = False
    try:
        outcome = evalscope.run_level(
            argv,
            evalscope.level_dir(raw, index, parallel, number, repeat),
            raw / name / evalscope.LOG_FILE,
            _level_timeout(scenario, slot),
            on_progress,
            on_start=watch.client,
            secrets=(evalscope.secret_args(scenario), evalscope.secret_values(scenario)),
        )
    except KeyboardInterrupt:
        interrupted = True
        outcome = evalscope.LevelRun(None)
    finally:
        samples = watch.stop()
    return outcome, samples, interrupted


def _mark_outcome(
    scenario: Scenario,
    handle: server.ServerHandle,
    level: LevelResult,
    outcome: evalscope.LevelRun,
    interrupted: bool,
    slot: tuple[int, int, int, int],
) -> None:
    """Say how the level was cut short, if it was: Ctrl-C, its time limit, evalscope's
    exit status, or a server that died during it."""
    number = slot[3]
    recorded = level.succeeded + level.failed
    if interrupted:
        mark(level, LevelStatus.PARTIAL, f"interrupted after {recorded} of {number} requests")
    elif outcome.timed_out:
        limit = _level_timeout(scenario, slot)
        mark(
            level,
            LevelStatus.PARTIAL,
            f"level timed out after {limit:g} s (load.level_timeout_s) with {recorded} of "
            f"{number} requests recorded",
        )
    elif outcome.returncode not in (0, None):
        mark(level, level.status, f"evalscope exited {outcome.returncode}")
    if not handle.alive():
        mark(level, LevelStatus.PARTIAL, f"server died: {handle.log_tail()}")


def _judge(
    scenario: Scenario, level: LevelResult, samples: list[dict[str, Any]], accel: Telemetry
) -> None:
    """The level's server view and telemetry (over the client's measured window) and
    validity checks."""
    window = level.client.window
    span = (window[0], window[1]) if window else None
    level.server = servermetrics.summarise(samples, span, measured=level.succeeded)
    if level.measured:
        tokens = level.output_tokens_avg * level.succeeded
        level.telemetry = telemetry.summarise(accel[0], accel[1], span, tokens)
    level.checks = validity.judge(level, scenario)


def _count_timeouts(records: list[RequestRow], level: LevelResult, timeout_s: float) -> None:
    """How many failed requests ran into load.request_timeout_s. evalscope stores no error
    for a failed request, but its start and end: a failed one that lasted the timeout
    (its log says TimeoutError) was left unanswered by the server."""
    if not level.failed:
        return
    hung = sum(
        1 for r in records if not r.success and r.completed_time - r.start_time >= 0.95 * timeout_s
    )
    if hung:
        level.diagnostics.timed_out, level.diagnostics.request_timeout_s = hung, timeout_s
        sent = level.succeeded + level.failed
        why = f"{hung} of {sent} requests timed out after {timeout_s:g} s (load.request_timeout_s)"
        level.reason = "; ".join(filter(None, [why, level.reason]))


def mark(level: LevelResult, status: LevelStatus, reason: str) -> None:
    """Put `reason` first; a level with no successful request is failed whatever else."""
    level.status = decide_status(level.succeeded, cut_short=status == LevelStatus.PARTIAL)
    level.reason = "; ".join(filter(None, [reason, level.reason]))


class Interrupted(KeyboardInterrupt):
    def __init__(self, level: LevelResult) -> None:
        super().__init__()
        self.level = level


def tail(path: Path) -> str:
    """The last non-empty line of a log (300 characters at most)."""
    if not path.exists():
        return "(no output)"
    lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no output)"
