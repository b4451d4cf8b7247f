"""Rate sweeps, goodput and the cheap warm-up, without processes: levels and counts of a
rate sweep, its evalscope flags, the goodput formula and where it shows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.config.scenario import load_scenario
from bench.load import evalscope
from bench.load.plan import plan_level
from bench.report.goodput import goodput_table
from bench.schema.figures import goodput
from bench.schema.plan import SweepLevel
from bench.schema.results import LevelResult, RunResult
from bench.schema.runwrite import levels_csv
from bench.schema.scenario import Scenario, scenario_hash

QUICKSTART = Path("scenarios/quickstart.yaml")


def _with(scenario: Scenario, **sweep: object) -> Scenario:
    data = scenario.model_dump(mode="json")
    data["sweep"] = {k: v for k, v in data["sweep"].items() if v is not None} | sweep
    data["sweep"].pop("number" if "requests_per_level" in sweep else "requests_per_level", None)
    return Scenario.model_validate(data)


def test_a_rate_sweep_pairs_each_rate_with_the_cap_and_a_count() -> None:
    base = load_scenario(QUICKSTART)
    seconds = _with(base, parallel=[16], rate=[0.5, 2.0], requests_per_level="10s")
    assert seconds.sweep.levels() == [(16, 5), (16, 20)]
    waves = _with(base, parallel=[4, 8], rate=[1.0, 2.0], requests_per_level="3x")
    assert waves.sweep.levels() == [(4, 12), (8, 24)]
    assert [waves.sweep.rate_at(i) for i in (1, 2)] == [1.0, 2.0]
    assert base.sweep.rate_at(1) is None


@pytest.mark.parametrize(
    "sweep",
    [
        {"parallel": [1, 2, 3], "rate": [1.0, 2.0], "requests_per_level": "2x"},
        {"parallel": [4], "rate": [1.0, 2.0], "number": [5]},
        {"parallel": [4], "requests_per_level": "10s"},
        {"parallel": [4], "rate": [0.0], "requests_per_level": "2x"},
    ],
)
def test_a_rate_sweep_that_does_not_pair_up_is_refused(sweep: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _with(load_scenario(QUICKSTART), **sweep)


def test_a_rate_sweep_and_load_rate_together_are_refused() -> None:
    data = load_scenario(QUICKSTART).model_dump(mode="json")
    data["load"]["rate"] = 1.0
    data["sweep"]["rate"] = [1.0] * len(data["sweep"]["parallel"])
    with pytest.raises(ValidationError, match="not both"):
        Scenario.model_validate(data)


def test_the_rate_and_the_cheap_warm_up_reach_evalscope(tmp_path: Path) -> None:
    scenario = _with(load_scenario(QUICKSTART), parallel=[8], rate=[0.5, 2.0], number=[4, 6])
    scenario.load.warmup = "cheap"  # opt-in (docs/scenarios.md: not the default)
    plan = plan_level(scenario, tmp_path, SweepLevel(2, 1, 8, 6))
    argv = evalscope.level_argv(scenario, "http://h:1", "/t", plan, tmp_path)
    assert argv[argv.index("--rate") + 1] == "2"
    assert argv[argv.index("--warmup-num") + 1] == "8"
    assert argv[len(evalscope.evalscope_command())] == f"{evalscope.WARMUP_FLAG}=128"
    sweep = evalscope.sweep_argv(scenario, "http://h:1", "/t")
    assert sweep[sweep.index("--rate") + 1 : sweep.index("--rate") + 3] == ["0.5", "2"]


def test_full_and_off_warm_ups_send_what_they_say(tmp_path: Path) -> None:
    data = load_scenario(QUICKSTART).model_dump(mode="json")
    for mode, warmups in (("full", ["--warmup-num", "4"]), ("off", [])):
        data["load"]["warmup"] = mode
        scenario = Scenario.model_validate(data)
        plan = plan_level(scenario, tmp_path, SweepLevel(1, 1, 4, 16))
        argv = evalscope.level_argv(scenario, "http://h:1", "/t", plan, tmp_path)
        assert not any(a.startswith(evalscope.WARMUP_FLAG) for a in argv)
        assert ("--warmup-num" in argv) == bool(warmups)
        assert "--rate" not in argv


def test_the_new_fields_at_their_default_keep_the_scenario_hash() -> None:
    scenario = load_scenario(QUICKSTART)
    data = scenario.model_dump(mode="json")
    data["load"].pop("warmup")
    data["sweep"].pop("rate")
    assert scenario_hash(Scenario.model_validate(data)) == scenario_hash(scenario)


def test_goodput_counts_the_requests_meeting_both_bounds_per_second() -> None:
    requests = [(0.1, 0.01), (0.3, 0.01), (0.1, 0.05), (0.2, None)]
    assert goodput(requests, 2.0, 0.2, 0.02) == pytest.approx(1.0)  # 1st and 4th
    assert goodput(requests, 2.0, None, 0.02) == pytest.approx(1.5)
    assert goodput(requests, 2.0, None, None) is None
    assert math.isnan(goodput(requests, None, 0.2, None) or 0.0)


def _run(levels: list[LevelResult]) -> RunResult:
    scenario = load_scenario(QUICKSTART)
    return RunResult("r1", scenario.name, scenario, scenario_hash(scenario), levels=levels)


def test_goodput_and_rate_show_only_where_a_level_holds_them() -> None:
    plain = LevelResult(4, 16, index=1, rps=2.0)
    assert goodput_table([plain]) == ""
    assert "goodput_rps" not in plain.to_dict() and "rate" not in plain.to_dict()
    assert "goodput_rps" not in levels_csv(_run([plain])).splitlines()[0]
    rated = LevelResult(4, 16, index=1, rps=2.0, rate=2.5, goodput_rps=1.5)
    table = goodput_table([rated])
    assert "Rate (req/s)" in table and "| 2.5 " in table and "75.0%" in table
    header = levels_csv(_run([rated])).splitlines()[0].split(",")
    assert header[-2:] == ["rate", "goodput_rps"]


def test_a_rate_levels_time_limit_adds_its_arrivals_span(tmp_path: Path) -> None:
    base = load_scenario(QUICKSTART)
    closed = _with(base, parallel=[8], number=[400])
    paced = _with(base, parallel=[8], rate=[0.5], number=[400])
    # 400 arrivals at 0.5 req/s take 800 s before any request may time out.
    at = SweepLevel(1, 1, 8, 400)
    gap = (
        plan_level(paced, tmp_path, at).time_limit_s - plan_level(closed, tmp_path, at).time_limit_s
    )
    assert gap == pytest.approx(800.0)
