"""The gate on real runs: simulator, evalscope, repeats. A candidate with +10 % decode
time is caught, new failures fail, a different workload is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench

pytestmark = pytest.mark.integration

SCENARIO = """\
name: gate
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, args: [--jitter, "0.01", {args}]}}
load: {{image_width: {width}, image_height: 64, min_tokens: 64, max_tokens: 64,
        min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: 60}}
sweep: {{parallel: [2], number: [4], repeats: {repeats}}}
check: off
"""


# TPOT ~8 ms: +10 % is 0.8 ms, above Avg TPOT's 0.5 ms floor.
BASE = '--set, "decode_base_s=0.008"'


def measure(tmp_path: Path, name: str, args: str = BASE, width: int = 64, repeats: int = 5) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(args=args, width=width, repeats=repeats))
    out = tmp_path / name
    done = vlm_bench("run", str(path), "--output-dir", str(out))
    assert done.returncode in (0, 1), done.stderr[-2000:]
    (run_dir,) = (out / "gate").iterdir()
    return run_dir


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return measure(tmp_path_factory.mktemp("gate"), "baseline")


def test_repeats_are_kept_and_reported_as_median_and_range(baseline: Path) -> None:
    run = read_run(baseline)
    assert [(lv.index, lv.repeat) for lv in run.levels] == [(1, r) for r in range(1, 6)]
    assert len({lv.raw_dir for lv in run.levels}) == 5
    report = (baseline / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| 2 "))
    assert row.count("[") == 9 and "–" in row  # every reference column: median [min–max]


def test_slower_decode_is_a_regression_naming_the_cells(tmp_path: Path, baseline: Path) -> None:
    slow = measure(tmp_path, "slow", args='--set, "decode_base_s=0.0088"')  # +10 % decode
    done = vlm_bench("gate", str(baseline), str(slow))
    assert done.returncode == 1, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("## gate: REGRESSION — ") and "Avg TPOT +" in first
    flagged = [line for line in done.stdout.splitlines() if "REGRESSION |" in line]
    assert any("| 2     | Avg TPOT (ms) " in line for line in flagged)
    assert not any("TTFT" in line for line in flagged)  # decode only: TTFT is not named
    # The same run against itself passes.
    same = vlm_bench("gate", str(baseline), str(baseline))
    assert same.returncode == 0 and same.stdout.startswith("## gate: PASS")


def test_new_failures_fail_the_gate(tmp_path: Path, baseline: Path) -> None:
    failing = measure(tmp_path, "failing", args=BASE + ', --error-every, "7"', repeats=1)
    done = vlm_bench("gate", str(baseline), str(failing))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "new failed requests" in done.stdout.splitlines()[0]


def test_different_image_size_is_refused(tmp_path: Path, baseline: Path) -> None:
    other = measure(tmp_path, "wide", width=128, repeats=1)
    done = vlm_bench("gate", str(baseline), str(other))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "vlm-bench: error: cannot gate: runs differ in load.image_width: "
        f"gate {read_run(baseline).run_id} has 64, gate {read_run(other).run_id} has 128"
    )


def test_baseline_save_and_gate_by_name(tmp_path: Path, baseline: Path) -> None:
    store = tmp_path / "baselines"  # the default place, relative to the working directory
    done = vlm_bench("baseline", "save", str(baseline), "--as", "main", "--dir", str(store))
    assert done.returncode == 0, done.stderr
    assert (store / "main" / "run.json").exists() and (store / "main" / "report.md").exists()
    again = vlm_bench("baseline", "save", str(baseline), "--as", "main", "--dir", str(store))
    assert again.returncode == 2 and "exists (--force replaces it)" in again.stderr
    gated = vlm_bench("gate", "main", str(baseline), cwd=tmp_path)
    assert gated.returncode == 0, gated.stdout
