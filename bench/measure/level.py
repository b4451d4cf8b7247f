"""One level measured and judged: its plan run by the load generator
(bench/load/generator.py: one client process, K workers, or rounds) while the server's
/metrics, the client's CPU and the accelerators are sampled, then the parsed result, the
server's, the client's and the accelerators' view, and the validity checks
(bench/analyze/validity.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.progress import Progress

from bench.analyze import validity
from bench.load import generator
from bench.load.result import ClientAccount, LoadRun, RequestRow
from bench.measure import precision, rounds, seen, servermetrics, telemetry
from bench.measure.parse import note_cross_check, parse_rows, set_goodput
from bench.schema.plan import LevelPlan
from bench.schema.results import LevelResult, LevelStatus, decide_status
from bench.schema.scenario import Scenario
from bench.serve import server

# (source name, readings) of bench.measure.telemetry
Telemetry = tuple[str | None, list[dict[str, Any]]]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def measure(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    plan: LevelPlan,
    progress: Progress,
) -> LevelResult:
    """Measure one level against a ready server and judge it; raises Interrupted,
    carrying the level cut short, on Ctrl-C."""
    log_start = handle.log_offset()
    started = now_iso()
    plan.raw.mkdir(parents=True, exist_ok=True)
    accel = telemetry.TelemetryWatch(
        telemetry.open_source(scenario),
        telemetry.device_ids(scenario),
        plan.raw,
        scenario.validity.telemetry_interval_s,
    )
    accel.start()
    try:
        level, got, samples = _load(scenario, handle, tokenizer, plan, progress)
    finally:
        readings = accel.stop()
    level.index, level.repeat, level.rate = plan.index, plan.repeat, plan.point.rate
    level.started_at, level.finished_at = started, now_iso()
    level.diagnostics.server_log_bytes = [log_start, handle.log_offset()]
    level.diagnostics.warmup_tokens = plan.warmup_tokens
    level.workload = seen.summarise(got)  # empty without a workload: section
    if level.measured:  # steady state and confidence intervals (measure/precision.py)
        precision.attach(level, rounds.abutted(got.rounds) if got.rounds else got.rows)
    _mark_outcome(handle, level, got.account, plan)
    _judge(scenario, level, samples, (accel.source.name if accel.source else None, readings))
    if got.account.interrupted:
        raise Interrupted(level)
    return level


def _load(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    plan: LevelPlan,
    progress: Progress,
) -> tuple[LevelResult, LoadRun, list[dict[str, Any]]]:
    """The load generator runs the level (its strategy: bench/load/generator.py) while
    /metrics and the client's CPU are sampled: (the parsed level, the run, the samples)."""
    gen = generator.open_generator(scenario, handle.url, tokenizer)
    strategy = generator.strategy_for(scenario, plan)
    until = rounds.Until(scenario, handle) if strategy == "rounds" else None
    watch = servermetrics.LevelWatch(
        handle.metrics_text, plan.raw, plan.warmup, scenario.validity.scrape_interval_s
    )
    hooks = generator.Hooks(_progress(scenario, plan, strategy, progress), watch.client)
    hooks.until = until
    watch.start()
    try:
        got = generator.run(gen, plan, hooks, strategy)
    finally:
        samples = watch.stop()
    if until is not None:
        return rounds.level_of(scenario, plan, got, until.check), got, samples
    return _parse(scenario, plan, got), got, samples


def _progress(
    scenario: Scenario, plan: LevelPlan, strategy: str, progress: Progress
) -> generator.Progress:
    """The level's progress bar, as the load generator's progress callback."""
    title = f"conc {plan.parallel:>3}"
    total = plan.number
    if strategy == "rounds":
        assert scenario.sweep.stop is not None
        title, total = title + " (until precise)", scenario.sweep.stop.max_requests
    elif strategy == "split":
        title += f" ×{generator.worker_count(scenario, plan.parallel, plan.number)}"
    elif scenario.sweep.repeats > 1:
        title += f" #{plan.repeat}/{scenario.sweep.repeats}"
    task = progress.add_task(title, total=total)

    def on_progress(done: int, failed: int) -> None:
        if strategy == "rounds":  # a round's failures show in its level's reason
            progress.update(task, completed=done)
            return
        label = title + (f" [red]{failed} failed[/]" if failed else "")
        progress.update(task, completed=done, description=label)

    return on_progress


def _parse(scenario: Scenario, plan: LevelPlan, got: LoadRun) -> LevelResult:
    """The level's figures from the run's rows; a client that recorded nothing, or a
    worker that died, fails it with the reason."""
    account = got.account
    if not account.recorded:
        level = LevelResult(
            plan.parallel,
            plan.number,
            status=LevelStatus.FAILED,
            reason=f"{account.client} wrote no results (exit {account.exit_code}): "
            f"{account.log_tail}",
        )
        level.raw_dir = str(got.folder.relative_to(plan.run_dir))
        return level
    level = parse_rows(got.rows, plan.parallel, plan.number, scenario.load.fixed_output_tokens)
    note_cross_check(level, account)
    _count_timeouts(got.rows, level, scenario.load.request_timeout_s)
    set_goodput(level, got.rows, scenario.slo.ttft_p99_s, scenario.slo.tpot_p99_s)
    level.diagnostics.workers = account.workers or None  # None: one process
    level.raw_dir = str(got.folder.relative_to(plan.run_dir))
    if account.dead:
        mark(level, LevelStatus.FAILED, account.dead)
        level.status = LevelStatus.FAILED
    return level


def _mark_outcome(
    handle: server.ServerHandle, level: LevelResult, account: ClientAccount, plan: LevelPlan
) -> None:
    """Say how the level was cut short, if it was: Ctrl-C, its time limit, the client's
    exit status, or a server that died during it."""
    recorded = level.succeeded + level.failed
    if account.interrupted:
        mark(level, LevelStatus.PARTIAL, f"interrupted after {recorded} of {plan.number} requests")
    elif account.timed_out:
        mark(
            level,
            LevelStatus.PARTIAL,
            f"level timed out after {plan.time_limit_s:g} s (load.level_timeout_s) with "
            f"{recorded} of {plan.number} requests recorded",
        )
    elif account.exit_code not in (0, None):
        mark(level, level.status, f"{account.client} exited {account.exit_code}")
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
