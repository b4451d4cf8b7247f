"""A level measured in rounds until its figures are precise enough (`sweep.stop`).

Each round is one client process of `parallel × waves` requests with its own data (the
seed of worker r − 1 of a split level, bench/load/plan.py `part`) under
`raw/level-NN/round-R/`: the load generator's `rounds` strategy (bench/load/generator.py)
runs them, asking `Until` after each: the rows so far are merged and the rule of
bench/analyze/precision.py `stop_check` decides: every named metric's relative CI
half-width at most `rel_half_width` (once `min_requests` are in), else `max_requests` or
`max_time_s`. The rounds' rows are laid end to end (each round shifted back by the idle
gap before it: evalscope's start-up is not the server's time), so rates are over the
rounds' own wall times; the level's client window keeps the real clock, for /metrics.
"""

from __future__ import annotations

import time

from bench.analyze import precision as rules
from bench.load.result import ClientAccount, LoadRun, RequestRow, shifted
from bench.measure.parse import parse_rows
from bench.measure.precision import samples
from bench.schema.figures import mean, percentile
from bench.schema.plan import LevelPlan
from bench.schema.precision import PrecisionView
from bench.schema.results import LevelResult, LevelStatus
from bench.schema.scenario import Scenario
from bench.schema.scenario_stop import StopSpec
from bench.serve import server


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
        moved = shifted(rows, shift)
        out += moved
        end = max(r.completed_time for r in moved)
    return out


class Until:
    """`sweep.stop`'s rule as the rounds strategy's `Hooks.until`: after each round, stop
    when the round failed (the client exited non-zero, recorded nothing, or the server
    died) or the rows so far are precise enough; `check` is the last verdict."""

    def __init__(self, scenario: Scenario, handle: server.ServerHandle) -> None:
        assert scenario.sweep.stop is not None  # the caller's condition
        self.stop, self.handle = scenario.sweep.stop, handle
        self.started = time.monotonic()
        self.check = rules.StopCheck(False, "", {})

    def __call__(self, got: list[list[RequestRow]], account: ClientAccount) -> bool:
        if account.exit_code not in (0, None) or not got[-1] or not self.handle.alive():
            self.check = rules.StopCheck(True, "round failed", self.check.half_width)
        else:
            self.check = _check(self.stop, got, time.monotonic() - self.started)
        return self.check.stop


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


def level_of(
    scenario: Scenario, plan: LevelPlan, got: LoadRun, check: rules.StopCheck
) -> LevelResult:
    """The level from its rounds' rows laid end to end, with its rounds' stop record."""
    real = got.rows
    level = parse_rows(
        abutted(got.rounds), plan.parallel, max(1, len(real)), scenario.load.fixed_output_tokens
    )
    if real:
        level.client.window = [
            min(r.start_time for r in real),
            max(r.completed_time for r in real),
        ]
    else:
        level.status, level.reason = LevelStatus.FAILED, "no round recorded a request"
    level.raw_dir = str(plan.raw.relative_to(plan.run_dir))
    level.precision = PrecisionView(
        rounds=len(got.rounds),
        requests=len(real),
        stop_reason=check.reason,
        half_width={k: v for k, v in check.half_width.items() if v != float("inf")},
    )
    return level
