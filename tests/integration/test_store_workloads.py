"""Runs that sent different workloads, through the store on SQLite and a real PostgreSQL:
`runs.workload_fingerprint` round-trips, a store made at r0002 (before the column) is
upgraded in place and back-filled from the runs' run.json files, and `vlm-bench history`
on the store keeps each workload's runs a series of their own.

The runs: tests/data/workload-runs/workload-photos made a history of 12 runs whose
workload changed at run 6 (tests/support/dashboard.workload_history).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from bench.schema.runfile import read_run
from bench.store.db import MIGRATIONS, engine_url, open_store, writing
from bench.store.frame import load_runs
from bench.store.index import find_runs, index_paths
from bench.store.rows import file_digest, run_dir_key, run_rows
from bench.store.tables import HEAD, METADATA, RUNS
from tests.support.cli import last_error, run_cli
from tests.support.dashboard import WORKLOAD_A, WORKLOAD_AT, WORKLOAD_B, workload_history
from tests.support.paths import RUNS as SIM_RUNS
from tests.support.store import BACKENDS, fresh_store

pytestmark = pytest.mark.integration


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """The workload history, and the simulator's quick-start run (no workload section)."""
    root = workload_history(tmp_path)
    shutil.copytree(SIM_RUNS / "sim-quickstart", root / "quickstart")
    return root


def _expected(root: Path) -> dict[str, str | None]:
    """{run folder: fingerprint} as the runs' run.json files say."""
    out: dict[str, str | None] = {}
    for run_file in find_runs(root):
        prov = json.loads(run_file.read_text())["provenance"]
        out[run_dir_key(run_file.parent)] = prov.get("workload_fingerprint")
    return out


def _stored(url: str) -> dict[str, tuple[str | None, str]]:
    """{run folder: (fingerprint, digest)} as the store holds them."""
    with open_store(url) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.select(RUNS.c.run_dir, RUNS.c.workload_fingerprint, RUNS.c.digest))
        return {r.run_dir: (r.workload_fingerprint, r.digest) for r in rows}


def test_the_fingerprint_round_trips(db: str, runs: Path) -> None:
    with open_store(db) as store:
        index_paths(store, [runs])
    expected = _expected(runs)
    assert sorted(expected.values(), key=str).count(None) == 1  # the quick start has none
    assert {k: v[0] for k, v in _stored(db).items()} == expected
    frame = load_runs(db)
    per_run = frame.groupby("run_dir")["workload_fingerprint"].first()
    assert {k: (None if pd.isna(v) else v) for k, v in per_run.items()} == expected
    pd.testing.assert_frame_equal(frame, load_runs(runs))


def _r0002_store(url: str, runs: Path) -> None:
    """A store as vlm-bench made it at r0002: Alembic up to r0002, then every run's rows
    written as that version's index wrote them (no workload column)."""
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(engine_url(url, "--db"))
    try:
        with writing(engine) as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "r0002")
        with writing(engine) as conn:
            old = sa.MetaData()
            old.reflect(conn)
            assert "workload_fingerprint" not in old.tables["runs"].c
            for run_file in find_runs(runs):
                rows = run_rows(
                    read_run(run_file), run_file.parent, file_digest(run_file.read_bytes())
                )
                del rows.run["workload_fingerprint"]
                key = conn.execute(
                    sa.insert(old.tables["runs"]).values(**rows.run)
                ).inserted_primary_key
                assert key is not None
                for name, items in (("levels", rows.levels), ("level_metrics", rows.metrics)):
                    conn.execute(
                        sa.insert(old.tables[name]), [{**i, "run_key": key[0]} for i in items]
                    )
    finally:
        engine.dispose()


def test_a_store_made_at_r0002_is_upgraded_and_back_filled(db: str, runs: Path) -> None:
    _r0002_store(db, runs)
    expected = _expected(runs)
    changed = runs / f"run{WORKLOAD_AT + 1:02d}" / "run.json"  # edited since it was indexed
    changed.write_text(changed.read_text() + "\n")
    gone = runs / "run00"
    shutil.rmtree(gone)  # indexed on another machine, say
    with open_store(db) as store, store.engine.connect() as conn:  # the upgrade
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == HEAD
        assert compare_metadata(context, METADATA) == []
    stored = _stored(db)
    for run_dir, (fingerprint, digest) in stored.items():
        if run_dir in (run_dir_key(changed.parent), run_dir_key(gone)):
            # Not the file that was indexed: NULL, and written again by the next index.
            assert (fingerprint, digest) == (None, "")
        else:
            assert fingerprint == expected[run_dir] and digest
    assert sum(f == WORKLOAD_B for f, _ in stored.values()) == WORKLOAD_AT - 1
    with open_store(db) as store:
        again = index_paths(store, [runs])
    assert again.indexed == [run_dir_key(changed.parent)]
    assert _stored(db)[run_dir_key(changed.parent)][0] == WORKLOAD_B


def test_history_on_the_store_keeps_each_workload_apart(
    db: str, runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bug: history grouped runs by scenario name only, so the workload change at run
    WORKLOAD_AT was reported as a change point of RPS."""
    with open_store(db) as store:
        index_paths(store, [runs])
    argv = ["history", "workload-photos", "--metric", "rps", "--conc", "1", "--db", db]
    code, out, _ = run_cli(capsys, *argv, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["workload_fingerprint"] == WORKLOAD_B
    assert doc["left_out"] == [{"workload_fingerprint": WORKLOAD_A, "runs": WORKLOAD_AT}]
    assert len(doc["runs"]) == WORKLOAD_AT and doc["changes"] == []
    code, out, _ = run_cli(capsys, *argv, "--workload", WORKLOAD_A)
    assert code == 0 and f"workload {WORKLOAD_A}" in out.splitlines()[0]
    assert f"left out: {WORKLOAD_AT} runs of workload {WORKLOAD_B}" in out
    assert "no change point" in out
    code, line = last_error(capsys, *argv, "--workload", "none")
    assert code == 2 and line.startswith("vlm-bench: error: history: --workload none: no run")
    assert f"{WORKLOAD_B} ({WORKLOAD_AT} runs)" in line
    # The same runs as one workload: the change the split keeps out of the series.
    for run_file in find_runs(runs):
        text = run_file.read_text().replace(WORKLOAD_B, WORKLOAD_A)
        run_file.write_text(text)
    with open_store(db) as store:
        index_paths(store, [runs])
    code, out, _ = run_cli(capsys, *argv, "--json")
    assert code == 0 and [c["index"] for c in json.loads(out)["changes"]] == [WORKLOAD_AT]
