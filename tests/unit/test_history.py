"""A metric's history (bench/analyze/history.py, bench/report/history.py) and `vlm-bench
history` on hand-built tidy frames (the store's columns; the store itself is mocked)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analyze import history
from bench.cli import history as cli_history
from bench.errors import UserError
from bench.report import history as render
from bench.schema import tidy
from tests.support.cli import last_error, run_cli
from tests.support.factories import tidy_runs


def stepped(n: int = 30, at: int = 20, factor: float = 1.08, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [0.05 * (factor if i >= at else 1.0) * rng.normal(1, 0.01) for i in range(n)]


def test_columns_are_the_stores() -> None:
    assert list(tidy_runs([1.0]).columns) == list(tidy.COLUMNS)


def test_one_row_per_run_median_over_repeats_in_start_order() -> None:
    frame = tidy_runs([[1.0, 2.0, 9.0], 4.0, [5.0, 6.0]])
    frame = frame.iloc[::-1]  # the store's order is not the runs' order
    table = history.series(frame, scenario=None, metric="tpot_avg_s", parallel=32)
    assert list(table.columns) == list(history.SERIES_COLUMNS)
    assert table["value"].tolist() == [2.0, 4.0, 5.5]
    assert table["repeats"].tolist() == [3, 1, 2]
    assert table["run_id"].tolist() == ["run-00", "run-01", "run-02"]


def test_a_planted_step_is_marked_on_its_run() -> None:
    table = history.series(tidy_runs(stepped()), scenario="s", metric="tpot_avg_s", parallel=32)
    assert table.index[table["change"]].tolist() == [20]
    (change,) = history.changes(table)
    assert change.index == 20 and change.rel_change == pytest.approx(0.08, abs=0.02)
    assert table.loc[20, "p_value"] < 0.01
    assert math.isnan(table.loc[19, "rel_change"])


def test_a_change_within_the_gate_band_is_not_a_change() -> None:
    """tpot_avg_s's gate band is 5 %: a clean 3 % step is significant, and still noise."""
    values = stepped(factor=1.03, seed=1)
    table = history.series(tidy_runs(values), scenario="s", metric="tpot_avg_s", parallel=32)
    assert not table["change"].any()
    assert history.noise_floor("tpot_avg_s") == (0.05, 0.0005)
    assert history.noise_floor("latency_avg_s") == (0.0, 0.0)


def test_untrusted_runs_are_marked_and_not_searched() -> None:
    values = stepped()
    trusted = [True] * 30
    values[5], trusted[5] = 0.2, False  # a wild, untrusted value
    frame = tidy_runs(values, trusted=trusted)
    table = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert not table.loc[5, "trusted"] and table.loc[5, "value"] == 0.2
    assert table.index[table["change"]].tolist() == [20]


@pytest.mark.parametrize(
    ("by", "first"),
    [("date", "2026-11-01 00:00"), ("commit", "0000000000"), ("version", "0.0.0")],
)
def test_x_labels(by: history.By, first: str) -> None:
    table = history.series(
        tidy_runs([1.0, 2.0]), scenario="s", metric="tpot_avg_s", parallel=32, by=by
    )
    assert table["x"].iloc[0] == first


def test_dirty_commits_and_missing_labels() -> None:
    frame = tidy_runs([1.0, 2.0], dirty=[True, False], server_version=[None, "1.0"])
    commit = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32, by="commit")
    assert commit["x"].iloc[0].endswith("+") and not commit["x"].iloc[1].endswith("+")
    version = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32, by="version")
    assert version["x"].tolist() == ["?", "1.0"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "tpot_avg"}, "unknown metric 'tpot_avg'"),
        ({"scenario": "other"}, "no runs of scenario 'other'"),
        ({"parallel": 4}, "no tpot_avg_s values at concurrency 4 (stored: 32)"),
        ({"by": "week"}, "--by must be one of"),
    ],
)
def test_bad_requests_are_user_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"scenario": "s", "metric": "tpot_avg_s", "parallel": 32, **kwargs}
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        history.series(tidy_runs([1.0, 2.0]), **args)  # type: ignore[arg-type]


def test_several_scenarios_need_a_name() -> None:
    frame = pd.concat([tidy_runs([1.0]), tidy_runs([2.0], scenario_name="t", run_id="x")])
    with pytest.raises(UserError, match=r"several scenarios.*s, t"):
        history.series(frame, scenario=None, metric="tpot_avg_s", parallel=32)
    table = history.series(frame, scenario="t", metric="tpot_avg_s", parallel=32)
    assert table["value"].tolist() == [2.0]


def test_text_json_and_figure() -> None:
    table = history.series(tidy_runs(stepped()), scenario="s", metric="tpot_avg_s", parallel=32)
    text = render.text(table, "tpot_avg_s", 32, "s")
    assert "run run-20: tpot_avg_s +" in text and "▲" in text and "ms" in text
    doc = render.to_dict(table, "tpot_avg_s", 32, "s")
    assert [c["run_id"] for c in doc["changes"]] == ["run-20"]
    assert len(doc["runs"]) == 30
    json.dumps(doc, allow_nan=False)
    fig = render.figure(table, "tpot_avg_s", 32, "caption")
    assert fig.axes and fig.axes[0].get_lines()


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = tidy_runs(stepped())
    monkeypatch.setattr(cli_history, "load_runs", lambda source: frame)


