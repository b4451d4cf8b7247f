"""Reports say what happened: each fault a real simulator process driven by the real
evalscope client through `vlm-bench run`; run.json, report.md and the console name the
status, the reason, the incident and its counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report import release
from bench.schema.runfile import read_run
from tests.support.faults import report, run, write

pytestmark = pytest.mark.integration


def what_happened(run_dir: Path) -> str:
    """The report's "What happened" section, which must come before the reference table."""
    text = report(run_dir)
    start, table = text.index("## What happened"), text.index("| Conc. |")
    assert start < table
    return text[start:table]


def test_never_ready_records_the_reason_and_the_server_log(tmp_path: Path) -> None:
    """Regression: a server that never got ready left an empty table and no reason in
    run.json or report.md. The timeout leaves the simulator (0.4 s to start here) ample time
    to log its fault before it is stopped: its line is in the log tail and the error."""
    done, run_dir = run(tmp_path, write(tmp_path, args="['--ready-delay', '60']", ready=6))
    assert done.returncode == 1
    err = done.stderr.strip().splitlines()[-1]
    assert "server not ready after 6 s" in err and "fault injection" in err
    result = read_run(run_dir)
    assert result.status == "failed"
    assert result.reason.startswith("server not ready after 6 s")
    (incident,) = result.incidents
    assert incident.kind == "server never ready"
    assert incident.detail == result.reason
    assert any("fault injection" in line for line in incident.log_tail)
    section = what_happened(run_dir)
    assert "server never ready" in section and "server not ready after 6 s" in section
    assert "Last lines of server.log" in section
    assert "Run status: failed" in report(run_dir)
    assert "What happened" in done.stderr and "server never ready" in done.stderr


def test_a_server_that_exits_at_once_is_never_ready_with_its_exit_status(
    tmp_path: Path,
) -> None:
    done, run_dir = run(tmp_path, write(tmp_path, args="['--no-such-flag']"))
    assert done.returncode == 1
    result = read_run(run_dir)
    assert result.status == "failed"
    assert result.reason.startswith("server exited with status 2 before it was ready")
    assert result.incidents[0].kind == "server never ready"
    assert any("--no-such-flag" in line for line in result.incidents[0].log_tail)
    assert "server exited with status 2" in what_happened(run_dir)


def test_hung_server_says_how_many_requests_timed_out_and_after_how_long(
    tmp_path: Path,
) -> None:
    """Regression: a hung server showed only "all 2 requests failed"."""
    scenario = write(
        tmp_path,
        args="['--stall-every', '2', '--stall-s', '60']",
        parallel="[2]",
        number="[2]",
        request_timeout=3,
    )
    done, run_dir = run(tmp_path, scenario)
    assert done.returncode == 1
    result = read_run(run_dir)
    (level,) = result.levels
    assert level.status == "failed" and level.diagnostics.timed_out == 2
    expected = "2 of 2 requests timed out after 3 s (load.request_timeout_s)"
    assert level.reason.startswith(expected)
    assert result.status == "failed" and expected in result.reason
    assert expected in what_happened(run_dir) and expected in report(run_dir)


def test_a_death_during_the_retry_is_an_incident(tmp_path: Path) -> None:
    """Regression: a server that died again while the level was measured a second time
    (on_death: restart) left no incident. The restarted simulator gets the same
    arguments, so it dies at the same request (the readiness probe counts as one)."""
    scenario = write(
        tmp_path, args="['--exit-after', '3']", death="restart", parallel="[2]", number="[4]"
    )
    done, run_dir = run(tmp_path, scenario)
    assert done.returncode == 1
    result = read_run(run_dir)
    assert result.status == "failed"
    kinds = [inc.kind for inc in result.incidents]
    assert kinds == ["server died", "server died again while the level was measured again"]
    assert result.incidents[0].restarted is True
    assert "exiting after 3 requests" in result.incidents[1].detail
    assert len(result.provenance.server_pids) == 2
    assert "conc 2" in result.reason and "server died" in result.reason
    section = what_happened(run_dir)
    assert "server died, restarted and the level measured again" in section
    assert "server died again while the level was measured again" in section


def test_server_errors_are_blamed_on_the_server_and_fail_the_run(tmp_path: Path) -> None:
    """Regression: with 1 in 3 requests answered 500, conc 4 was flagged "the load
    generator fell behind" at 0.05 client cores and the run exited 0."""
    scenario = write(tmp_path, args="['--error-every', '3']", parallel="[4]", number="[12]")
    done, run_dir = run(tmp_path, scenario)
    assert done.returncode == 1, done.stderr[-2000:]
    result = read_run(run_dir)
    assert result.status == "complete" and not result.incidents
    (level,) = result.levels
    # The readiness probe is request 1: requests 3, 6, 9 and 12 are refused.
    assert (level.succeeded, level.failed) == (8, 4)
    checks = {c.name: c for c in level.checks}
    assert checks["success"].status == "flag"
    assert checks["success"].detail == "server: 4 of 12 requests failed (33.3 %)"
    assert checks["concurrency"].status != "flag", checks["concurrency"]
    assert checks["client"].status != "flag", checks["client"]
    assert "fell behind" not in report(run_dir)
    assert "server: 4 of 12 requests failed (33.3 %)" in result.reason
    assert "validity.max_failed_ratio" in what_happened(run_dir)


def test_partial_level_is_marked_and_left_out_of_capacity(tmp_path: Path) -> None:
    """Regression: a partial level was unmarked in the table, "all checks passed", and
    counted for capacity. Level 2's third request (request 6 with the probe) stalls
    the server past the level's timeout, after two of its requests finished."""
    scenario = write(
        tmp_path,
        args="['--stall-every', '6', '--stall-s', '120']",
        parallel="[1, 2]",
        number="[2, 4]",
        # Generous: level 1 must finish within it (its client is forked from the run's
        # warm zygote, whose start-up does not count against a level's time limit).
        level_timeout=", level_timeout_s: 12",
    )
    done, run_dir = run(tmp_path, scenario)
    assert done.returncode == 1
    result = read_run(run_dir)
    first, second = result.levels
    assert (first.status, second.status) == ("ok", "partial")
    assert second.succeeded == 2
    assert "level timed out after 12 s" in second.reason
    assert "complete: partial, 2 of 4 requests recorded" in "; ".join(second.flags)
    text = report(run_dir)
    assert "| 2 ⚠partial |" in text and "not used for capacity" in text
    assert "| 2     | ✓     | all checks passed" not in text
    capacity = release.capacity_line(result, 1.1)
    assert "at concurrency 1" in capacity and "at concurrency 2" not in capacity
