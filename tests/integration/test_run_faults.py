"""Server lifecycle and faults through `vlm-bench run`, each fault a real simulator process.

Every test also checks that nothing the run started is left running: all of its child
processes carry the run directory in their arguments.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from bench.store.requestrows import file_rows
from tests.support.cli import start_vlm_bench, vlm_bench
from tests.support.faults import all_gone, leftovers, report, run, write

pytestmark = pytest.mark.integration


def test_slow_readiness_within_the_timeout_and_server_warmup(tmp_path: Path) -> None:
    done, run_dir = run(tmp_path, write(tmp_path, args="['--ready-delay', '2']", server_warmup=2))
    assert done.returncode == 0, done.stderr[-2000:]
    result = read_run(run_dir)
    assert result.status == "complete" and result.provenance.server_ready_s[0] >= 2
    trace = [json.loads(x) for x in (run_dir / "sim-trace.jsonl").read_text().splitlines()]
    # The multimodal readiness probe, the server's warm-up, then the measured requests.
    assert len(trace) == 1 + 2 + (2 + 4)
    first_level = min(lv.started_at for lv in result.levels)
    assert first_level and all(t["outcome"] == "length" for t in trace)


# A server that never gets ready: tests/integration/test_report_faults.py.


def test_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done, run_dir = run(tmp_path, write(tmp_path, port=port))
    assert done.returncode == 2
    assert f"server.port: 127.0.0.1:{port} is already in use" in done.stderr
    assert read_run(run_dir).status == "failed"


def test_server_death_stops_the_sweep_and_keeps_finished_levels(tmp_path: Path) -> None:
    done, run_dir = run(
        tmp_path,
        # Request 1 is the readiness probe: the server dies in level 2.
        write(tmp_path, args="['--exit-after', '5']", parallel="[2, 2, 2]", number="[4, 4, 4]"),
    )
    assert done.returncode == 1
    result = read_run(run_dir)
    assert result.status == "failed"
    assert [lv.status for lv in result.levels] == ["ok", "failed"]
    failed = result.levels[1]
    assert "server died" in failed.reason and "exiting after 5 requests" in failed.reason
    assert result.incidents and result.incidents[0].kind == "server died"
    start, end = failed.diagnostics.server_log_bytes or [0, 0]
    assert "exiting after 5 requests" in (run_dir / "server.log").read_text()[start:end]
    assert "✗" in report(run_dir) and "Run status: failed" in report(run_dir)
    assert "server died" in report(run_dir)


def test_server_death_with_restart_policy_measures_the_level_again(tmp_path: Path) -> None:
    done, run_dir = run(
        tmp_path,
        write(
            tmp_path,
            args="['--exit-after', '6']",
            death="restart",
            parallel="[2, 2]",
            number="[4, 4]",
        ),
    )
    assert done.returncode == 1  # a death happened, even though every level is measured
    result = read_run(run_dir)
    assert result.status == "complete" and [lv.status for lv in result.levels] == ["ok", "ok"]
    assert result.incidents[0].restarted is True
    assert (run_dir / "raw" / "level-02.attempt-1").is_dir()
    # The console's "What happened" block (stderr) says it, as the report does.
    assert "restarted and the level measured again" in " ".join(done.stderr.split())
    assert "restarted and the level measured again" in report(run_dir)
    assert len(result.provenance.server_pids) == 2


def test_error_storm_is_recorded_as_failed_requests(tmp_path: Path) -> None:
    done, run_dir = run(
        tmp_path, write(tmp_path, args="['--error-every', '2', '--error-status', '429']")
    )
    # Failed requests beyond validity.max_failed_ratio (default 0) fail the run.
    assert done.returncode == 1, done.stderr[-2000:]
    result = read_run(run_dir)
    for level in result.levels:
        assert level.failed == level.number // 2 and level.success_rate == 50.0
        assert "requests failed" in level.reason
    assert "50.0%" in (run_dir / "report.md").read_text()


def test_dropped_streams_are_failed_requests(tmp_path: Path) -> None:
    done, run_dir = run(
        tmp_path, write(tmp_path, args="['--drop-every', '2', '--drop-after-tokens', '3']")
    )
    assert done.returncode == 1, done.stderr[-2000:]  # failed requests fail the run
    assert "server: 2 of 4 requests failed (50.0 %)" in read_run(run_dir).reason
    for level in read_run(run_dir).levels:
        assert level.succeeded == level.failed == level.number // 2
        assert level.output_tokens_min == level.output_tokens_max == 16  # only whole ones count
    assert "50.0%" in report(run_dir)


def test_hung_level_times_out(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        args="['--stall-every', '2', '--stall-s', '120']",  # not the readiness probe
        parallel="[1]",
        number="[2]",
        level_timeout=", level_timeout_s: 5",
    )
    t0 = time.monotonic()
    done, run_dir = run(tmp_path, scenario)
    assert time.monotonic() - t0 < 60
    assert done.returncode == 1
    level = read_run(run_dir).levels[0]
    assert level.status == "failed" and "timed out" in level.reason
    assert "timed out" in report(run_dir)


def start_run(tmp_path: Path, scenario: Path) -> subprocess.Popen[str]:
    return start_vlm_bench("run", str(scenario), "--output-dir", str(tmp_path / "out"))


def wait_for_levels(tmp_path: Path, finished: int, timeout: float = 120) -> Path:
    """The run directory, once `finished` levels are in run.json and the next has begun."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_json in (tmp_path / "out" / "faults").glob("*/run.json"):
            run_dir = run_json.parent
            started = list((run_dir / "raw").glob(f"level-{finished + 1:02d}/*/benchmark_data.db"))
            if started and len(read_run(run_dir).levels) == finished:
                return run_dir
        time.sleep(0.2)
    raise AssertionError("the run did not get there in time")


