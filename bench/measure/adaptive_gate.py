"""`vlm-bench gate --adaptive`: measure the candidate one repeat at a time and stop as soon
as the sequential gate (bench/analyze/sequential.py) decides.

Look k runs the scenario once with the data of repeat k (load.seed + 1000 × (k − 1), as
`sweep.repeats` would draw it) into its own run directory; the looks' levels, renumbered
as repeats 1..k, make the candidate run the gate judges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from bench.analyze import gate as fixed
from bench.analyze import sequential
from bench.errors import UserError
from bench.measure import sweep
from bench.schema.results import RunResult
from bench.schema.scenario import Scenario

Runner = Callable[[Scenario, Path], RunResult]


@dataclass
class Adaptive:
    verdict: str  # REGRESSION | PASS | SUSPECT
    looks: int
    candidate: RunResult | None = None
    cells: list[sequential.CellLook] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)


def look_scenario(scenario: Scenario, k: int) -> Scenario:
    """The scenario for look k: one repeat, with repeat k's data."""
    load = scenario.load.model_copy(update={"seed": scenario.load.seed + 1000 * (k - 1)})
    return scenario.model_copy(
        update={"load": load, "sweep": scenario.sweep.model_copy(update={"repeats": 1})}
    )


def sweep_runner(console: Console) -> Runner:
    def run(scenario: Scenario, out: Path) -> RunResult:
        outcome = sweep.run(scenario, out, console=console)
        if outcome.run.status != "complete":
            raise UserError(f"adaptive gate: candidate run {outcome.run.status}: {outcome.run_dir}")
        return outcome.run

    return run


def adaptive_gate(
    scenario: Scenario,
    baseline: RunResult,
    out: Path,
    runner: Runner,
    looks: int = 5,
    beta: float = 0.05,
) -> Adaptive:
    """Up to `looks` candidate repeats, stopping at the first decided look."""
    thresholds, alpha = fixed.default_thresholds(), scenario.gate.alpha
    overrides = {k: (v.band, v.floor) for k, v in scenario.gate.thresholds.items()}
    bands = {k: (t.band, t.floor) for k, t in thresholds.items()} | overrides
    bands = {k: v for k, v in bands.items() if not fixed.BY_KEY[k].telemetry}
    result = Adaptive(sequential.CONTINUE, 0)
    levels = []
    for k in range(1, looks + 1):
        run = runner(look_scenario(scenario, k), out / f"look-{k}")
        levels += [replace(lv, repeat=k) for lv in run.levels]
        cand = replace(run, levels=list(levels))
        state, cells = sequential.gate_look(baseline, cand, bands, (alpha, beta), (k, looks))
        result = Adaptive(state, k, cand, cells, [*result.run_dirs, out / f"look-{k}"])
        if state != sequential.CONTINUE:
            break
    return result
