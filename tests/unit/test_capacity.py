"""The capacity search without processes: its probe order, its end, and its inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.analyze.capacity import bracket, exhaustive_steps, next_point
from bench.cli import main
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.measure import capacity
from bench.report.capacity import capacity_json, capacity_line, probe_table
from bench.schema.results import LevelResult

QUICKSTART = Path("scenarios/quickstart.yaml")


def search(true_capacity: int, start: int, top: int = 1024) -> list[int]:
    verdicts: dict[int, bool] = {}
    while (k := next_point(verdicts, start, top)) is not None:
        verdicts[k] = k <= true_capacity
    return list(verdicts)


@pytest.mark.parametrize("cap", [0, 1, 2, 3, 7, 8, 12, 15, 16, 31, 100])
def test_the_search_ends_at_the_capacity_for_any_start(cap: int) -> None:
    for start in (1, 4, 8, 32):
        probes = search(cap, start)
        assert bracket({k: k <= cap for k in probes})[0] == cap
        assert len(probes) == len(set(probes))


def test_the_search_doubles_then_bisects() -> None:
    assert search(12, 8) == [8, 16, 12, 14, 13]
    assert search(5000, 8, top=64) == [8, 16, 32, 64]  # met at the top: stops there
    assert exhaustive_steps(1, 32) == 6


def test_capacity_needs_an_slo() -> None:
    with pytest.raises(UserError, match="needs an SLO"):
        capacity.prepare(load_scenario(QUICKSTART), False, None, None, None)


def test_capacity_without_an_slo_is_a_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capacity", str(QUICKSTART)]) == 2
    assert "needs an SLO" in capsys.readouterr().err


def test_a_rate_search_starts_a_rate_sweep_of_one_level() -> None:
    overrides = {"slo.tpot_p99_s": 0.003}
    scenario, found = capacity.prepare(load_scenario(QUICKSTART, overrides), True, 0.25, 2.0, None)
    assert scenario.sweep.rate == [2.0] and scenario.sweep.parallel == [32]
    assert scenario.sweep.levels() == [(32, 60)]  # 30 s of arrivals at 2 req/s
    assert (found.start, found.step, found.by) == (8, 0.25, "rate")


def test_the_probe_table_and_json_say_the_verdicts() -> None:
    level = LevelResult(8, 32, index=1, ttft_p99_s=0.05, tpot_p99_s=0.003, goodput_rps=5.0)
    probe = capacity.Probe(8, 8.0, level, True)
    assert "| met" in probe_table("parallel", [probe])
    data = capacity_json("parallel", 8.0, True, [probe])
    assert data["probes"][0]["meets"] and data["probes"][0]["ttft_p99_ci"] is None
    assert "concurrency 8" in capacity_line("parallel", 8.0, True, 1.0, 1024)


def test_margins_interpolate_to_the_crossing_and_never_stall() -> None:
    def margin(k: int) -> tuple[float]:
        return (0.5 + k / 34,)  # crosses 1.0 at k = 17

    verdicts: dict[int, bool] = {}
    margins: dict[int, tuple[float, ...]] = {}
    while (k := next_point(verdicts, 8, 1024, margins)) is not None:
        verdicts[k], margins[k] = margin(k)[0] <= 1.0, margin(k)
    assert bracket(verdicts)[0] == 17 and list(verdicts) == [8, 16, 32, 17, 18]
    # A margin that misleads (a step at the crossing) still ends at the capacity.
    for cap in (9, 20, 30):
        verdicts, margins = {}, {}
        while (k := next_point(verdicts, 8, 1024, margins)) is not None:
            verdicts[k], margins[k] = k <= cap, (0.99 if k <= cap else 50.0,)
        assert bracket(verdicts)[0] == cap


def test_each_bound_is_interpolated_on_its_own() -> None:
    """Regression (benchmarks/capacity.py on the simulator): P99 TPOT sat just under its
    bound everywhere (0.96-1.05) while P99 TTFT climbed through its own; interpolating the
    worst of the two ratios aimed at 16.5 instead of TTFT's crossing near 18.7, and the
    search took 7 probes. The P99s of that run, as ratios to the SLO (2 s, 60 ms):"""

    def ratios(k: int) -> tuple[float, float]:
        ttft = 0.672 if k <= 8 else 1.502 + (k - 16) * 0.18  # 2.0 s between 18 and 19
        return ttft / 2.0, (0.0548 + (k - 8) * 0.000345) / 0.06

    verdicts: dict[int, bool] = {}
    margins: dict[int, tuple[float, ...]] = {}
    while (k := next_point(verdicts, 8, 1024, margins)) is not None:
        margins[k] = ratios(k)
        verdicts[k] = max(margins[k]) <= 1.0
    assert bracket(verdicts)[0] == 18 and list(verdicts) == [8, 16, 32, 18, 19]
