"""`gate --adaptive`'s loop (bench/measure/adaptive_gate.py) with a stand-in runner (no
processes), and its bad input."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bench.cli import main
from bench.measure.adaptive_gate import adaptive_gate, look_scenario
from bench.schema.results import RunResult
from bench.schema.scenario import Scenario
from tests.support.factories import reference, repeated
from tests.support.paths import REFERENCE


def _runner(scale: float) -> tuple[list[int], object]:
    seen: list[int] = []
    candidate = repeated(reference(), scale)

    def run(scenario: Scenario, out: Path) -> RunResult:
        k = len(seen) + 1
        seen.append(scenario.load.seed)
        one = copy.deepcopy(candidate)
        one.levels = [copy.deepcopy(lv) for lv in candidate.levels if lv.repeat == k]
        for lv in one.levels:
            lv.repeat = 1
        return one

    return seen, run


@pytest.mark.parametrize(("scale", "want"), [(1.12, "REGRESSION"), (1.0, "PASS")])
def test_stops_early_once_decided(tmp_path: Path, scale: float, want: str) -> None:
    base = repeated(reference(), 1.0)
    seeds, runner = _runner(scale)
    got = adaptive_gate(base.scenario, base, tmp_path, runner)  # type: ignore[arg-type]
    assert got.verdict == want and got.looks < 5
    assert got.candidate is not None and {lv.repeat for lv in got.candidate.levels} == set(
        range(1, got.looks + 1)
    )
    first = base.scenario.load.seed
    assert seeds == [first + 1000 * k for k in range(got.looks)]


def test_look_scenario_is_one_repeat_with_its_data() -> None:
    scenario = reference().scenario
    look = look_scenario(scenario, 3)
    assert look.sweep.repeats == 1 and look.load.seed == scenario.load.seed + 2000


def test_adaptive_and_candidate_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    run = str(REFERENCE / "xllm-800ta2")
    assert main(["gate", run]) == 2
    assert "--adaptive" in capsys.readouterr().err
    assert main(["gate", run, run, "--adaptive", "x.yaml"]) == 2
    assert "give no CANDIDATE" in capsys.readouterr().err
