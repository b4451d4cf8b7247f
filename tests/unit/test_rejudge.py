"""`vlm-bench report RUN --set validity.…`: re-judging a stored run with other thresholds.

The stored run (tests/data/runs/rejudge/run.json, a small simulator sweep at conc 1 and
4) passed every check when measured: conc 4's P90 start delay was 4.2 ms, under the
default 50 ms, and both levels' TTFT gaps were under 50 ms.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.measure import rejudge
from bench.schema.runfile import read_run
from tests.support.cli import run_cli
from tests.support.paths import REFERENCE, RUNS

STORED = RUNS / "rejudge"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(STORED / "run.json", folder / "run.json")
    return folder


def test_the_stored_run_was_measured_clean() -> None:
    run = read_run(STORED)
    assert [lv.parallel for lv in run.levels] == [1, 4]
    assert all(lv.checks and not lv.flags for lv in run.levels)


def test_a_tighter_threshold_flags_the_level_it_catches(run_dir: Path) -> None:
    run = read_run(run_dir)
    changes = rejudge.rejudge(run, {"validity.max_start_delay_s": 0.001}, run_dir)
    assert changes == ["conc 4: now flagged: client (P90 start delay 4.2 ms > 1 ms: saturated)"]
    assert not run.levels[0].flags
    assert run.levels[1].flags == ["client: P90 start delay 4.2 ms > 1 ms: saturated"]


def test_a_looser_threshold_clears_a_flag(run_dir: Path) -> None:
    run = read_run(run_dir)
    rejudge.rejudge(run, {"validity.max_start_delay_s": 0.001}, run_dir)
    changes = rejudge.rejudge(run, {"validity.max_start_delay_s": 0.01}, run_dir)
    assert changes == ["conc 4: no longer flagged: client"]
    assert not run.levels[1].flags


def test_the_cli_writes_a_rejudged_report_and_keeps_the_measured_one(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_dir / "report.md").write_text("measured\n", encoding="utf-8")
    before = (run_dir / "run.json").read_bytes()
    code, out, err = run_cli(
        capsys, "report", str(run_dir), "--set", "validity.max_ttft_gap_s=0.01"
    )
    assert code == 0, err
    assert out.strip() == str(run_dir / "report-rejudged.md")
    assert err.splitlines() == [
        "conc 4: now flagged: TTFT gap (client 28.2 ms − server 4.9 ms = +23.3 ms "
        "(more than 10 ms and 25.0 % of the server's))"
    ]
    text = (run_dir / "report-rejudged.md").read_text(encoding="utf-8")
    assert "> Re-judged with validity.max_ttft_gap_s=0.01" in text
    assert "⚑ conc 4 flagged — TTFT gap" in text
    assert (run_dir / "report.md").read_text(encoding="utf-8") == "measured\n"
    assert (run_dir / "run.json").read_bytes() == before


def test_the_cli_says_when_nothing_changed(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "report", str(run_dir), "--set", "validity.max_client_cpu=0.5")
    assert code == 0
    assert err.strip() == "no level's flags changed"


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("load.max_tokens=3", "--set load.max_tokens: a stored run can only be re-judged"),
        ("validity.no_such=1", "--set validity.no_such: a stored run can only be re-judged"),
        ("validity.scrape_interval_s=2", "--set validity.scrape_interval_s: a stored run"),
        ("validity.max_client_cpu=-1", "--set validity.max_client_cpu: Input should be greater"),
    ],
)
def test_anything_but_a_validity_threshold_is_refused(
    run_dir: Path, capsys: pytest.CaptureFixture[str], override: str, names: str
) -> None:
    code, out, err = run_cli(capsys, "report", str(run_dir), "--set", override)
    assert (code, out) == (2, "")
    assert err.startswith(f"vlm-bench: error: {names}")
    assert len(err.strip().splitlines()) == 1
    assert not (run_dir / "report-rejudged.md").exists()


def test_a_published_run_has_nothing_to_rejudge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REFERENCE / "xllm-800ta2" / "run.json", tmp_path / "run.json")
    code, _, err = run_cli(capsys, "report", str(tmp_path), "--set", "validity.max_client_cpu=0.5")
    assert code == 2
    assert "no level carries validity checks" in err


def test_out_gets_a_full_report_with_plots(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rejudged"
    code, stdout, err = run_cli(
        capsys,
        "report",
        str(run_dir),
        "--set",
        "validity.max_start_delay_s=0.001",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert stdout.strip() == str(out / "report.md")
    assert "> Re-judged with validity.max_start_delay_s=0.001" in (out / "report.md").read_text()
    assert (out / "throughput.png").exists()
    assert not (run_dir / "report-rejudged.md").exists()


def test_a_failed_request_threshold_rewrites_the_runs_reason(run_dir: Path) -> None:
    """The run's `reason` quotes the success check, which max_failed_ratio decides: a
    re-judged run must not keep (or lack) the measured run's verdict on failed requests."""
    data = json.loads((run_dir / "run.json").read_text())
    level = data["levels"][1]
    level["succeeded"], level["failed"] = 6, 2
    (run_dir / "run.json").write_text(json.dumps(data))
    run = read_run(run_dir)
    rejudge.rejudge(run, {"validity.max_failed_ratio": 0.0}, run_dir)
    assert run.reason.startswith("failed requests beyond validity.max_failed_ratio: conc 4")
    rejudge.rejudge(run, {"validity.max_failed_ratio": 0.5}, run_dir)
    assert run.reason == ""
