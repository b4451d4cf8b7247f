"""A level measured in rounds until its figures are precise enough (`sweep.stop`).

Each round is one evalscope process of `parallel × waves` requests with its own data
(the seed of worker r − 1 of a split level, bench/load/evalscope.py `level_seed`) under
`raw/level-NN/round-R/`. After each round the rows so far are merged and the rule of
bench/analyze/precision.py `stop_check` decides: every named metric's relative CI
half-width at most `rel_half_width` (once `min_requests` are in), else `max_requests` or
`max_time_s`. The rounds' rows are laid end to end (each round shifted back by the idle
gap before it: evalscope's start-up is not the server's time), so rates are over the
rounds' own wall times; the level's client window keeps the real clock, for /metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from bench.analyze import precision as rules
from bench.load import evalscope, pool
from bench.load.evalscope_db import DB_FILE, RequestRow, read_requests
from bench.measure import servermetrics
from bench.measure.parse import parse_rows
from bench.measure.precision import samples
from bench.schema.figures import mean, percentile
from bench.schema.precision import PrecisionView
from bench.schema.results import LevelResult, LevelStatus
from bench.schema.scenario import Scenario
from bench.schema.scenario_stop import StopSpec
from bench.serve import server


@dataclass
class Rounds:
    level: LevelResult
    outcome: evalscope.LevelRun
    samples: list[dict[str, Any]]
    interrupted: bool
    rows: list[RequestRow]  # the rounds end to end (`abutted`), as the level's figures


def estimates(rows: list[RequestRow]) -> dict[str, float]:
    """The interval figures' point values (figures.py formulas) from the rows."""
    got = samples(rows)
    out: dict[str, float] = {}
    for key, name, p in rules.INTERVAL_FIGURES:
        out[key] = mean(got[name]) if p is None else percentile(got[name], p)
    return out


def abutted(rounds: list[list[RequestRow]]) -> list[RequestRow]:
    """The rounds' rows end to end: round r shifted back by the idle time before it."""
    out: list[RequestRow] = []
    end: float | None = None
    for rows in rounds:
        if not rows:
            continue
        start = min(r.start_time for r in rows)
        shift = 0.0 if end is None else end - start
        moved = pool.shifted(rows, shift)
        out += moved
        end = max(r.completed_time for r in moved)
    return out


def _round(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    r: int,
    on: tuple[Callable[[int, int], None], servermetrics.LevelWatch],
) -> tuple[evalscope.LevelRun, list[RequestRow]]:
    index, repeat, parallel, number = slot
    outputs = run_dir / "raw" / evalscope.level_name(index, repeat) / f"round-{r}"
    outputs.mkdir(parents=True, exist_ok=True)
    argv = evalscope.level_argv(
        scenario, handle.url, tokenizer, index, parallel, number, outputs, repeat, worker=r - 1
    )
    folder = evalscope.level_dir(outputs, index, parallel, number, repeat)
    limit = scenario.generous_limit_s(index, parallel, number)
    outcome = evalscope.run_level(
        argv,
        folder,
        outputs / evalscope.LOG_FILE,
        limit,
        on[0],
        on_start=on[1].client,
        secrets=(evalscope.secret_args(scenario), evalscope.secret_values(scenario)),
    )
    return outcome, read_requests(folder) if (folder / DB_FILE).exists() else []


def measure_rounds(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
) -> Rounds:
    """Rounds of level `slot` until `sweep.stop` says so (module docstring)."""
    stop = scenario.sweep.stop
    assert stop is not None  # the caller's condition
    index, repeat, parallel, _ = slot
    per_round = parallel * stop.waves
    folder = run_dir / "raw" / evalscope.level_name(index, repeat)
    folder.mkdir(parents=True, exist_ok=True)
    task = progress.add_task(f"conc {parallel:>3} (until precise)", total=stop.max_requests)
    watch = servermetrics.LevelWatch(
        handle.metrics_text,
        folder,
        scenario.load.warmup_for(parallel),
        scenario.validity.scrape_interval_s,
    )
    watch.start()
    got: list[list[RequestRow]] = []
    outcome, interrupted, started = evalscope.LevelRun(None), False, time.monotonic()
    check = rules.StopCheck(False, "", {})
    try:
        while not check.stop:
            done = sum(len(rows) for rows in got)
            step = per_round if done + per_round <= stop.max_requests else stop.max_requests - done

            def on_progress(n: int, failed: int, done: int = done) -> None:
                progress.update(task, completed=done + n)

            one = (index, repeat, parallel, max(step, parallel))
            outcome, rows = _round(
                scenario, handle, tokenizer, run_dir, one, len(got) + 1, (on_progress, watch)
            )
            got.append(rows)
            if outcome.returncode not in (0, None) or not rows or not handle.alive():
                check = rules.StopCheck(True, "round failed", check.half_width)
                break
            check = _check(stop, got, time.monotonic() - started)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        watch_samples = watch.stop()
    return _result(
        scenario,
        slot,
        got,
        check,
        Rounds(LevelResult(parallel, parallel), outcome, watch_samples, interrupted, []),
    )


def _check(stop: StopSpec, got: list[list[RequestRow]], elapsed: float) -> rules.StopCheck:
    merged = [r for rs in got for r in rs]
    return rules.stop_check(
        estimates(merged),
        rules.intervals(samples(merged)),
        stop.metric,
        stop.rel_half_width,
        (len(merged), stop.min_requests, stop.max_requests),
        (elapsed, stop.max_time_s),
    )


def _result(
    scenario: Scenario,
    slot: tuple[int, int, int, int],
    got: list[list[RequestRow]],
    check: rules.StopCheck,
    out: Rounds,
) -> Rounds:
    index, repeat, parallel, _ = slot
    real = [r for rs in got for r in rs]
    total = max(1, len(real))
    level = parse_rows(abutted(got), parallel, total, scenario.load.fixed_output_tokens)
    if real:
        level.client.window = [
            min(r.start_time for r in real),
            max(r.completed_time for r in real),
        ]
    else:
        level.status, level.reason = LevelStatus.FAILED, "no round recorded a request"
    level.raw_dir = str(Path("raw") / evalscope.level_name(index, repeat))
    level.precision = PrecisionView(
        rounds=len(got),
        requests=len(real),
        stop_reason=check.reason,
        half_width={k: v for k, v in check.half_width.items() if v != float("inf")},
    )
    out.level, out.rows = level, abutted(got)
    return out
