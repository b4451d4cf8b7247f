"""Two `vlm-bench db index` processes sharing one store (two CI jobs), on SQLite and on a
real PostgreSQL: both exit 0 and the store ends with the rows of the runs, once each.

The race is repeated `VLM_BENCH_STRESS_ROUNDS` times on each database (CI: 3, each round
a fresh store raced twice, new and re-indexed); the acceptance figure, 10 rounds, is run
by hand: `VLM_BENCH_STRESS_ROUNDS=10 pytest tests/integration/test_store_concurrency.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from bench.store.frame import load_runs
from bench.store.index import find_runs
from tests.support.cli import start_vlm_bench
from tests.support.store import BACKENDS, fresh_store, stored_runs

pytestmark = pytest.mark.integration

ROUNDS_ENV = "VLM_BENCH_STRESS_ROUNDS"
CI_ROUNDS = 3  # each round races two fresh writers twice; 10 is the acceptance figure


def stress_rounds() -> int:
    """How many times the race is repeated: VLM_BENCH_STRESS_ROUNDS, else CI_ROUNDS."""
    raw = os.environ.get(ROUNDS_ENV, "").strip() or str(CI_ROUNDS)
    if not raw.isdigit() or int(raw) < 1:
        pytest.fail(f"{ROUNDS_ENV}={raw!r}: expected a whole number of rounds, 1 or more")
    return int(raw)


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
    for round_ in range(stress_rounds()):
        with fresh_store(backend, tmp_path / f"round{round_}") as db:
            _index_twice_at_once(runs, db)
            pd.testing.assert_frame_equal(load_runs(db), expected)
            _change(runs)
            _index_twice_at_once(runs, db)
            pd.testing.assert_frame_equal(load_runs(db), expected)
