"""`vlm-bench run --url`: benchmark a server that is already running (here a real simulator
process), with no scenario file, the model name found at /v1/models, and `--json` on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench
from tests.support.sim import Sim

pytestmark = pytest.mark.integration


def test_run_url_against_a_running_simulator(sim: Sim, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = vlm_bench(
        "run",
        "--url",
        f"http://127.0.0.1:{sim.port}",
        "--parallel",
        "1",
        "--number",
        "2",
        "--output-dir",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)  # stdout holds the JSON alone
    assert summary["status"] == "complete" and summary["incidents"] == []
    [level] = summary["levels"]
    assert level["parallel"] == 1 and level["succeeded"] == 2 and level["rps"] > 0
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == out / "external" and (run_dir / "run.json").exists()
    run = read_run(run_dir)
    assert run.scenario.server.kind == "external"
    assert run.scenario.model.served_name == json.loads(sim.get("/v1/models")[1])["data"][0]["id"]
    assert "Results (measured; times in ms):" in done.stderr
    # The progress names the level out of the sweep's (bench/report/eta.py).
    assert "level 1 of 1: conc 1, 2 requests · time left known after a level" in done.stderr


def test_run_url_wrong_model_is_one_line(sim: Sim, tmp_path: Path) -> None:
    done = vlm_bench(
        "run",
        "--url",
        f"http://127.0.0.1:{sim.port}/v1",
        "--model",
        "not-served",
        "--parallel",
        "1",
        "--number",
        "1",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 2  # the user named a model the server does not serve
    assert "not model.served_name 'not-served'" in done.stderr.strip().splitlines()[-1]
