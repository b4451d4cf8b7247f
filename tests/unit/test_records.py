"""Per-request records (bench/measure/records.py, bench/schema/requests.py): a run's
requests.parquet written from evalscope's databases, its figures recomputed from it equal to
the parser's, the databases deleted unless kept, workers and rounds placed, and a level
dropped by --resume losing its records."""

from __future__ import annotations

import math
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bench.load.evalscope_db import DB_FILE, read_requests
from bench.measure.parse import parse_level
from bench.measure.records import Records
from bench.schema.requests import COLUMNS, FAILED, OK, REQUESTS_FILE, figures_of
from bench.schema.results import LevelResult, WorkerStat
from bench.store.requestrows import file_rows
from tests.support.factories import run as make_run
from tests.support.paths import DATA

SAMPLES = DATA / "evalscope"
FIGURES = (
    "rps",
    "output_tok_s",
    "total_tok_s",
    "duration_s",
    "latency_avg_s",
    "latency_p99_s",
    "ttft_avg_s",
    "ttft_p99_s",
    "tpot_avg_s",
    "tpot_p99_s",
    "itl_avg_s",
    "input_tokens_avg",
    "output_tokens_avg",
)


def _level(run_dir: Path, case: str, index: int, sub: str = "") -> LevelResult:
    """Level `index` of `run_dir` from the recorded evalscope sample `case`, parsed."""
    (sample,) = (SAMPLES / case).glob("parallel_*")
    folder = run_dir / "raw" / f"level-{index:02d}" / sub / sample.name
    shutil.copytree(sample, folder)
    parallel, number = (int(x) for x in sample.name.split("_")[1::2])
    level = parse_level(folder, parallel, number, None)
    level.index, level.raw_dir = index, str(folder.relative_to(run_dir))
    return level


def _same(ours: float, theirs: float) -> bool:
    return (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs, rel=1e-12)


def test_records_hold_every_request_and_give_back_the_levels_figures(tmp_path: Path) -> None:
    levels = [_level(tmp_path, "ok", 1), _level(tmp_path, "some_failed", 2)]
    Records(tmp_path, make_run(levels)).sync()
    rows = file_rows(tmp_path)
    assert list(rows[0]) == list(COLUMNS)
    for level in levels:
        mine = [r for r in rows if r["level_index"] == level.index]
        assert len(mine) == level.succeeded + level.failed
        assert {r["status"] for r in mine} <= {OK, FAILED}
        assert sum(r["status"] == FAILED for r in mine) == level.failed
        assert all(r["sent_at"].tzinfo is not None for r in mine)
        figures = figures_of(mine)
        for key in FIGURES:
            assert _same(figures[key], level.value(key)), key


def test_the_databases_are_deleted_unless_kept(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for run_dir, keep in ((kept, True), (gone, False)):
        level = _level(run_dir, "ok", 1)
        Records(run_dir, make_run([level]), keep_raw=keep).sync()
        assert (run_dir / REQUESTS_FILE).is_file()
    assert len(list(kept.rglob(DB_FILE))) == 1
    assert list(gone.rglob(DB_FILE)) == []
    # The same records either way (sent_at aside: the clocks' offset is read at each sync).
    same = [{k: v for k, v in r.items() if k != "sent_at"} for r in file_rows(kept)]
    assert same == [{k: v for k, v in r.items() if k != "sent_at"} for r in file_rows(gone)]


def test_a_level_keeps_its_records_once_its_database_is_gone_and_a_dropped_one_loses_them(
    tmp_path: Path,
) -> None:
    first, second = _level(tmp_path, "ok", 1), _level(tmp_path, "some_failed", 2)
    run = make_run([first])
    records = Records(tmp_path, run)
    records.sync()
    before = file_rows(tmp_path)
    run.levels.append(second)
    records.sync()  # level 1's database is gone: its rows come from the file
    after = file_rows(tmp_path)
    assert [r for r in after if r["level_index"] == 1] == before
    assert {r["level_index"] for r in after} == {1, 2}
    run.levels = [second]  # --resume dropped level 1 to measure it again
    records.sync()
    assert {r["level_index"] for r in file_rows(tmp_path)} == {2}


def test_worker_rows_are_placed_and_shifted_onto_the_runs_clock(tmp_path: Path) -> None:
    one = _level(tmp_path, "ok", 1, "worker-1")
    _level(tmp_path, "ok", 1, "worker-2")
    level = LevelResult(one.parallel, 2 * one.number, index=1, raw_dir="raw/level-01")
    level.diagnostics.workers = [
        WorkerStat(worker=w, host="h", parallel=1, number=one.number, seed=w, clock_offset_s=off)
        for w, off in ((1, 0.0), (2, 5.0))
    ]
    raw = read_requests(tmp_path / one.raw_dir)
    Records(tmp_path, make_run([level])).sync()
    rows = file_rows(tmp_path)
    assert sorted(r["worker"] for r in rows) == [1] * len(raw) + [2] * len(raw)
    starts = {w: sorted(r["start_s"] for r in rows if r["worker"] == w) for w in (1, 2)}
    assert starts[2] == pytest.approx([s + 5.0 for s in starts[1]])
    assert [r["end_s"] for r in rows] == sorted(r["end_s"] for r in rows)  # completion order


def test_rounds_are_numbered(tmp_path: Path) -> None:
    for r in (1, 2):
        _level(tmp_path, "ok", 1, f"round-{r}/level-01")
    level = LevelResult(2, 8, index=1, raw_dir="raw/level-01")
    Records(tmp_path, make_run([level])).sync()
    assert sorted({r["round"] for r in file_rows(tmp_path)}) == [1, 2]


def test_an_unreadable_database_costs_its_level_the_records_not_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    level = _level(tmp_path, "ok", 1)
    db = tmp_path / level.raw_dir / DB_FILE
    db.write_bytes(b"not a database")
    Records(tmp_path, make_run([level])).sync()
    assert not (tmp_path / REQUESTS_FILE).exists() and db.exists()
    assert "requests of level 1 not recorded" in caplog.text


def test_sent_at_is_the_wall_clock_time_of_the_monotonic_start(tmp_path: Path) -> None:
    level = _level(tmp_path, "ok", 1)
    Records(tmp_path, make_run([level])).sync()
    rows = file_rows(tmp_path)
    gaps = [(r["sent_at"] - rows[0]["sent_at"]).total_seconds() for r in rows]
    assert gaps == pytest.approx([r["start_s"] - rows[0]["start_s"] for r in rows], abs=1e-5)
    assert all(r["sent_at"].utcoffset() == timedelta(0) for r in rows)
