"""One load-generator interface: given a level's plan (bench/schema/plan.py), run it and
give back a row per measured request and the client's own account (bench/load/result.py).

A `LoadGenerator` (evalscope today: bench/load/evalscope_gen.py) knows two things: how to
run a plan as one client process (`one`), and as K workers (`workers`, driven together by
bench/load/pool.py). How a level uses them is a strategy, registered here by name and
picked per level by `strategy_for`:

- `closed`: one process, a closed loop of `parallel` requests in flight;
- `rate`: one process sending at the plan's arrival rate (capped at `parallel`);
- `split`: K workers released together, their rows merged onto this process's clock
  (local children, or Ray actors with `cluster: {engine: ray}`);
- `rounds`: `sweep.stop`, one process per round (round r draws the data of worker r − 1)
  until the caller's `Hooks.until` says the rows are enough.

Nothing outside bench/load/ knows a load generator's argv, folders, logs, child processes
or secrets; bench/measure/ calls `open_generator` and `run` (tests/unit/test_load_boundary.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.load import evalscope_gen, pool
from bench.load.plan import part
from bench.load.result import ClientAccount, LoadRun, RawPart, RequestRow
from bench.schema.plan import LevelPlan
from bench.schema.results import LevelResult
from bench.schema.scenario import Scenario

Progress = Callable[[int, int], None]  # (requests finished, of them failed) so far


@dataclass
class Hooks:
    """What the caller follows a level by: its progress, the client's pid (its CPU is
    sampled) and, for `rounds`, whether the rounds so far are enough."""

    progress: Progress | None = None
    on_client: Callable[[int], None] | None = None
    until: Callable[[list[list[RequestRow]], ClientAccount], bool] | None = None


class LoadGenerator(Protocol):
    name: str
    scenario: Scenario

    def one(self, plan: LevelPlan, home: Path, hooks: Hooks) -> LoadRun: ...
    def workers(self, plan: LevelPlan, k: int, hooks: Hooks) -> list[pool.Worker]: ...


Strategy = Callable[[LoadGenerator, LevelPlan, Hooks], LoadRun]
STRATEGIES: dict[str, Strategy] = {}
GENERATORS: dict[str, Callable[[Scenario, str, str], LoadGenerator]] = {
    evalscope_gen.NAME: evalscope_gen.Evalscope,
}
DEFAULT = evalscope_gen.NAME
RECORDS_FILE = evalscope_gen.DB_FILE  # where it records a level's requests (for a reason)


def register(name: str) -> Callable[[Strategy], Strategy]:
    def add(strategy: Strategy) -> Strategy:
        STRATEGIES[name] = strategy
        return strategy

    return add


def open_generator(scenario: Scenario, url: str, tokenizer: str) -> LoadGenerator:
    """The scenario's load generator against the server at `url`."""
    return GENERATORS[DEFAULT](scenario, url, tokenizer)


def worker_count(scenario: Scenario, parallel: int, number: int) -> int:
    """K for this level (1: one process, exactly as without workers; always in a rate
    sweep, whose arrival rate one process keeps, in rounds, `sweep.stop`, and for a trace,
    whose schedule one process replays)."""
    one = scenario.sweep.rate is not None or scenario.sweep.stop is not None
    if one or scenario.replays_trace:
        return 1
    return scenario.load.workers_for(parallel, number, os.cpu_count() or 1)


def prewarm(scenario: Scenario, run_dir: Path) -> None:
    """Start what the run's levels need that is slow to start (evalscope's imports, in the
    run's zygote) while the run starts its server, unless its first level is split across
    workers or a cluster (they start their own processes)."""
    first = min(scenario.sweep.parallel)
    if scenario.cluster is None and worker_count(scenario, first, first) == 1:
        evalscope_gen.prewarm(run_dir)


def release(run_dir: Path) -> None:
    """Stop what `prewarm` or the levels left running for the run (at its end)."""
    evalscope_gen.release(run_dir)


def strategy_for(scenario: Scenario, plan: LevelPlan) -> str:
    """The strategy that measures `plan` (module docstring)."""
    if scenario.sweep.stop is not None:
        return "rounds"
    ray = scenario.cluster is not None and scenario.cluster.engine == "ray"
    if (ray and not scenario.replays_trace) or worker_count(
        scenario, plan.parallel, plan.number
    ) > 1:
        return "split"
    return "rate" if plan.point.rate is not None else "closed"


