"""`vlm-bench db index` and `vlm-bench export` on SQLite and a real PostgreSQL, and the
index a finished `vlm-bench run` writes by itself: exit codes, one-line errors, no
password ever printed, and the exported frame equal to the runs'."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bench.store.export import with_times
from bench.store.frame import COLUMNS, load_runs
from tests.support.cli import assert_one_line, run_cli, vlm_bench
from tests.support.store import BACKENDS, fresh_store, stored_runs

pytestmark = pytest.mark.integration

PASSWORD = "hunter2-not-printed"


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return stored_runs(tmp_path)


def test_db_index_prints_one_summary_line_and_json(
    db: str, runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (runs / "junk").mkdir()
    (runs / "junk" / "run.json").write_text("[1, 2")
    code, out, err = run_cli(capsys, "db", "index", str(runs), "--db", db)
    assert code == 0, err
    assert out.startswith("indexed 5, unchanged 0, skipped 1 ") and out.count("\n") == 1
    (skip,) = err.strip().splitlines()
    assert skip.startswith(f"vlm-bench: skipped: {runs / 'junk' / 'run.json'}: ")
    code, out, _ = run_cli(capsys, "db", "index", str(runs), "--db", db, "--json")
    summary = json.loads(out)
    assert code == 0 and len(summary["unchanged"]) == 5 and summary["indexed"] == []
    assert len(summary["skipped"]) == 1


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_the_tidy_frame_from_a_store_or_a_folder(
    db: str, runs: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "db", "index", str(runs), "--db", db)[0] == 0
    frames = []
    for source in (["--db", db], [str(runs)]):
        out = tmp_path / f"{len(frames)}.{fmt}"
        code, _, err = run_cli(capsys, "export", *source, "--format", fmt, "--out", str(out))
        assert code == 0, err
        frames.append(pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out))
    assert tuple(frames[0].columns) == COLUMNS
    pd.testing.assert_frame_equal(frames[0], frames[1])
    expected = load_runs(runs)
    assert frames[0]["value"].tolist() == pytest.approx(expected["value"].tolist(), nan_ok=True)
    if fmt == "parquet":  # times as UTC datetimes (Step 17), the rest the frame's own
        pd.testing.assert_frame_equal(frames[0], with_times(expected))


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["db", "index", "--db", f"mysql://me:{PASSWORD}@127.0.0.1/x"], "--db mysql://"),
        (["db", "index", "--db", f"postgresql://me:{PASSWORD}@127.0.0.1:1/x"], "cannot open"),
        (["db", "index", "no-such-folder", "--db", "{tmp}/s.db"], "no-such-folder"),
        (["export", "--db", "{tmp}/none.db", "--format", "csv", "--out", "x"], "no such store"),
        (["export", "{tmp}", "--format", "xml", "--out", "{tmp}/x"], "--format 'xml'"),
        (["export", "{tmp}", "--format", "csv", "--out", "{tmp}/no/x.csv"], "--out"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_never_shows_the_password(
    argv: list[str], names: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert_one_line(code, err, names)
    assert PASSWORD not in out + err


def test_the_command_line_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    url = f"postgresql://me:{PASSWORD}@127.0.0.1:1/x"
    done = vlm_bench("export", "--db", url, "--format", "csv", "--out", str(tmp_path / "x"))
    assert_one_line(done.returncode, done.stderr, "--db postgresql://<redacted>@127.0.0.1:1/x")
    assert PASSWORD not in done.stdout + done.stderr


SCENARIO = """\
name: stored
model: {served_name: sim-model, tokenizer_path: generated}
server: {kind: sim, profile: fast}
load: {image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16,
       min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: 60}
sweep: {parallel: [2], number: [4]}
check: off
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_finished_run_is_in_its_store(backend: str, tmp_path: Path) -> None:
    """A real simulator sweep: SQLite beside the run folders by default, PostgreSQL through
    VLM_BENCH_DB; the store's frame is the run's."""
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "reports"
    with fresh_store(backend, tmp_path) as url:
        env = {**os.environ, "VLM_BENCH_DB": "" if backend == "sqlite" else url}
        done = vlm_bench("run", str(path), "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "not indexed" not in done.stderr
        store = str(out / "vlm-bench.db") if backend == "sqlite" else url
        frame = load_runs(store)
        pd.testing.assert_frame_equal(frame, load_runs(out / "stored"))
    assert set(frame.parallel) == {2} and set(frame.run_status) == {"complete"}


def test_db_prune_keeps_the_newest_runs_of_each_scenario(
    db: str, runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db prune --keep 1`: one run per scenario stays in the store, the run folders all
    stay on disk; --dry-run changes nothing; `--before` a date before every run drops none."""
    assert run_cli(capsys, "db", "index", str(runs), "--db", db)[0] == 0
    before = load_runs(db)
    per_scenario = before.groupby("scenario_name")["run_dir"].nunique()
    assert per_scenario.max() > 1  # the test's runs have a scenario with several runs
    code, out, err = run_cli(capsys, "db", "prune", "--keep", "1", "--db", db, "--dry-run")
    assert code == 0 and out.startswith("would prune ") and err.count("would prune: ") > 0
    pd.testing.assert_frame_equal(load_runs(db), before)
    code, out, _ = run_cli(capsys, "db", "prune", "--before", "2000-01-01", "--db", db)
    assert code == 0 and out.startswith("pruned 0, ")
    code, out, err = run_cli(capsys, "db", "prune", "--keep", "1", "--db", db, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["kept"] == len(per_scenario)
    after = load_runs(db)
    assert (after.groupby("scenario_name")["run_dir"].nunique() == 1).all()
    assert set(after["scenario_name"]) == set(before["scenario_name"])
    assert all(Path(d).is_dir() for d in summary["pruned"])  # the folders stay
    # Pruned runs come back with the next index of their folders.
    code, out, _ = run_cli(capsys, "db", "index", str(runs), "--db", db)
    assert code == 0 and out.startswith(f"indexed {len(summary['pruned'])}, ")
