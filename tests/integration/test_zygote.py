"""The run's zygote (bench/load/zygote.py): each level a fork of one warm process.

The zygote protocol is driven with a small warm/run pair (tests/support/zygote_child.py) so
every outcome of a child can be provoked: an exit code, a signal, Ctrl-C, a stop of its
group; then a real sweep shows evalscope forked per level and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bench import proc
from bench.load import zygote
from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench
from tests.support.faults import all_gone

pytestmark = pytest.mark.integration

CHILD = [sys.executable, "-m", "tests.support.zygote_child"]


@pytest.fixture
def warm(tmp_path: Path) -> zygote.Zygote:
    z = zygote.Zygote([*CHILD, str(tmp_path)], dict(os.environ), tmp_path / "zygote.log")
    assert z.ready and z.alive()
    yield z
    z.close()
    assert z.proc.poll() is not None


def fork(z: zygote.Zygote, tmp_path: Path, *args: str) -> zygote.Forked:
    env = {**os.environ, "ZYGOTE_TEST": "level"}
    child = z.fork(list(args), env, tmp_path, tmp_path / "child.log")
    assert child is not None
    return child


def test_a_child_is_a_fresh_fork_with_its_own_session_log_env_and_folder(
    warm: zygote.Zygote, tmp_path: Path
) -> None:
    first = fork(warm, tmp_path, "report", "one.json")
    second = fork(warm, tmp_path, "report", "two.json")
    assert first.wait(30) == 0 and second.wait(30) == 0
    one, two = (json.loads((tmp_path / n).read_text()) for n in ("one.json", "two.json"))
    assert one["pid"] == first.pid and two["pid"] == second.pid != first.pid
    for seen in (one, two):
        assert seen["ppid"] == warm.proc.pid  # forked by the zygote, not started by us
        assert seen["sid"] == seen["pid"] == seen["pgid"]  # a session and group of its own
        assert seen["warmed_in"] == warm.proc.pid  # the warm state came with the fork
        assert seen["env"] == "level" and seen["cwd"] == str(tmp_path)
        assert seen["counter"] == 1  # the first child's change did not reach the second
    assert "hello from the child" in (tmp_path / "child.log").read_text()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("exit", "3"), 3),
        (("raise",), 1),
        (("interrupt",), -signal.SIGINT),
    ],
)
def test_a_child_ends_with_the_code_a_fresh_process_would(
    warm: zygote.Zygote, tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    child = fork(warm, tmp_path, *args)
    assert child.wait(30) == code and child.poll() == code
    if args == ("raise",):
        assert "ValueError: a bug" in (tmp_path / "child.log").read_text()


def test_a_running_child_is_stopped_by_its_group_and_waited_with_a_timeout(
    warm: zygote.Zygote, tmp_path: Path
) -> None:
    child = fork(warm, tmp_path, "sleep", "60")
    assert child.poll() is None
    with pytest.raises(Exception, match="timed out"):
        child.wait(0.2)
    started = time.monotonic()
    proc.stop_group(child, ((signal.SIGINT, 10.0),))  # Ctrl-C: the child's handler ends it
    assert child.returncode == 3 and time.monotonic() - started < 10  # run's own exit code
    assert not proc.group_alive(child.pid)


def test_a_dead_zygote_forks_nothing_and_its_lost_child_counts_as_ended(
    warm: zygote.Zygote, tmp_path: Path
) -> None:
    child = fork(warm, tmp_path, "sleep", "60")
    log = tmp_path / "child.log"
    deadline = time.monotonic() + 30
    while "hello from the child" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the child never ran"
        time.sleep(0.05)
    os.killpg(warm.proc.pid, signal.SIGKILL)  # the zygote's group only: not the child's
    warm.proc.wait(10)
    assert warm.fork(["exit", "0"], dict(os.environ), tmp_path, tmp_path / "x.log") is None
    # PR_SET_PDEATHSIG: the child gets SIGTERM when its zygote dies
    assert child.wait(30) == -signal.SIGKILL and not proc.group_alive(child.pid)


def test_a_sweep_forks_every_level_from_one_zygote_and_leaves_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: forks\n"
        "model: {served_name: sim-model, tokenizer_path: generated}\n"
        "server: {kind: sim, profile: fast}\n"
        "load: {image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16,\n"
        "       min_prompt_length: 40, max_prompt_length: 40}\n"
        "sweep: {parallel: [1, 2, 2], number: [2, 4, 4]}\n"
        "check: off\n"
    )
    done = vlm_bench("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (tmp_path / "out" / "forks").iterdir()
    all_gone(run_dir)
    run = read_run(run_dir)
    assert [(lv.succeeded, lv.failed) for lv in run.levels] == [(2, 0), (4, 0), (4, 0)]
    raw = run_dir / "raw"
    assert (raw / "zygote.log").is_file()  # one zygote for the run…
    logs = sorted(raw.glob("level-*/evalscope.log"))
    assert len(logs) == 3  # …and each level's child wrote its own log
    assert not list(raw.rglob("perf_report.html"))  # evalscope's CDN page is not made