@pytest.mark.usefixtures("stored")
def test_cli_prints_the_table_and_the_change(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "h.png"
    code, out, _ = run_cli(capsys, "history", "s", "--conc", "32", "--plot", str(plot))
    assert code == 0
    assert "run run-20: tpot_avg_s +" in out
    assert plot.stat().st_size > 0
    code, out, _ = run_cli(capsys, "history", "--conc", "32", "--json", "--by", "commit")
    assert code == 0 and json.loads(out)["changes"][0]["index"] == 20


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metric", "nope", "--conc", "32"], "unknown metric 'nope'"),
        (["--conc", "8"], "no tpot_avg_s values at concurrency 8"),
        (["--conc", "32", "--plot", "h.txt"], "--plot h.txt: the file must end in"),
        (["--conc", "32", "--runs", "/nonexistent/runs"], "--runs /nonexistent/runs: no such"),
    ],
)
def test_cli_user_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, line = last_error(capsys, "history", *argv)
    assert code == 2 and message in line


@pytest.mark.parametrize(
    "argv", [["--conc", "0"], ["--conc", "x"], [], ["--conc", "1", "--by", "week"]]
)
def test_cli_bad_flags_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(capsys, "history", *argv)
    assert exc.value.code == 2


def test_cli_on_an_empty_folder_is_a_user_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, line = last_error(capsys, "history", "--conc", "32", "--runs", str(tmp_path))
    assert code == 2 and "no runs" in line


A, B = "wl-aaaaaaaaaaaaaaaa", "wl-bbbbbbbbbbbbbbbb"


def _two_workloads() -> pd.DataFrame:
    """12 runs of scenario "s": 6 of workload A, then 6 of B, each 30 % slower (what a
    change of reuse ratio or photos does); each workload's own runs are flat."""
    values = [0.05 * (1.3 if i >= 6 else 1.0) * (1 + 0.002 * (i % 3)) for i in range(12)]
    return tidy_runs(values, workload_fingerprint=[A] * 6 + [B] * 6)


def test_runs_of_another_workload_are_another_series() -> None:
    """The bug: history grouped runs by scenario name only, so a change of workload was
    found as a change point of performance."""
    frame = _two_workloads()
    mixed = history.series(
        frame.assign(workload_fingerprint=None), scenario="s", metric="tpot_avg_s", parallel=32
    )
    assert mixed.index[mixed["change"]].tolist() == [6]  # what one series of both shows
    newest = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert newest["run_id"].tolist() == [f"run-{i:02d}" for i in range(6, 12)]
    assert not newest["change"].any()
    older = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32, workload=A)
    assert older["run_id"].tolist() == [f"run-{i:02d}" for i in range(6)]
    chosen = history.workloads(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert chosen == history.Workloads(B, ((A, 6),))
    assert history.workloads(
        frame, scenario="s", metric="tpot_avg_s", parallel=32, workload=A
    ) == history.Workloads(A, ((B, 6),))


def test_the_newest_run_picks_the_workload_even_when_it_has_none() -> None:
    frame = tidy_runs([1.0, 2.0, 3.0], workload_fingerprint=[A, A, None])
    table = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert table["value"].tolist() == [3.0]
    chosen = history.workloads(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert chosen == history.Workloads(None, ((A, 2),))
    picked = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32, workload=A)
    assert picked["value"].tolist() == [1.0, 2.0]
    none = history.series(
        frame, scenario="s", metric="tpot_avg_s", parallel=32, workload=history.NO_WORKLOAD
    )
    assert none["value"].tolist() == [3.0]


def test_runs_without_a_workload_are_one_series_as_before() -> None:
    frame = tidy_runs(stepped())
    assert frame["workload_fingerprint"].isna().all()
    table = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert len(table) == 30 and table.index[table["change"]].tolist() == [20]
    chosen = history.workloads(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    assert chosen == history.Workloads(None, ())
    assert render.workload_note(chosen) is None
    assert "left out" not in render.text(table, "tpot_avg_s", 32, "s", chosen)


def test_an_unknown_workload_is_a_user_error_naming_those_stored() -> None:
    with pytest.raises(UserError) as exc:
        history.series(
            _two_workloads(), scenario="s", metric="tpot_avg_s", parallel=32, workload="wl-x"
        )
    assert str(exc.value) == (
        f"history: --workload wl-x: no run at concurrency 32 sent it; "
        f"stored: {B} (6 runs), {A} (6 runs)"
    )


def test_text_and_json_name_the_workload_and_what_was_left_out() -> None:
    frame = _two_workloads()
    chosen = history.workloads(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    table = history.series(frame, scenario="s", metric="tpot_avg_s", parallel=32)
    note = f"left out: 6 runs of workload {A} (a series holds one workload; pick another"
    assert note in render.text(table, "tpot_avg_s", 32, "s", chosen)
    doc = render.to_dict(table, "tpot_avg_s", 32, "s", chosen)
    assert doc["workload_fingerprint"] == B
    assert doc["left_out"] == [{"workload_fingerprint": A, "runs": 6}]
    plain = render.to_dict(table, "tpot_avg_s", 32, "s")
    assert plain["workload_fingerprint"] is None and plain["left_out"] == []
