"""Every renderer against a golden file, rendered from stored runs only.

The inputs are the shipped reference runs (reports/reference/) and small simulator runs
measured once with the CLI (tests/data/runs/sim-quickstart, and
tests/data/workload-runs/workload-photos: a `workload:` run, whose report has the workload
line and the "what the server saw" table).
The outputs: report.md, run.json as re-serialised, levels.csv, the console tables `run`
prints, and the data each plot draws (not its pixels). A change of the result model must
leave these files as they are; regenerate on purpose only (tests/support/__init__.py says how).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import console, plots
from bench.report.markdown import plot_caption, render_report
from bench.schema.results import RunResult, aggregate
from bench.schema.runfile import read_run
from bench.schema.runwrite import levels_csv, write_run
from tests.support.factories import reference, stored
from tests.support.golden import assert_golden
from tests.support.paths import WORKLOAD_RUNS

RUNS = {
    "vllm-ascend-800ta2": lambda: reference("vllm-ascend-800ta2"),
    "xllm-800ta2": lambda: reference("xllm-800ta2"),
    "sim-quickstart": lambda: stored("sim-quickstart"),
    "workload-photos": lambda: read_run(WORKLOAD_RUNS / "workload-photos"),
}
PLOT_NAMES = [f"{name}.png" for name in plots.FIGURES]


@pytest.fixture(params=sorted(RUNS))
def named_run(request: pytest.FixtureRequest) -> tuple[str, RunResult]:
    name: str = request.param
    return name, RUNS[name]()


def test_report_md(named_run: tuple[str, RunResult]) -> None:
    name, run = named_run
    assert_golden(f"report-{name}.md", render_report(run, PLOT_NAMES))


def test_run_json_reserialised(named_run: tuple[str, RunResult], tmp_path: Path) -> None:
    name, run = named_run
    write_run(run, tmp_path)
    assert_golden(f"run-{name}.json", (tmp_path / "run.json").read_text())


def test_levels_csv(named_run: tuple[str, RunResult]) -> None:
    name, run = named_run
    assert_golden(f"levels-{name}.csv", levels_csv(run))


def test_console_tables(named_run: tuple[str, RunResult]) -> None:
    name, run = named_run
    assert_golden(f"console-{name}.txt", console.run_tables(run) + "\n")


def test_plot_data(named_run: tuple[str, RunResult]) -> None:
    name, run = named_run
    series = [(run.scenario_name, aggregate(run.levels))]
    data = {"caption": plot_caption(run), "figures": plots.plot_data(series)}
    assert_golden(f"plots-{name}.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def test_the_sim_console_has_both_tables() -> None:
    """The stored simulator run is time-scaled: `run` prints the measured and the rescaled
    table (a golden file of a run without a time scale would not cover the second)."""
    text = console.run_tables(stored("sim-quickstart"))
    assert "simulator time" in text and "Rescaled to the hardware" in text


def test_plot_data_skips_unmeasured_and_marks_untrusted_levels() -> None:
    run = reference("vllm-ascend-800ta2")
    levels = aggregate(run.levels)
    levels[0].status = "failed"
    levels[1].wrong_length = 3
    levels[1].expected_output_tokens = 512
    points = plots.plot_data([("r", levels)])["throughput"]["r"]
    assert [p["x"] for p in points] == [lv.parallel for lv in levels[1:]]
    assert [p["hollow"] for p in points] == [True] + [False] * (len(levels) - 2)
