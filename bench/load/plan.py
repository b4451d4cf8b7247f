"""Level plans from a scenario: `plan_level` makes a level's `LevelPlan`
(bench/schema/plan.py) once, `part` a worker's share of it or one round of it.

The data seed is the scenario's seed plus the level's index (and 1000 per repeat), so
every level gets fresh prompts and images (identical ones would hit the server's
multimodal cache) and a rerun gets the same ones; `load.vary_seed: false` keeps one seed
for all. A worker or round w (0-based) adds `WORKER_SEED_STRIDE * w`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.schema.plan import WORKER_SEED_STRIDE, LevelPlan, LoadPoint, SweepLevel
from bench.schema.scenario import Scenario


def level_seed(scenario: Scenario, index: int, repeat: int = 1) -> int:
    """The level's and repeat's own data seed, unless `load.vary_seed` is off."""
    base = scenario.load.seed
    if scenario.load.vary_seed:
        base += index - 1 + 1000 * (repeat - 1)
    return base


def time_limit_s(scenario: Scenario, at: SweepLevel) -> float:
    """The scenario's (load.level_timeout_s), or `Scenario.generous_limit_s`."""
    if scenario.load.level_timeout_s is not None:
        return scenario.load.level_timeout_s
    return scenario.generous_limit_s(at.index, at.parallel, at.number)


def plan_level(scenario: Scenario, run_dir: Path, at: SweepLevel) -> LevelPlan:
    """Level `at` of `scenario`'s sweep, its raw folder under `run_dir`."""
    return LevelPlan(
        index=at.index,
        repeat=at.repeat,
        point=LoadPoint(at.parallel, scenario.sweep.rate_at(at.index)),
        number=at.number,
        seed=level_seed(scenario, at.index, at.repeat),
        warmup=scenario.load.warmup_for(at.parallel),
        warmup_tokens=scenario.load.warmup_tokens_for(at.parallel),
        time_limit_s=time_limit_s(scenario, at),
        run_dir=run_dir,
    )


def part(scenario: Scenario, plan: LevelPlan, parallel: int, number: int, w: int) -> LevelPlan:
    """Worker (or round) `w`'s (0-based) part of `plan`: `parallel` and `number` its share,
    its own data, its own warm-up, and a time limit no healthy server hits."""
    return replace(
        plan,
        point=replace(plan.point, parallel=parallel),
        number=number,
        seed=plan.seed + WORKER_SEED_STRIDE * w,
        warmup=scenario.load.warmup_for(parallel),
        warmup_tokens=scenario.load.warmup_tokens_for(parallel),
        time_limit_s=scenario.generous_limit_s(plan.index, parallel, number),
    )
