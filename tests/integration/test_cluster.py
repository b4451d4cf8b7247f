"""Load workers and fleets on a real two-node Ray cluster on loopback (and K = 2 workers
locally): split levels give the figures one worker gives, a killed worker fails its level
cleanly, a fleet of three sweeps over two nodes completes.

The cluster (a head and a second node process, 1 CPU each, small object stores, a temp
dir of this test's own) is started once for the module and always stopped with
`ray stop --force` scoped to that temp dir's processes; nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bench.schema.results import LevelResult
from bench.schema.runfile import read_run
from bench.store.frame import load_runs

pytest.importorskip("ray")
pytestmark = pytest.mark.integration

RAY = str(Path(sys.executable).parent / "ray")
SCENARIO = """\
name: {name}
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast}}
load: {{image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16,
        min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: 60,
        calibrate: "off", workers: {workers}}}
sweep: {{parallel: [{parallel}], number: [{number}]}}
check: off
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray(*args: str, temp: Path) -> None:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=100000000"]
    subprocess.run(
        [RAY, "start", *args, *common, f"--temp-dir={temp}", "--disable-usage-stats"],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def _ours(temp: Path) -> list[int]:
    """Live processes whose command line names this cluster's temp dir (raylets, GCS…)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(temp) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    out.append(int(entry.name))
            except OSError:
                continue
    return [p for p in out if p != os.getpid()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    temp = Path("/tmp") / f"vbray{os.getpid()}"  # short: Ray's socket paths have a limit
    port = _free_port()
    try:
        _ray("--head", f"--port={port}", "--include-dashboard=false",
             '--resources={"vlm_bench_client": 1}', temp=temp)  # fmt: skip
        _ray(f"--address=127.0.0.1:{port}",
             '--resources={"vlm_bench_client": 1, "node_b": 1}', temp=temp)  # fmt: skip
        yield f"127.0.0.1:{port}"
    finally:
        # `ray stop` stops every Ray process of this user: only ours are stopped here.
        for pid in _ours(temp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _ours(temp) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(temp, ignore_errors=True)
        assert not _ours(temp), "a Ray process outlived the test"


def _scenario(tmp: Path, name: str, workers: int, parallel: int = 4, number: int = 8) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, workers=workers, parallel=parallel, number=number))
    return path


def _run(tmp: Path, scenario: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(scenario), "--output-dir", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs = sorted((out / scenario.stem).iterdir())
    return done, runs[-1]


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> LevelResult:
    """The level as one evalscope process: what the split ones are compared with."""
    tmp = tmp_path_factory.mktemp("one")
    done, run_dir = _run(tmp, _scenario(tmp, "one", 1))
    assert done.returncode == 0, done.stderr[-2000:]
    return read_run(run_dir).levels[0]


def test_two_local_workers_agree_with_one(tmp_path: Path, one_worker: LevelResult) -> None:
    two, two_dir = _run(tmp_path, _scenario(tmp_path, "two", 2))
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = one_worker, read_run(two_dir).levels[0]
    assert a.diagnostics.workers is None  # K = 1: exactly as before
    stats = b.diagnostics.workers
    assert stats is not None and [(w.parallel, w.number) for w in stats] == [(2, 4), (2, 4)]
    assert len({w.seed for w in stats}) == 2 and all(w.clock_offset_s == 0.0 for w in stats)
    assert b.succeeded == 8 and b.status == "ok"
    # The simulator's timing is deterministic up to scheduling noise on a busy host.
    for key in ("ttft_avg_s", "tpot_avg_s", "latency_avg_s"):
        assert b.value(key) == pytest.approx(a.value(key), rel=0.5), key


def test_ray_workers_on_two_nodes_agree_with_one(
    tmp_path: Path, cluster: str, one_worker: LevelResult
) -> None:
    two, two_dir = _run(tmp_path, _scenario(tmp_path, "ray2", 2), "--cluster", cluster)
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = one_worker, read_run(two_dir).levels[0]
    stats = b.diagnostics.workers
    assert stats is not None and len(stats) == 2
    assert len({w.host for w in stats}) == 2  # one worker per node (ray node ids differ)
    assert b.succeeded == 8 and sum(w.rows for w in stats) == 8
    for w in stats:  # every worker's raw folder came back through Ray (its database is
        # deleted once requests.parquet holds its rows, each naming its worker)
        assert list((two_dir / b.raw_dir / f"worker-{w.worker}").glob("level-01/*/*.json"))
    workers = pd.read_parquet(two_dir / "requests.parquet").worker
    assert sorted(workers.unique()) == [1, 2] and len(workers) == 8
    for key in ("ttft_avg_s", "tpot_avg_s", "latency_avg_s"):
        assert b.value(key) == pytest.approx(a.value(key), rel=0.5), key


def _evalscope_children(seed: bytes) -> list[int]:
    """This test's evalscope workers (its level's share: --number 200) with `seed`."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bench.load.evalscope" in cmd and b"200" in cmd and seed in cmd:
            out.append(int(entry.name))
    return out


def _kill_worker_2(stop: threading.Event) -> None:
    """SIGKILL worker 2's evalscope child (its seed is the level's + 1 000 000) once it runs."""
    while not stop.is_set():
        for pid in _evalscope_children(b"1000000"):
            time.sleep(1.0)  # let worker 1 start sending
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


def test_a_killed_worker_fails_the_level_and_stops_the_others(tmp_path: Path, cluster: str) -> None:
    stop = threading.Event()
    killer = threading.Thread(target=_kill_worker_2, args=(stop,), daemon=True)
    killer.start()
    try:
        scenario = _scenario(tmp_path, "killed", 2, parallel=2, number=400)
        done, run_dir = _run(tmp_path, scenario, "--cluster", cluster)
    finally:
        stop.set()
    assert done.returncode == 1, done.stderr[-2000:]
    level = read_run(run_dir).levels[0]
    assert level.status == "failed" and "load worker 2 of 2 exited -9" in level.reason
    stats = level.diagnostics.workers or []
    assert stats[0].rows < 200  # worker 1 was stopped, not left to finish
    assert not _evalscope_children(b"0")  # and nothing of it is left running


def test_a_fleet_of_three_sweeps_over_two_nodes(tmp_path: Path, cluster: str) -> None:
    for name in ("fa", "fb", "fc"):
        _scenario(tmp_path, name, 1, parallel=2, number=4)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"address: '{cluster}'\noutput_dir: fleet\nnum_cpus: 0.5\n"
        "runs:\n"
        "  - {scenario: fa.yaml, resources: {node_b: 1}}\n"
        "  - {scenario: fb.yaml, resources: {vlm_bench_client: 1}}\n"
        "  - {scenario: fc.yaml}\n"
    )
    argv = [sys.executable, "-m", "bench", "fleet", str(plan)]
    env = {k: v for k, v in os.environ.items() if k != "VLM_BENCH_DB"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "3 of 3 sweeps ok" in done.stdout
    state = json.loads((tmp_path / "fleet" / "fleet-state.json").read_text())
    for entry in state.values():
        assert read_run(tmp_path / "fleet" / entry["run_dir"]).status == "complete"
    # Indexed as they came back: the store beside the fleet's run folders holds all three.
    indexed = load_runs(str(tmp_path / "fleet" / "vlm-bench.db"))
    expected = {str((tmp_path / "fleet" / e["run_dir"]).resolve()) for e in state.values()}
    assert set(indexed["run_dir"]) == expected and len(expected) == 3
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0 and again.stdout.count("skip ") == 3, again.stdout
