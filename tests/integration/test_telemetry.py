"""Accelerator telemetry during a real simulator sweep: fake `nvidia-smi` and `npu-smi`
executables first on PATH replay recorded output (tests/support/telemetry.py) while the
real CLI measures; every level gets its telemetry, energy by the counter and by the power
integral agree, and a level whose accelerator idled is flagged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.schema.results import RunResult
from bench.schema.runfile import read_run
from tests.support.telemetry import nvsmi_rows, write_fakes

pytestmark = pytest.mark.integration

SCENARIO = """\
name: tel
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, env: {{ASCEND_RT_VISIBLE_DEVICES: "0,1"}}}}
load: {{image_width: 640, image_height: 640, min_tokens: {tokens}, max_tokens: {tokens},
        min_prompt_length: 60, max_prompt_length: 60, request_timeout_s: 60,
        warmup_requests: 0}}
sweep: {{parallel: {parallel}, number: {number}}}
validity: {{telemetry: {source}, telemetry_interval_s: 0.1}}
"""


def sweep(tmp_path: Path, source: str, parallel: str, number: str, tokens: int) -> RunResult:
    """`vlm-bench run` with the fakes first on PATH; the run it wrote."""
    fakes = write_fakes(tmp_path / "fakes", nvsmi_rows(8.1, 14.8))  # the busy plateau
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(source=source, parallel=parallel, number=number, tokens=tokens))
    env = os.environ | {"PATH": f"{fakes}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(path), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    (run_dir,) = (out / "tel").iterdir()
    assert (run_dir / "run.json").exists(), done.stderr[-3000:]
    return read_run(run_dir)


def test_nvidia_smi_replay_gives_every_level_energy_that_agrees(tmp_path: Path) -> None:
    # Levels of ~5 s: over 5 s windows of the recorded plateau the two agree within 1.7 %.
    run = sweep(tmp_path, "nvidia-smi", "[1, 2]", "[4, 8]", 320)
    assert [lv.parallel for lv in run.levels] == [1, 2]
    for lv in run.levels:
        tel = lv.telemetry
        assert tel.source == "nvidia-smi" and tel.energy_method == "counter", lv.to_dict()
        assert tel.samples and tel.samples >= 5
        assert tel.util_mean_pct is not None and tel.util_mean_pct > 95
        assert tel.energy_counter_j is not None and tel.energy_integral_j is not None
        agree = tel.energy_counter_j / tel.energy_integral_j - 1
        print(
            f"conc {lv.parallel}: window {lv.duration_s:.2f} s, counter "
            f"{tel.energy_counter_j:.1f} J, integral {tel.energy_integral_j:.1f} J, "
            f"{100 * agree:+.2f} %"
        )
        assert abs(agree) < 0.02
        assert tel.output_tokens == lv.succeeded * 320
        assert tel.energy_per_token_j == pytest.approx(tel.energy_counter_j / tel.output_tokens)
        check = next(c for c in lv.checks if c.name == "accelerator")
        assert check.status == "ok", check
    gpu = run.provenance.to_dict()["accelerators"]["gpu"]
    assert gpu["devices"][0]["name"] == "NVIDIA H200"  # from the CSV query mode


def test_npu_smi_idle_level_is_flagged(tmp_path: Path) -> None:
    run = sweep(tmp_path, "npu-smi", "[1]", "[2]", 24)
    (lv,) = run.levels
    tel = lv.telemetry
    assert tel.source == "npu-smi" and tel.devices == [0, 1], lv.to_dict()
    assert tel.util_mean_pct == 0 and tel.energy_method == "integral"
    assert tel.power_mean_w == pytest.approx(94.3 + 100.1)  # the two chips, as recorded
    assert tel.memory_used_max_mb == 4487 + 4483
    check = next(c for c in lv.checks if c.name == "accelerator")
    assert check.status == "flag" and "mostly idle" in check.detail
    assert "accelerator: " in "; ".join(lv.flags)
