"""A run's write path (bench/measure/outputs.py, bench/schema/runwrite.write_run) and its
lock (bench/measure/lock.py).

Write failures are injected by making `os.fsync` fail as a full disk would (the
integration tier fills a real tmpfs); a second Ctrl-C during the report by making the
plots raise KeyboardInterrupt.
"""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from bench.errors import UserError
from bench.measure import outputs
from bench.measure import sweep as runner
from bench.measure.lock import LOCK_NAME, RunLock
from bench.schema import runwrite
from bench.schema.results import LevelResult, RunResult, RunStatus
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.schema.scenario import Scenario, scenario_hash
from tests.support.factories import stored

SCENARIO = Scenario.model_validate(
    {
        "name": "s",
        "model": {"served_name": "m", "tokenizer_path": "generated"},
        "server": {"kind": "sim"},
        "sweep": {"parallel": [1], "number": [2]},
    }
)


def a_run(status: str = "running") -> RunResult:
    level = LevelResult(parallel=1, number=2, index=1, succeeded=2, rps=1.0)
    return RunResult("r1", "s", SCENARIO, scenario_hash(SCENARIO), {}, [level], status=status)


def disk_full(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name.endswith(".tmp"))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a full disk left run.json at `status: running` with a temp file beside it."""
    write_run(a_run(), tmp_path)
    before = (tmp_path / "run.json").read_text()
    monkeypatch.setattr(runwrite.os, "fsync", disk_full)
    with pytest.raises(OSError) as info:
        write_run(a_run("failed"), tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tmp_path / "run.json")
    assert (tmp_path / "run.json").read_text() == before
    assert leftovers(tmp_path) == []


def test_an_interrupted_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runwrite.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_run(a_run(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_second_ctrl_c_during_the_report_keeps_run_json_and_says_how_to_make_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a second Ctrl-C while the report was written left no report and no hint; then
    (Step 17) it left no report, so the finished levels were in run.json only: now the
    report is written without its plots, and the hint says how to make it whole."""
    from bench.report import plots

    def ctrl_c(*_: object, **__: object) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_all", ctrl_c)
    out = io.StringIO()
    run = stored("sim-quickstart")
    run.status = RunStatus.INTERRUPTED
    with pytest.raises(KeyboardInterrupt):
        outputs.write_outputs(run, tmp_path, Console(file=out, width=300), runner.write_report)
    assert read_run(tmp_path).status == "interrupted"
    report = (tmp_path / "report.md").read_text()
    assert "Run status: interrupted" in report and "## Plots" not in report
    assert out.getvalue().strip() == (
        "report written without its plots (interrupted); make it whole with: "
        f"vlm-bench report {tmp_path}"
    )


def test_finish_on_a_full_disk_is_one_line_exit_1_and_frees_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run(a_run(), tmp_path)  # the last good state, with one measured level
    lock = RunLock(tmp_path)
    stopped: list[bool] = []
    monkeypatch.setattr(runwrite.os, "fsync", disk_full)
    with pytest.raises(outputs.OutputError) as info:
        outputs.finish(
            a_run("failed"),
            tmp_path,
            Console(file=io.StringIO()),
            runner.write_report,
            lambda: stopped.append(True),
            lock,
        )
    message = str(info.value)
    assert info.value.exit_code == 1 and "\n" not in message
    assert message == (
        f"{tmp_path / 'run.json'}: No space left on device — the 1 measured level is kept; "
        f"once there is room, re-render the report with: vlm-bench report {tmp_path}"
    )
    assert stopped == [True]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "running"
    assert not (tmp_path / LOCK_NAME).exists()
    assert leftovers(tmp_path) == []


def test_a_write_error_during_the_sweep_is_recorded_when_the_last_write_works(
    tmp_path: Path,
) -> None:
    err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "levels.csv"))
    run = a_run("failed")
    run.reason = outputs.failure_reason(err)
    with pytest.raises(outputs.OutputError):
        outputs.finish(
            run,
            tmp_path,
            Console(file=io.StringIO()),
            lambda *_: None,
            lambda: None,
            RunLock(tmp_path),
            err,
        )
    kept = read_run(tmp_path)
    assert kept.status == "failed"
    assert kept.reason == f"disk full: {tmp_path / 'levels.csv'}: No space left on device"


def test_the_run_lock_admits_one_holder_and_names_it(tmp_path: Path) -> None:
    """Bug: two processes on one run directory (`run --resume` twice) corrupted it."""
    with RunLock(tmp_path):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid()
        # flock locks belong to an open file, so a second open in this process conflicts
        # just as another process's would.
        with pytest.raises(UserError) as info:
            RunLock(tmp_path)
        assert str(info.value) == (
            f"{tmp_path}: in use by vlm-bench pid {os.getpid()} (since {holder['since']})"
        )
        assert info.value.exit_code == 2
    assert not (tmp_path / LOCK_NAME).exists()
    RunLock(tmp_path).release()  # free again


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    """A run killed by SIGKILL leaves its lock file, but the kernel has dropped the lock."""
    (tmp_path / LOCK_NAME).write_text('{"pid": 1, "host": "h", "since": "then"}\n')
    lock = RunLock(tmp_path)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
