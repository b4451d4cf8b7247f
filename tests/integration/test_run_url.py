"""`vlm-bench run --url`: benchmark a server that is already running (here a real simulator
process), with no scenario file, the model name found at /v1/models, and `--json` on stdout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench
from tests.support.sim import Sim

pytestmark = pytest.mark.integration


def test_run_url_against_a_running_simulator(shared_sim: Sim, tmp_path: Path) -> None:
    sim = shared_sim  # only read: runs against it, never counts its trace
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
    run = read_run(run_dir)
    served = json.loads(sim.get("/v1/models")[1])["data"][0]["id"]
    assert run.scenario.server.kind == "external" and run.scenario.model.served_name == served
    # Named after model and server (plus a digest of --parallel/--number), not `external`.
    assert run_dir.parent.name.startswith(f"{served}@127.0.0.1-{sim.port}-")
    assert run_dir.parent.parent == out and (run_dir / "run.json").exists()
    assert "Results (measured; times in ms):" in done.stderr
    assert f"attaching to the server at http://127.0.0.1:{sim.port}" in done.stderr
    assert "starting" not in done.stderr  # vlm-bench does not start this server
    # The progress names the level out of the sweep's (bench/report/eta.py).
    assert "level 1 of 1: conc 1, 2 requests · time left known after a level" in done.stderr


def test_run_url_wrong_model_is_one_line(shared_sim: Sim, tmp_path: Path) -> None:
    sim = shared_sim  # only read: runs against it, never counts its trace
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


def _url_run(sim: Sim, out: Path, *flags: str) -> Path:
    done = vlm_bench(
        "run", "--url", sim.url(), "--parallel", "1", "--number", "2", "--out", str(out),
        "--json", *flags,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return Path(json.loads(done.stdout)["run_dir"])


def test_url_runs_of_two_servers_are_named_labelled_and_kept_apart(
    sim_factory: Callable[..., Sim], tmp_path: Path
) -> None:
    """Bug: every --url run was named `external` with hardware and backend empty, so
    history, trends and the dashboard mixed servers and export showed nothing."""
    one, two = sim_factory("--model", "model-one"), sim_factory("--model", "model-two")
    out = tmp_path / "runs"
    first = _url_run(one, out, "--hardware", "test box")
    second = _url_run(two, out)
    names = [read_run(d).scenario_name for d in (first, second)]
    assert names[0].startswith(f"model-one@127.0.0.1-{one.port}-")
    assert names[1].startswith(f"model-two@127.0.0.1-{two.port}-")
    table = tmp_path / "runs.parquet"
    done = vlm_bench("export", str(out), "--format", "parquet", "--out", str(table))
    assert done.returncode == 0, done.stderr[-2000:]
    runs = pd.read_parquet(table).groupby("scenario_name").first()
    assert runs.loc[names[0], "model"] == "model-one" and runs.loc[names[1], "model"] == "model-two"
    # What the simulator says (/v1/models' owned_by, /version), and the flag where it is silent.
    assert all(runs["backend"].str.startswith("vlm-bench-sim "))
    assert runs.loc[names[0], "hardware"] == "test box" and runs.loc[names[1], "hardware"] == ""
    done = vlm_bench("history", names[0], "--runs", str(out), "--conc", "1", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r["run_id"] for r in json.loads(done.stdout)["runs"]] == [first.name]
    site = tmp_path / "site"
    done = vlm_bench("dashboard", str(out), "--out", str(site))
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(site.glob("trend-*.html"))) == 2  # one trend page per server


def test_https_to_a_plain_http_server_is_one_line(shared_sim: Sim) -> None:
    """Bug: https:// to an http server printed an SSL error text, not what to type."""
    sim = shared_sim  # only read: runs against it, never counts its trace
    done = vlm_bench("run", "--url", f"https://127.0.0.1:{sim.port}", "--dry-run")
    assert done.returncode == 2
    [err] = done.stderr.strip().splitlines()
    assert "TLS failed" in err and f"type --url http://127.0.0.1:{sim.port}" in err
