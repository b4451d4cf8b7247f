"""Nothing finished is ever lost (Step 17): a real quick-start run (the simulator, the real
evalscope client), cut by SIGINT or SIGTERM while it calibrates the client, warms the server
up, waits between levels or renders the report, keeps every finished level in run.json and
in the report, and `--resume` measures only the rest.

Each moment is reached deterministically: the run is started with `VLM_BENCH_TEST_HOLD`
(bench/measure/holds.py), waits at that moment, and the test signals it once the hold's
file says it is there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench.measure import calibrate
from bench.measure.holds import ENV
from bench.schema.results import LevelResult, RunResult
from bench.schema.runfile import read_run
from tests.support.cli import start_vlm_bench, vlm_bench
from tests.support.faults import all_gone
from tests.support.paths import SCENARIOS

pytestmark = pytest.mark.integration

# The quick start, narrowed: two levels of two requests, 32 tokens each, 100x faster
# than the modelled hardware.
NARROW = (
    "--parallel", "1", "2",
    "--number", "2", "2",
    "--set", "load.min_tokens=32",
    "--set", "load.max_tokens=32",
    "--set", "server.time_scale=0.01",
    "--set", "check.mode=off",
)  # fmt: skip
WAIT_S = 300.0  # a loaded machine's worst case to reach a hold; never slept through


@pytest.fixture
def cache(tmp_path: Path, tokenizer_dir: Path) -> Path:
    """A cache of this test's own (the client-error cache starts empty), sharing the
    generated tokenizer."""
    root = tmp_path / "cache"
    root.mkdir()
    (root / tokenizer_dir.name).symlink_to(tokenizer_dir)
    return root


def _env(cache: Path, hold: str = "", marker: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "VLM_BENCH_CACHE": str(cache)}
    env.pop(ENV, None)
    if hold:
        env[ENV] = f"{hold}:{marker}"
    return env


def interrupt_at(
    hold: str, sig: signal.Signals, argv: list[str], tmp_path: Path, cache: Path
) -> subprocess.CompletedProcess[str]:
    """Run `vlm-bench ARGV` until it waits at `hold`, send `sig`, and wait for its end."""
    marker = tmp_path / f"held-{hold}"
    proc = start_vlm_bench(*argv, env=_env(cache, hold, marker))
    try:
        deadline = time.monotonic() + WAIT_S
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                raise AssertionError(f"never held at {hold} (exit {proc.returncode}): {err}")
            time.sleep(0.05)  # polling for the run's own signal that it is there
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start_args(tmp_path: Path, *extra: str) -> list[str]:
    out = tmp_path / "out"
    return ["run", str(SCENARIOS / "quickstart.yaml"), "--output-dir", str(out), *NARROW, *extra]


def the_run_dir(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "out" / "quickstart").iterdir()
    return run_dir


def report_rows(run_dir: Path) -> list[str]:
    """The concurrencies of the report's reference table, as written."""
    text = (run_dir / "report.md").read_text()
    table = text.split("| Conc.", 1)[1].split("\n\n", 1)[0]
    return [line.split("|")[1].strip().rstrip(" ⚑") for line in table.splitlines()[2:]]


def kept(level: LevelResult) -> tuple[str | None, str | None, float]:
    """What re-measuring a level would change."""
    return level.started_at, level.raw_dir, level.ttft_avg_s


def resumed(
    tmp_path: Path, cache: Path, before: RunResult, again: tuple[str, ...] = ()
) -> RunResult:
    """`--resume` to the end: complete, every level ok, the finished ones untouched."""
    run_dir = the_run_dir(tmp_path)
    done = vlm_bench("run", "--resume", str(run_dir), env=_env(cache))
    assert done.returncode == 0, done.stderr[-3000:]
    all_gone(run_dir)
    after = read_run(run_dir)
    assert after.status == "complete"
    assert [(lv.parallel, lv.status) for lv in after.levels] == [(1, "ok"), (2, "ok")]
    finished = {lv.index: kept(lv) for lv in before.levels if lv.status == "ok"}
    for level in after.levels:
        if level.index in finished:
            assert kept(level) == finished[level.index]  # never measured again
    # Only the levels measured again (`again`) set an earlier attempt aside.
    assert sorted(p.name for p in (run_dir / "raw").glob("*.attempt-*")) == list(again)
    assert report_rows(run_dir) == ["1", "2"]
    return after


def test_sigint_while_the_client_calibrates_keeps_the_level(tmp_path: Path, cache: Path) -> None:
    """Bug: Ctrl-C while the client-error calibration ran after level 1 left run.json at
    `levels: []` with the level's raw summary on disk, and `--resume` measured it again
    (the server's multimodal cache then answered every image: a 100 % hit rate flag)."""
    argv = start_args(tmp_path, "--set", "load.calibrate=always")
    done = interrupt_at("calibrating", signal.SIGINT, argv, tmp_path, cache)
    assert done.returncode == 130, done.stderr[-3000:]
    # Its measured requests and one warm-up request (conc 1).
    said = f"conc 1: calibrating the client: {calibrate.MIN_REQUESTS + 1} requests, ~"
    assert said in done.stderr
    assert "interrupted: 1 finished level kept in run.json; " in done.stderr
    assert " of 1 level trusted" in done.stderr
    run_dir = the_run_dir(tmp_path)
    all_gone(run_dir)
    before = read_run(run_dir)
    assert before.status == "interrupted"
    assert [(lv.parallel, lv.status) for lv in before.levels] == [(1, "ok")]
    assert before.levels[0].client.ttft_error_s is None  # its calibration was cut short
    assert report_rows(run_dir) == ["1"]

    after = resumed(tmp_path, cache, before)
    # The resumed run calibrates the kept level too.
    assert all(lv.client.ttft_error_s is not None for lv in after.levels)
    assert all(any(c.name == "client error" for c in lv.checks) for lv in after.levels)


