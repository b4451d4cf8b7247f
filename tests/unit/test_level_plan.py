"""A level's plan (bench/schema/plan.py, bench/load/plan.py) and the load generator's
strategies (bench/load/generator.py), without processes: what a plan holds, a worker's or
round's part of it, which strategy measures which level, and the rounds strategy's loop
against a generator that records what it was asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config.scenario import load_scenario
from bench.load import generator
from bench.load.plan import part, plan_level
from bench.load.result import ClientAccount, LoadRun, RequestRow
from bench.schema.plan import WORKER_SEED_STRIDE, LevelPlan, SweepLevel

QUICKSTART = Path("scenarios/quickstart.yaml")
STOP = {"metric": ["tpot_avg_s"], "rel_half_width": 0.05, "waves": 2, "max_requests": 20}


def test_a_plan_names_its_parts_and_its_raw_folder(tmp_path: Path) -> None:
    scenario = load_scenario(QUICKSTART, {"sweep.repeats": 2})
    plan = plan_level(scenario, tmp_path, SweepLevel(3, 2, 4, 16))
    assert (plan.index, plan.repeat, plan.parallel, plan.number) == (3, 2, 4, 16)
    assert plan.point.rate is None and plan.workload is None
    assert plan.seed == scenario.load.seed + 2 + 1000  # its level's and repeat's own data
    assert plan.warmup == 4 and plan.warmup_tokens is None  # one wave of full requests
    assert plan.time_limit_s == scenario.generous_limit_s(3, 4, 16)
    assert plan.raw == tmp_path / "raw" / "level-03-r2"
    assert plan.at == SweepLevel(3, 2, 4, 16)


def test_a_rate_level_carries_its_rate_and_a_set_time_limit_wins(tmp_path: Path) -> None:
    scenario = load_scenario(
        QUICKSTART,
        {"sweep.parallel": [8], "sweep.rate": [0.5, 2.0], "load.level_timeout_s": 99},
    )
    plan = plan_level(scenario, tmp_path, SweepLevel(2, 1, 8, 40))
    assert plan.point.rate == 2.0 and plan.time_limit_s == 99
    assert generator.strategy_for(scenario, plan) == "rate"


def test_a_part_draws_its_own_data_and_warms_up_its_own_share(tmp_path: Path) -> None:
    scenario = load_scenario(QUICKSTART, {"load.warmup": "cheap"})
    plan = plan_level(scenario, tmp_path, SweepLevel(2, 1, 32, 128))
    mine = part(scenario, plan, 16, 64, 1)
    assert (mine.parallel, mine.number, mine.raw) == (16, 64, plan.raw)
    assert mine.seed == plan.seed + WORKER_SEED_STRIDE
    assert mine.warmup == 16 and mine.warmup_tokens == plan.warmup_tokens == 128
    assert mine.time_limit_s == scenario.generous_limit_s(2, 16, 64)


def test_each_level_gets_the_strategy_that_measures_it(tmp_path: Path) -> None:
    at = SweepLevel(1, 1, 8, 32)
    cases = {
        "closed": {},
        "split": {"load.workers": 2},
        "rounds": {"sweep.stop": STOP},
    }
    for name, overrides in cases.items():
        scenario = load_scenario(QUICKSTART, overrides)
        assert generator.strategy_for(scenario, plan_level(scenario, tmp_path, at)) == name
    assert set(generator.STRATEGIES) == {"closed", "rate", "split", "rounds"}


class Recording:
    """A load generator that runs nothing: each `one` gives `rows` rows (a round's
    worth, or what `cut` says) and records the plan, home and progress it was given."""

    name = "recording"

    def __init__(self, scenario: object, rows: int, cut: int | None = None) -> None:
        self.scenario, self.rows, self.cut = scenario, rows, cut
        self.asked: list[tuple[LevelPlan, Path]] = []
        self.progress: list[tuple[int, int]] = []

    def one(self, plan: LevelPlan, home: Path, hooks: generator.Hooks) -> LoadRun:
        self.asked.append((plan, home))
        if hooks.progress is not None:
            hooks.progress(plan.number, 0)
        interrupted = self.cut is not None and len(self.asked) == self.cut
        account = ClientAccount(self.name, 0, interrupted=interrupted)
        rows = [RequestRow(0.0, 1.0, 1.0, 0.1, 1, 2, True, None)] * self.rows
        return LoadRun(rows, account, home)

    def workers(self, plan: LevelPlan, k: int, hooks: generator.Hooks) -> list:
        raise AssertionError("rounds run one process each")


@pytest.mark.parametrize(("cut", "rounds"), [(None, 3), (2, 1)])
def test_rounds_run_until_told_and_drop_a_round_cut_short(
    tmp_path: Path, cut: int | None, rounds: int
) -> None:
    scenario = load_scenario(QUICKSTART, {"sweep.stop": STOP})
    plan = plan_level(scenario, tmp_path, SweepLevel(1, 1, 4, 8))
    gen = Recording(scenario, rows=8, cut=cut)
    seen: list[int] = []

    def until(got: list[list[RequestRow]], account: ClientAccount) -> bool:
        seen.append(len(got))
        return len(got) == 3

    progress: list[tuple[int, int]] = []
    hooks = generator.Hooks(lambda n, f: progress.append((n, f)), None, until)
    got = generator.run(gen, plan, hooks, "rounds")
    assert len(got.rounds) == rounds and len(got.rows) == 8 * rounds
    assert got.account.interrupted == (cut is not None)
    homes = [home for _, home in gen.asked]
    assert homes == [plan.raw / f"round-{r}" for r in range(1, len(gen.asked) + 1)]
    seeds = [p.seed for p, _ in gen.asked]
    assert seeds == [plan.seed + WORKER_SEED_STRIDE * r for r in range(len(gen.asked))]
    # Rounds of `waves` waves, the last one cut to `max_requests`; progress counts on.
    assert [p.number for p, _ in gen.asked] == [8, 8, 4][: len(gen.asked)]
    assert [n for n, _ in progress] == [8, 16, 20][: len(gen.asked)]
    assert seen == list(range(1, rounds + 1))
