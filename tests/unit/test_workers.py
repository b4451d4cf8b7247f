"""Load workers and fleet plans, without processes: shares, seeds, merged clocks,
per-worker diagnostics, the scenario fields' identity, plan errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config.fleet import load_plan
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.load import pool, workers
from bench.load.evalscope_db import RequestRow
from bench.load.plan import plan_level
from bench.schema import runfile
from bench.schema.plan import SweepLevel
from bench.schema.results import LevelResult, RunResult, WorkerStat
from bench.schema.scenario import scenario_hash, without_quiet_defaults

QUICKSTART = Path("scenarios/quickstart.yaml")


def row(start: float, end: float) -> RequestRow:
    return RequestRow(start, end, end - start, 0.1, 10, 10, True, None)


def test_shares_split_near_equally_the_first_ones_one_more() -> None:
    assert workers.shares(10, 3) == [4, 3, 3]
    assert workers.shares(4, 4) == [1, 1, 1, 1]


def test_every_worker_draws_its_own_data_and_one_worker_is_the_level() -> None:
    scenario = load_scenario(QUICKSTART)
    level = plan_level(scenario, Path("run"), SweepLevel(2, 1, 5, 11))
    specs = workers.plan(scenario, "http://127.0.0.1:1", "tok", level, 2)
    assert [(s.parallel, s.number) for s in specs] == [(3, 6), (2, 5)]
    assert len({s.seed for s in specs}) == 2
    assert specs[0].seed == scenario.load.seed + 1  # worker 1: the level's own seed
    assert all(f"--seed {s.seed}" in " ".join(s.args) for s in specs)


def test_workers_auto_is_one_on_a_small_client_and_capped_by_the_level() -> None:
    load = load_scenario(QUICKSTART).load
    assert load.workers_for(256, 1000, cores=2) == 1
    assert load.workers_for(256, 1000, cores=16) == 4
    assert load.workers_for(8, 1000, cores=16) == 1
    fixed = load_scenario(QUICKSTART, {"load.workers": 4}).load
    assert fixed.workers_for(2, 1000, cores=2) == 2


def test_new_fields_at_their_defaults_keep_the_hash_and_the_stored_scenario() -> None:
    plain = load_scenario(QUICKSTART)
    same = load_scenario(QUICKSTART, {"load.workers": "auto"})
    assert scenario_hash(plain) == scenario_hash(same)
    dumped = without_quiet_defaults(plain.model_dump(mode="json"))  # as run.json keeps it
    assert "cluster" not in dumped and "workers" not in dumped["load"]
    other = load_scenario(QUICKSTART, {"cluster.engine": "ray"})
    assert scenario_hash(other) != scenario_hash(plain)


def output(worker: int, rows: list[RequestRow], stamps: dict) -> workers.WorkerOutput:
    spec = workers.WorkerSpec(worker, 1, len(rows), worker, (), ".")
    return workers.WorkerOutput(spec, rows, stamps, 0, "")


def stamp(wall: float, perf: float, cpu: float, boot: str = "other") -> dict:
    return {"wall": wall, "perf": perf, "cpu": cpu, "host": "h", "boot_id": boot}


def test_merge_shifts_a_worker_on_another_boot_onto_our_clock() -> None:
    here = pool.barrier.stamp()
    # The other host's perf clock runs 1000 s behind ours (same wall clock).
    theirs = stamp(here["wall"], here["perf"] - 1000.0, 1.0)
    end = stamp(here["wall"] + 2, here["perf"] - 998.0, 2.0)
    mine = {"released": {**theirs, "boot_id": here["boot_id"]}}
    run = pool.PoolRun(
        outputs=[
            output(1, [row(10.0, 11.0)], mine),
            output(2, [row(5.0, 6.0)], {"ready": theirs, "released": theirs, "end": end}),
        ],
        start_at=here["wall"] - 0.01,
    )
    rows, stats = pool.merge(run)
    assert stats[0].clock_offset_s == 0.0
    assert stats[1].clock_offset_s == pytest.approx(1000.0, abs=0.01)
    assert [r.start_time for r in rows] == [10.0, pytest.approx(1005.0, abs=0.01)]
    assert stats[1].cpu_mean == pytest.approx(0.5)
    assert stats[1].start_delay_s == pytest.approx(0.01, abs=1e-6)


def test_worker_diagnostics_survive_run_json() -> None:
    level = LevelResult(4, 8)
    level.diagnostics.workers = [WorkerStat(1, "h", 2, 4, 0, rows=4, exit_code=0)]
    run = RunResult("r", "s", load_scenario(QUICKSTART), "x", {}, [level])
    data = run.to_dict()
    assert data["levels"][0]["diagnostics"]["workers"][0]["rows"] == 4
    back = runfile.check(data, Path("run.json"))
    assert back.levels[0].diagnostics.workers == level.diagnostics.workers


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("scenarios: [nope.yaml]\n", "scenarios[0]: nope.yaml: no such file"),
        ("runs: [{scenario: a.yaml, resource: {}}]\n", "runs.0.resource: unknown field"),
        ("nodes: [{NPU: -1}]\nscenarios: [a.yaml]\n", "nodes.0.NPU"),
        ("address: auto\n", "names no scenario"),
    ],
)
def test_a_bad_plan_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, names: str
) -> None:
    (tmp_path / "a.yaml").write_text(QUICKSTART.read_text())
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    with pytest.raises(UserError) as exc:
        load_plan(plan)
    message = str(exc.value)
    assert "\n" not in message and str(plan) in message and names in message, message


def test_a_plan_crosses_scenarios_with_nodes(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(QUICKSTART.read_text())
    plan = tmp_path / "plan.yaml"
    plan.write_text("scenarios: [a.yaml]\nnodes: [{X: 1}, {Y: 2}]\n")
    _, tasks = load_plan(plan)
    assert [t.resources for t in tasks] == [{"X": 1.0}, {"Y": 2.0}]
    assert len({t.key for t in tasks}) == 2