def test_sigterm_between_levels_then_while_warming_up_keeps_the_level(
    tmp_path: Path, cache: Path
) -> None:
    """Between levels the first level is committed and the second not begun; the resumed
    run is then cut while its server warms up: both keep the first level, and the last
    `--resume` measures only the second."""
    argv = start_args(tmp_path, "--set", "server.warmup_requests=1")
    done = interrupt_at("between-levels", signal.SIGTERM, argv, tmp_path, cache)
    assert done.returncode == 130, done.stderr[-3000:]
    run_dir = the_run_dir(tmp_path)
    all_gone(run_dir)
    before = read_run(run_dir)
    assert before.status == "interrupted"
    assert [(lv.parallel, lv.status) for lv in before.levels] == [(1, "ok")]
    assert report_rows(run_dir) == ["1"]
    assert not (run_dir / "raw" / "level-02").exists()

    again = interrupt_at(
        "warming-up", signal.SIGTERM, ["run", "--resume", str(run_dir)], tmp_path, cache
    )
    assert again.returncode == 130, again.stderr[-3000:]
    all_gone(run_dir)
    middle = read_run(run_dir)
    assert middle.status == "interrupted"
    assert [kept(lv) for lv in middle.levels] == [kept(before.levels[0])]
    assert report_rows(run_dir) == ["1"]

    resumed(tmp_path, cache, before)


def test_sigint_while_the_report_renders_keeps_every_level(tmp_path: Path, cache: Path) -> None:
    """The report cut short is written without its plots, every level in it; run.json is
    whole, and `--resume` of the finished run measures nothing."""
    done = interrupt_at("report", signal.SIGINT, start_args(tmp_path), tmp_path, cache)
    assert done.returncode == 130, done.stderr[-3000:]
    run_dir = the_run_dir(tmp_path)
    all_gone(run_dir)
    assert "report written without its plots (interrupted); make it whole with" in done.stderr
    before = read_run(run_dir)
    assert before.status == "complete"
    assert [(lv.parallel, lv.status) for lv in before.levels] == [(1, "ok"), (2, "ok")]
    assert report_rows(run_dir) == ["1", "2"]
    assert "## Plots" not in (run_dir / "report.md").read_text()

    resumed(tmp_path, cache, before)
    assert "## Plots" in (run_dir / "report.md").read_text()


def in_flight(run_dir: Path) -> float:
    """Requests running or waiting at the run's simulator, from its /metrics."""
    port = (run_dir / "sim.port").read_text().strip()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    names = ("vllm:num_requests_running", "vllm:num_requests_waiting")
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(names))


def level_two_warming_up(tmp_path: Path, proc: subprocess.Popen[str]) -> Path:
    """The run directory once level 2's warm-up requests are at the simulator: level 1 is
    in run.json, its four requests (the readiness probe, its warm-up, two measured) are
    traced, and more are in flight. The simulator stalls 30 s at the 6th arrival (level
    2's second warm-up request), so the warm-up is still there when the signal lands."""
    deadline = time.monotonic() + WAIT_S
    while proc.poll() is None and time.monotonic() < deadline:
        for trace in (tmp_path / "out" / "quickstart").glob("*/sim-trace.jsonl"):
            run_dir, lines = trace.parent, trace.read_text()
            done = lines.endswith("\n") and len(lines.splitlines()) == 4
            if done and len(read_run(run_dir).levels) == 1 and in_flight(run_dir) >= 1:
                return run_dir
        time.sleep(0.05)  # polling the simulator's own account of its requests
    raise AssertionError(f"level 2's warm-up never seen (exit {proc.poll()})")


def test_sigint_while_a_level_warms_up_keeps_the_finished_one(tmp_path: Path, cache: Path) -> None:
    """Cut during level 2's warm-up wave (its evalscope running, nothing measured yet):
    level 1 stays as it was, level 2 is recorded as cut short, and `--resume` measures
    level 2 alone."""
    stall = '["--stall-every", "6", "--stall-s", "3000"]'  # 30 s at time scale 0.01
    argv = start_args(tmp_path, "--set", f"server.args={stall}")
    proc = start_vlm_bench(*argv, env=_env(cache))
    try:
        run_dir = level_two_warming_up(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    all_gone(run_dir)
    before = read_run(run_dir)
    assert before.status == "interrupted"
    assert [(lv.parallel, lv.status) for lv in before.levels] == [(1, "ok"), (2, "failed")]
    assert before.levels[1].succeeded == 0 and "interrupted" in before.levels[1].reason
    assert report_rows(run_dir)[0] == "1"

    resumed(tmp_path, cache, before, again=("level-02.attempt-1",))
