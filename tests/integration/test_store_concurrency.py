"""Two `vlm-bench db index` processes sharing one store (two CI jobs), on SQLite and on a
real PostgreSQL: both exit 0 and the store ends with the rows of the runs, once each."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from bench.store.frame import load_runs
from bench.store.index import find_runs
from tests.support.cli import start_vlm_bench
from tests.support.store import BACKENDS, fresh_store, stored_runs

pytestmark = pytest.mark.integration

ROUNDS = 10
TIMEOUT_S = 240  # per pair of processes: a hang fails the test instead of the suite


def _index_twice_at_once(runs: Path, db: str) -> list[str]:
    """Start two `db index RUNS --db DB` together; the stderr of each, after asserting
    that both exited 0."""
    procs = [start_vlm_bench("db", "index", str(runs), "--db", db) for _ in range(2)]
    outcomes = []
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT_S)
            outcomes.append((proc.returncode, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"`vlm-bench db index` still running after {TIMEOUT_S} s")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for code, err in outcomes:
        assert code == 0, err
    return [err for _, err in outcomes]


def _change(runs: Path) -> None:
    """Every run.json rewritten with other indentation: a new digest, the same run."""
    for run_file in find_runs(runs):
        data = json.loads(run_file.read_text(encoding="utf-8"))
        run_file.write_text(json.dumps(data, indent=1), encoding="utf-8")


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_indexers_at_once_both_succeed_with_the_same_rows(backend: str, tmp_path: Path) -> None:
    """Regression: two indexers on a new store failed with 'table runs already exists'
    (both created the schema), and two re-indexing changed runs with 'UNIQUE constraint
    failed: runs.run_dir' (both inserted the run); now writers take the store's lock."""
    runs = stored_runs(tmp_path)
    expected = load_runs(runs)
    for round_ in range(ROUNDS):
        with fresh_store(backend, tmp_path / f"round{round_}") as db:
            _index_twice_at_once(runs, db)
            pd.testing.assert_frame_equal(load_runs(db), expected)
            _change(runs)
            _index_twice_at_once(runs, db)
            pd.testing.assert_frame_equal(load_runs(db), expected)
