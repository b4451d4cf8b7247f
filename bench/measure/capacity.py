"""`vlm-bench capacity`: the highest concurrency (or arrival rate) that meets the scenario's
SLO, found in one run: an exponential probe, then bisection (bench/analyze/capacity.py),
each probe a level measured as `run` measures one, into a run folder like `run`'s.

The run's sweep grows with the probes: its scenario lists them in the order measured, so
run.json, levels.csv, report.md, compare and the gate read the folder as any sweep. A
probe meets the SLO when it measured every request in full (none failed, every output
length honoured) and its P99 TTFT and P99 TPOT are within slo.ttft_p99_s and
slo.tpot_p99_s; its confidence intervals (bench/analyze/precision.py, order statistics)
say how sure that verdict is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench.analyze.capacity import bracket, next_point
from bench.errors import UserError
from bench.measure import sweep
from bench.schema.plan import SweepLevel
from bench.schema.results import LevelResult, RunResult
from bench.schema.scenario import Scenario

# Largest point probed unless --max says otherwise.
DEFAULT_TOP = 1024


@dataclass
class Probe:
    point: int  # the search's whole number: a concurrency, or the rate in steps
    value: float  # the concurrency, or the rate (req/s)
    level: LevelResult
    meets: bool


@dataclass
class Search:
    by: str  # "parallel" or "rate"
    step: float  # 1 for a concurrency; the rate's resolution (req/s)
    start: int
    top: int
    probes: list[Probe] = field(default_factory=list)

    @property
    def capacity(self) -> float | None:
        """The highest value that met the SLO (None: none did)."""
        low = bracket({p.point: p.meets for p in self.probes})[0]
        return low * self.step if low else None

    @property
    def bounded(self) -> bool:
        """Whether a probe above the capacity failed (else it is at least the top)."""
        return bracket({p.point: p.meets for p in self.probes})[1] is not None


def meets_slo(level: LevelResult, scenario: Scenario) -> bool:
    """Measured in full (nothing failed, lengths honoured) and both P99s within the SLO."""
    slo = scenario.slo
    return (
        level.measured
        and level.status == "ok"
        and level.failed == 0
        and level.tokens_honoured
        and (slo.ttft_p99_s is None or level.ttft_p99_s <= slo.ttft_p99_s)
        and (slo.tpot_p99_s is None or level.tpot_p99_s <= slo.tpot_p99_s)
    )


def margin(level: LevelResult, scenario: Scenario) -> tuple[float, ...]:
    """Each bounded P99 over its SLO bound (1.0: exactly at the bound), TTFT then TPOT."""
    slo = scenario.slo
    return tuple(
        value / bound
        for value, bound in ((level.ttft_p99_s, slo.ttft_p99_s), (level.tpot_p99_s, slo.tpot_p99_s))
        if bound is not None
    )


def prepare(
    scenario: Scenario, by_rate: bool, step: float | None, start: float | None, top: int | None
) -> tuple[Scenario, Search]:
    """The scenario the search runs (its sweep emptied to be filled by the probes) and the
    search's bounds; UserError without an SLO."""
    if scenario.slo.ttft_p99_s is None and scenario.slo.tpot_p99_s is None:
        raise UserError(
            "capacity needs an SLO: set slo.ttft_p99_s and/or slo.tpot_p99_s "
            "(e.g. --set slo.tpot_p99_s=0.06)"
        )
    sw = scenario.sweep
    data = scenario.model_dump(mode="json")
    rule = sw.requests_per_level or ("30s" if by_rate else "4x")
    if by_rate and not rule.endswith("s"):
        rule = "30s"  # a rate level's count is its arrivals over a duration
    unit = (step or 0.5) if by_rate else 1.0
    if by_rate:
        first = start or (sw.rate[len(sw.rate) // 2] if sw.rate else 1.0)
        cap = max(sw.parallel)
        data["sweep"].update(parallel=[cap], rate=[], number=None, requests_per_level=rule)
    else:
        first = start or sw.parallel[len(sw.parallel) // 2]
        data["sweep"].update(parallel=[], rate=None, number=None, requests_per_level=rule)
    data["sweep"]["repeats"] = 1
    # The sweep starts as the first probe; the plan appends the others.
    limit = top or DEFAULT_TOP
    point = max(1, min(limit, round(first / unit)))
    search = Search("rate" if by_rate else "parallel", unit, point, limit)
    data["sweep"]["rate" if by_rate else "parallel"] = [point * unit if by_rate else point]
    return Scenario.model_validate(data), search


def plan(scenario: Scenario, search: Search) -> sweep.PlanFn:
    """The probes as `sweep.run`'s plan: each next point from the verdicts so far,
    appended to the run's sweep (the measured scenario's and the kept one) before it is
    measured."""

    def probes(result: RunResult) -> Iterator[SweepLevel]:
        verdicts: dict[int, bool] = {}
        margins: dict[int, tuple[float, ...]] = {}
        while (point := next_point(verdicts, search.start, search.top, margins)) is not None:
            index = len(search.probes) + 1
            for spec in (scenario.sweep, result.scenario.sweep) if index > 1 else ():
                if search.by == "rate":
                    assert spec.rate is not None
                    spec.rate.append(point * search.step)
                else:
                    spec.parallel.append(point)
            parallel, number = scenario.sweep.levels()[-1]
            yield SweepLevel(index, 1, parallel, number)
            level = next(lv for lv in result.levels if lv.index == index)
            ok = meets_slo(level, scenario)
            search.probes.append(Probe(point, point * search.step, level, ok))
            verdicts[point] = ok
            if level.measured:
                margins[point] = margin(level, scenario)

    return probes


def run(
    scenario: Scenario,
    search: Search,
    output_dir: Path | None,
    console: Console | None = None,
    skip_check: bool = False,
) -> sweep.Outcome:
    """Measure the probes into a run folder; `search.probes` holds them afterwards."""
    outcome = sweep.run(
        scenario, output_dir, console, skip_check=skip_check, plan=plan(scenario, search)
    )
    return outcome