def test_ctrl_c_keeps_finished_levels_and_finished_requests(tmp_path: Path) -> None:
    proc = start_run(
        tmp_path,
        write(
            tmp_path, parallel="[1, 1]", number="[2, 40]", args="['--set', 'decode_base_s=0.02']"
        ),
    )
    run_dir = wait_for_levels(tmp_path, 1)
    time.sleep(2)  # some requests of level 2 finish
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    all_gone(run_dir)
    result = read_run(run_dir)
    assert result.status == "interrupted" and result.levels[0].status == "ok"
    partial = result.levels[1]
    assert partial.status == "partial" and 0 < partial.succeeded < 40
    assert "interrupted after" in partial.reason
    assert "Run status: interrupted" in report(run_dir)
    # The records keep what was measured, the cut level's finished requests too (Step 15).
    counts = Counter(r["level_index"] for r in file_rows(run_dir))
    assert counts == {1: 2, 2: partial.succeeded + partial.failed}


def test_resume_after_a_killed_sweep(tmp_path: Path) -> None:
    proc = start_run(
        tmp_path,
        write(
            tmp_path,
            parallel="[1, 1, 2, 2]",
            number="[2, 2, 40, 4]",
            args="['--set', 'decode_base_s=0.02']",
        ),
    )
    run_dir = wait_for_levels(tmp_path, 2)
    proc.terminate()
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    all_gone(run_dir)
    before = read_run(run_dir)
    assert [lv.index for lv in before.levels if lv.status == "ok"] == [1, 2]

    done = vlm_bench("run", "--resume", str(run_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    all_gone(run_dir)
    after = read_run(run_dir)
    assert after.status == "complete" and after.run_id == before.run_id
    assert [lv.index for lv in after.levels] == [1, 2, 3, 4]
    assert [lv.status for lv in after.levels] == ["ok"] * 4
    for old, new in zip(before.levels[:2], after.levels[:2], strict=True):
        assert (old.started_at, old.raw_dir, old.ttft_avg_s) == (
            new.started_at,
            new.raw_dir,
            new.ttft_avg_s,
        )
    assert after.levels[2].succeeded == 40
    # The records: the kept levels' and the new ones', none of the killed attempt's.
    assert Counter(r["level_index"] for r in file_rows(run_dir)) == {1: 2, 2: 2, 3: 40, 4: 4}
    assert (run_dir / "raw" / "level-03.attempt-1").is_dir()
    assert len(list((tmp_path / "out" / "faults").iterdir())) == 1


def test_sigterm_to_vlm_bench_stops_everything(tmp_path: Path) -> None:
    scenario = write(
        tmp_path, parallel="[1]", number="[50]", args="['--set', 'decode_base_s=0.02']"
    )
    proc = start_run(tmp_path, scenario)
    run_dir = wait_for_levels(tmp_path, 0)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    all_gone(run_dir)
    assert read_run(run_dir).status == "interrupted"


def test_killed_vlm_bench_takes_its_children_along(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the children die with their parent (PR_SET_PDEATHSIG)."""
    scenario = write(
        tmp_path, parallel="[1]", number="[50]", args="['--set', 'decode_base_s=0.02']"
    )
    proc = start_run(tmp_path, scenario)
    run_dir = wait_for_levels(tmp_path, 0)
    assert leftovers(run_dir)  # the simulator and evalscope are running
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while leftovers(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftovers(run_dir)
