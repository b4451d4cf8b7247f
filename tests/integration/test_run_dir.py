"""The run directory under stress: a second process on it, and a disk that fills mid-sweep.

Bugs pinned: two processes on one run directory (`run --resume DIR` while DIR was still
running) corrupted each other; a full disk ended the run in an OSError traceback, with a
0-byte report.md and a temp file beside run.json.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.measure.lock import LOCK_NAME, RunLock
from bench.schema.runfile import read_run
from tests.support.cli import start_vlm_bench, vlm_bench

pytestmark = pytest.mark.integration

SCENARIO = """\
name: rundir
model: {served_name: sim-model, tokenizer_path: generated}
server: {kind: sim, profile: fast, args: ['--set', 'decode_base_s=0.02']}
load: {image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16, warmup_requests: 0,
       min_prompt_length: 40, max_prompt_length: 40}
sweep: {parallel: [1, 1], number: [2, 40]}
check: {mode: off}
"""


def start(scenario: Path, out: Path) -> subprocess.Popen[str]:
    return start_vlm_bench("run", str(scenario), "--output-dir", str(out))


def level_started(out: Path, level: int, timeout: float = 120) -> Path:
    """The run directory once `level` has begun (its evalscope database exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for db in out.glob(f"rundir/*/raw/level-{level:02d}/*/benchmark_data.db"):
            return db.parents[3]
        time.sleep(0.2)
    raise AssertionError(f"level {level} did not start in time")


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("vlm-bench: error:")]


def test_a_second_run_on_a_busy_directory_is_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    first = start(scenario, tmp_path / "out")
    try:
        run_dir = level_started(tmp_path / "out", 1)
        second = vlm_bench("run", "--resume", str(run_dir))
        assert second.returncode == 2, second.stderr[-3000:]
        assert errors(second.stderr) == [
            f"vlm-bench: error: {run_dir}: in use by vlm-bench pid {first.pid} "
            f"(since {json.loads((run_dir / LOCK_NAME).read_text())['since']})"
        ]
        assert "Traceback" not in second.stderr
        assert read_run(run_dir).status == "running"  # the second one wrote nothing
    finally:
        first.kill()
        first.communicate(timeout=60)
    # SIGKILL leaves the lock file but not the lock: the directory can be taken again.
    assert (run_dir / LOCK_NAME).exists()
    RunLock(run_dir).release()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, unmounted afterwards; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Fill the file system to the last block; the filler's path."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_mid_sweep_is_one_line_exit_1_and_keeps_the_levels(
    tmp_path: Path, small_disk: Path
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    proc = start(scenario, small_disk)
    try:
        run_dir = level_started(small_disk, 2)
        filler = fill(small_disk)
        _, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    (line,) = errors(err)
    assert "No space left on device — the 1 measured level is kept" in line, line
    assert line.endswith(f"re-render the report with: vlm-bench report {run_dir}")
    kept = read_run(run_dir)  # valid, the failure recorded in the room the reserve left
    assert kept.levels[0].status == "ok"
    assert kept.status == "failed" and kept.reason.startswith("disk full: "), kept.reason
    assert [p.name for p in run_dir.rglob("*") if p.name.endswith(".tmp")] == []
    assert not (run_dir / ".reserve").exists()
    assert not (run_dir / LOCK_NAME).exists()
    assert (run_dir / kept.levels[0].raw_dir).is_dir()
    report = run_dir / "report.md"
    assert not report.exists() or report.stat().st_size > 0

    os.unlink(filler)  # room again: the report can be made as the message says
    again = vlm_bench("report", str(run_dir))
    assert again.returncode == 0, again.stderr[-3000:]
    assert report.stat().st_size > 0


def test_a_second_ctrl_c_during_the_report_keeps_run_json_and_says_how_to_remake_it(
    tmp_path: Path,
) -> None:
    """Bug: a second Ctrl-C while the report was written left no report and no hint.

    The second SIGINT is sent once the first figure is on disk (the report is then being
    written: the figures come before report.md). Should it land just after the report, the
    run must still end the same way, with the report whole.
    """
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    proc = start(scenario, tmp_path / "out")
    try:
        run_dir = level_started(tmp_path / "out", 2)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 120
        while not list(run_dir.glob("*.png")) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert read_run(run_dir).status == "interrupted"
    report = run_dir / "report.md"
    hint = f"report not written (interrupted); make it with: vlm-bench report {run_dir}"
    if hint in err:
        assert not report.exists()
    else:
        assert "Run status: interrupted" in report.read_text()
    again = vlm_bench("report", str(run_dir))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Run status: interrupted" in report.read_text()
