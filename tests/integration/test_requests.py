"""Per-request records end to end (Step 15): a real quick-start run on the simulator writes
requests.parquet and deletes evalscope's databases; the figures recomputed from the records
with pandas equal run.json's for every level; and the store gives the same records frame
from SQLite and PostgreSQL as the run folder does."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import bench
from bench.errors import EXIT_BROKEN_PIPE
from bench.load.evalscope_db import DB_FILE
from bench.schema.figures import percentile
from bench.schema.requests import REQUESTS_FILE, figures_of
from bench.schema.runfile import read_run
from bench.store.db import open_store
from bench.store.index import index_paths
from bench.store.tables import REQUESTS
from tests.support.cli import run_cli, vlm_bench
from tests.support.paths import RUNS, SCENARIOS
from tests.support.store import BACKENDS, fresh_store

pytestmark = pytest.mark.integration

# The quick start, smaller and faster: two levels, 64 output tokens, the simulator 100x.
QUICK = (
    *("--parallel", "1", "4", "--number", "4", "8", "--skip-check"),
    *("--set", "server.time_scale=0.01", "--set", "load.min_tokens=64"),
    *("--set", "load.max_tokens=64"),
)
FIGURES = ("rps", "output_tok_s", "latency_avg_s", "ttft_avg_s", "ttft_p99_s", "tpot_avg_s")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("quick")
    env = {**os.environ, "VLM_BENCH_DB": "off"}
    done = vlm_bench("run", str(SCENARIOS / "quickstart.yaml"), *QUICK, "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = (out / "quickstart").iterdir()
    yield found


def test_a_run_keeps_its_records_and_not_evalscopes_databases(run_dir: Path) -> None:
    run = read_run(run_dir)
    assert (run_dir / REQUESTS_FILE).is_file()
    assert list(run_dir.rglob(DB_FILE)) == []
    records = bench.load_requests(run_dir)
    assert len(records) == sum(lv.number for lv in run.levels)
    assert set(records["status"]) == {"ok"} and set(records["output_tokens"]) == {64}
    assert str(records["sent_at"].dtype) == "datetime64[us, UTC]"


def test_the_figures_recomputed_from_the_records_are_the_levels(run_dir: Path) -> None:
    """Step 15 #3: every level's figures from requests.parquet with pandas, by
    bench/schema/figures.py's definitions, equal run.json's."""
    records = pd.read_parquet(run_dir / REQUESTS_FILE)
    for level in read_run(run_dir).levels:
        mine = records[(records.level_index == level.index) & (records.repeat == level.repeat)]
        ok = mine[mine.status == "ok"]
        wall = mine.end_s.max() - mine.start_s.min()
        by_pandas = {
            "rps": len(ok) / wall,
            "output_tok_s": ok.output_tokens.sum() / wall,
            "latency_avg_s": ok.latency_s.mean(),
            "ttft_avg_s": ok.ttft_s.mean(),
            "ttft_p99_s": percentile(ok.ttft_s.tolist(), 99),
            "tpot_avg_s": ok.tpot_s.mean(),
        }
        for key in FIGURES:
            assert by_pandas[key] == pytest.approx(level.value(key), rel=1e-9), key
        again = figures_of(mine.to_dict("records"))
        for key, value in again.items():
            theirs = level.value(key)
            assert (math.isnan(value) and math.isnan(theirs)) or value == pytest.approx(theirs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_store_gives_the_folders_records(
    backend: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fresh_store(backend, tmp_path) as url:
        with open_store(url) as store:
            assert index_paths(store, [run_dir]).indexed
        stored = bench.load_requests(url)
        pd.testing.assert_frame_equal(stored, bench.load_requests(run_dir))
        out = tmp_path / "requests.parquet"
        code, _, err = run_cli(
            capsys, "export", "--db", url, "--what", "requests", "--out", str(out)
        )
        assert code == 0, err
        pd.testing.assert_frame_equal(pd.read_parquet(out), stored)
        # Re-indexing a changed run replaces its requests; a run without records has none.
        copy = tmp_path / "copy"
        shutil.copytree(run_dir, copy)
        (copy / REQUESTS_FILE).unlink()
        with open_store(url) as store:
            index_paths(store, [copy])
            with store.engine.connect() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(REQUESTS)).scalar()
        assert count == len(stored)


def test_export_to_a_pipe_that_closes_early_ends_quietly(tmp_path: Path) -> None:
    """Step 17: `vlm-bench export --out - --format csv | head` must end without a traceback
    when head stops reading."""
    for i in range(30):  # far more than a pipe's buffer holds
        shutil.copytree(RUNS / "sim-quickstart", tmp_path / "runs" / f"r{i}")
    argv = [sys.executable, "-m", "bench", "export", str(tmp_path / "runs"), "--out", "-"]
    proc = subprocess.Popen(
        [*argv, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, EXIT_BROKEN_PIPE), err
    assert head.startswith(b"run_id,run_dir,") and "Traceback" not in err and err == ""


SMALL = """\
name: small
model: {served_name: sim-model, tokenizer_path: generated}
server: {kind: sim, profile: fast}
load: {image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16,
       min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: 60}
sweep: {parallel: [2], number: [4]}
check: off
"""


def test_keep_raw_db_keeps_evalscopes_database_beside_the_records(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SMALL)
    env = {**os.environ, "VLM_BENCH_DB": "off"}
    out = tmp_path / "out"
    done = vlm_bench("run", str(path), "--keep-raw-db", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (out / "small").iterdir()
    assert len(list(run_dir.rglob(DB_FILE))) == 1
    records = bench.load_requests(run_dir)
    assert len(records) == 4 and set(records.worker) == {1}


def test_a_split_levels_records_name_their_worker_and_give_the_levels_figures(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SMALL.replace("[2], number: [4]", "[4], number: [8]"))
    env = {**os.environ, "VLM_BENCH_DB": "off"}
    out = tmp_path / "out"
    done = vlm_bench("run", str(path), "--set", "load.workers=2", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (out / "small").iterdir()
    (level,) = read_run(run_dir).levels
    assert level.diagnostics.workers and list(run_dir.rglob(DB_FILE)) == []
    records = pd.read_parquet(run_dir / REQUESTS_FILE)
    assert sorted(records.worker.unique()) == [1, 2] and len(records) == 8
    for key, value in figures_of(records.to_dict("records")).items():
        theirs = level.value(key)
        assert (math.isnan(value) and math.isnan(theirs)) or value == pytest.approx(theirs)
