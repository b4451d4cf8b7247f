"""The results store (bench/store) on SQLite and on a real PostgreSQL: migrations, idempotent
indexing, re-indexing, bad files, and the tidy frame, which must be the same from a folder
of runs, from SQLite and from PostgreSQL, and hold run.json's own numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import bench
from bench.schema.results import has_metric
from bench.schema.runfile import read_run
from bench.store.db import MIGRATIONS, open_store
from bench.store.frame import COLUMNS, load_runs
from bench.store.index import find_runs, index_paths
from bench.store.rows import METRIC_KEYS, run_dir_key
from bench.store.tables import HEAD, LEVEL_CHECKS, LEVEL_METRICS, LEVELS, METADATA, RUNS
from tests.support.store import BACKENDS, fresh_postgres, fresh_store, stored_runs

pytestmark = pytest.mark.integration


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store: every test here runs on SQLite and on PostgreSQL."""
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return stored_runs(tmp_path)


def _counts(url: str) -> dict[str, int]:
    with open_store(url) as store, store.engine.connect() as conn:
        tables = (RUNS, LEVELS, LEVEL_METRICS, LEVEL_CHECKS)
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in tables
        }


def test_migrations_build_the_schema_of_tables_py_from_an_empty_database(db: str) -> None:
    with open_store(db) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == HEAD
        # The migrations and bench/store/tables.py describe the same tables.
        assert compare_metadata(context, METADATA) == []
    with open_store(db) as again:  # opening an up-to-date store changes nothing
        assert again.dialect in ("sqlite", "postgresql")
    assert _counts(db) == {"runs": 0, "levels": 0, "level_metrics": 0, "level_checks": 0}


def test_head_names_the_newest_migration() -> None:
    """open_store skips Alembic for a store at HEAD: HEAD must be the scripts' head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_indexing_twice_changes_nothing(db: str, runs: Path) -> None:
    with open_store(db) as store:
        first = index_paths(store, [runs])
        counts = _counts(db)
        second = index_paths(store, [runs])
    assert len(first.indexed) == 5 and not first.unchanged and not first.skipped
    assert not second.indexed and len(second.unchanged) == 5
    assert _counts(db) == counts
    assert counts["runs"] == 5 and counts["level_checks"] > 0


def test_a_changed_run_json_replaces_that_runs_rows(db: str, runs: Path) -> None:
    with open_store(db) as store:
        index_paths(store, [runs])
        counts = _counts(db)
        path = runs / "sim" / "sim-quickstart" / "run.json"
        data = json.loads(path.read_text())
        data["levels"][0]["rps"] = 123.5
        data["levels"] = data["levels"][:1] + data["levels"]  # one level more
        data["levels"][0]["index"] = 0
        path.write_text(json.dumps(data))
        summary = index_paths(store, [runs])
    assert summary.indexed == [run_dir_key(path.parent)] and len(summary.unchanged) == 4
    after = _counts(db)
    assert after["runs"] == counts["runs"] and after["levels"] == counts["levels"] + 1
    frame = load_runs(db)
    mine = frame[(frame.run_dir == run_dir_key(path.parent)) & (frame.metric == "rps")]
    assert (mine.value == 123.5).sum() == 2
    pd.testing.assert_frame_equal(frame, load_runs(runs))


def test_a_bad_run_json_is_skipped_in_one_line_naming_it(db: str, runs: Path) -> None:
    bad = runs / "broken" / "run.json"
    bad.parent.mkdir()
    bad.write_text('{"run_id": "x", "levels": [{"parallel": "many"}]')
    with open_store(db) as store:
        summary = index_paths(store, [runs])
    assert len(summary.indexed) == 5
    (line,) = summary.skipped
    assert line.startswith(str(bad)) and "\n" not in line


def test_the_frame_is_the_same_from_the_folder_and_from_the_store(db: str, runs: Path) -> None:
    with open_store(db) as store:
        index_paths(store, [runs])
    from_store, from_folder = load_runs(db), bench.load_runs(runs)
    assert tuple(from_store.columns) == COLUMNS
    pd.testing.assert_frame_equal(from_store, from_folder)
    published = from_store[from_store.published]
    assert set(published.scenario_name) == {"vllm-ascend-800ta2", "xllm-800ta2"}
    assert set(published.metric) <= set(METRIC_KEYS)


def test_sqlite_and_postgresql_give_the_same_frame(tmp_path: Path, runs: Path) -> None:
    frames = []
    with fresh_postgres() as pg:
        for url in (str(tmp_path / "a.db"), pg):
            with open_store(url) as store:
                index_paths(store, [runs])
            frames.append(load_runs(url))
    pd.testing.assert_frame_equal(*frames)


def _expected(run_file: Path) -> dict[tuple[Any, ...], float]:
    """Every figure of every level as run.json holds it (read_run's for a figure an old
    version did not write)."""
    raw = json.loads(run_file.read_text())["levels"]
    run = read_run(run_file)
    out = {}
    for lv, stored in zip(run.levels, raw, strict=True):
        for key in (k for k in METRIC_KEYS if has_metric(run, k)):
            where = (run_dir_key(run_file.parent), lv.index, lv.parallel, lv.repeat, key)
            out[where] = _nan_none(float(stored[key]) if key in stored else lv.value(key))
    return out


def _nan_none(value: float) -> float | None:
    """NaN (a figure no request defined) as None, which compares equal to itself."""
    return None if math.isnan(value) else value


def test_parquet_and_load_runs_hold_run_jsons_numbers(db: str, runs: Path, tmp_path: Path) -> None:
    """Acceptance: a quick-start sweep's runs (and the published tables) read back from
    Parquet and from bench.load_runs with every level figure equal to run.json's."""
    with open_store(db) as store:
        index_paths(store, [runs])
    out = tmp_path / "runs.parquet"
    load_runs(db).to_parquet(out, index=False)
    expected: dict[tuple[Any, ...], float] = {}
    for run_file in find_runs(runs):
        expected |= _expected(run_file)
    for frame in (pd.read_parquet(out), bench.load_runs(db)):
        keys = ["run_dir", "level_index", "parallel", "repeat", "metric"]
        rows = frame[[*keys, "value"]].itertuples(index=False)
        got = {tuple(row[:-1]): _nan_none(row[-1]) for row in rows}
        assert got == expected