def run(gen: LoadGenerator, plan: LevelPlan, hooks: Hooks, strategy: str) -> LoadRun:
    """`plan` by the named strategy; Ctrl-C is caught and reported (`interrupted`)."""
    return STRATEGIES[strategy](gen, plan, hooks)


@register("closed")
@register("rate")
def _one(gen: LoadGenerator, plan: LevelPlan, hooks: Hooks) -> LoadRun:
    return gen.one(plan, plan.raw, hooks)


@register("split")
def _split(gen: LoadGenerator, plan: LevelPlan, hooks: Hooks) -> LoadRun:
    k = worker_count(gen.scenario, plan.parallel, plan.number)
    plan.raw.mkdir(parents=True, exist_ok=True)
    members = gen.workers(plan, k, hooks)
    interrupted = False
    try:
        got = pool.run_pool(members, plan.time_limit_s, hooks.progress)
    except KeyboardInterrupt:
        interrupted = True
        got = pool.PoolRun(outputs=[m.collect() for m in members])
    rows, stats = pool.merge(got)
    account = ClientAccount(gen.name, got.returncode, got.timed_out, interrupted, workers=stats)
    account.prepared = [Path(m.spec.prepared) for m in members if m.spec.prepared]
    if got.dead:
        tail = next(o for o in got.outputs if o.exit_code not in (0, None)).log_tail
        account.dead, account.log_tail = f"{got.dead}: {tail}", tail
    return LoadRun(rows, account, plan.raw)


@register("rounds")
def _rounds(gen: LoadGenerator, plan: LevelPlan, hooks: Hooks) -> LoadRun:
    stop = gen.scenario.sweep.stop
    assert stop is not None and hooks.until is not None  # strategy_for's condition
    per_round = plan.parallel * stop.waves
    got: list[list[RequestRow]] = []
    account = ClientAccount(gen.name)
    prepared: list[Path] = []
    while True:
        done = sum(len(rows) for rows in got)
        step = per_round if done + per_round <= stop.max_requests else stop.max_requests - done
        one = part(gen.scenario, plan, plan.parallel, max(step, plan.parallel), len(got))
        home = plan.raw / f"round-{len(got) + 1}"
        run = gen.one(one, home, Hooks(_after(hooks.progress, done), hooks.on_client))
        account = run.account
        if account.interrupted:  # the cut round is kept on disk, not in the level
            break
        prepared += account.prepared
        got.append(run.rows)
        if hooks.until(got, account):
            break
    account.prepared = prepared
    return LoadRun([r for rows in got for r in rows], account, plan.raw, rounds=got)


def _after(progress: Progress | None, done: int) -> Progress | None:
    """`progress` counting on from `done` requests (a round's, after the earlier ones)."""
    if progress is None:
        return None
    return lambda n, failed: progress(done + n, failed)


def client_version() -> str:
    """The load generator's version, for provenance; UserError when it is missing or
    untested."""
    return evalscope_gen.version()


def read_folder(level_dir: Path) -> LoadRun:
    """A kept level folder of one client process: its rows and its own figures' notes."""
    return evalscope_gen.read_folder(level_dir)


def level_rows(run_dir: Path, level: LevelResult) -> list[RequestRow]:
    """A measured level's rows, split or not, on the run's clock, in completion order."""
    return evalscope_gen.level_rows(run_dir, level)


def raw_parts(run_dir: Path, level: LevelResult) -> list[RawPart]:
    """The client's raw records of a measured level, by worker and round (none once
    deleted)."""
    return evalscope_gen.raw_parts(run_dir, level)


def commands(
    scenario: Scenario, url: str, tokenizer: str, plans: list[LevelPlan]
) -> dict[str, list[Any]]:
    """What --dry-run shows: `sweep_argv`, `level_argvs`, `secret_args` (as written)."""
    return evalscope_gen.commands(scenario, url, tokenizer, plans)


def prompts(scenario: Scenario, tokenizer: str, count: int) -> list[dict[str, Any]]:
    """`count` requests of the scenario's load (seeded) as {"text", "images": [data URLs]}."""
    return evalscope_gen.prompts(scenario, tokenizer, count)
