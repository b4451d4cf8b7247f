"""The real evalscope client completes against the simulator (Step 1, acceptance 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.sim import Sim

pytestmark = pytest.mark.integration


def test_evalscope_random_vl_sweep_succeeds(
    sim_factory: Callable[..., Sim], tokenizer_dir: Path, tmp_path: Path
) -> None:
    sim = sim_factory()
    evalscope = Path(sys.executable).with_name("evalscope")
    cmd = [
        str(evalscope),
        "perf",
        "--url",
        f"http://127.0.0.1:{sim.port}/v1/chat/completions",
        "--model",
        "sim-model",
        "--api",
        "openai",
        "--dataset",
        "random_vl",
        "--image-width",
        "640",
        "--image-height",
        "640",
        "--image-num",
        "1",
        "--image-format",
        "RGB",
        "--min-tokens",
        "32",
        "--max-tokens",
        "32",
        "--min-prompt-length",
        "100",
        "--max-prompt-length",
        "100",
        "--prefix-length",
        "0",
        "--tokenizer-path",
        str(tokenizer_dir),
        "--extra-args",
        '{"ignore_eos": true}',
        "--parallel",
        "1",
        "8",
        "32",
        "--number",
        "2",
        "8",
        "32",
        "--stream",
        "--sleep-interval",
        "0",
        "--outputs-dir",
        str(tmp_path / "out"),
        "--no-timestamp",
        "--name",
        "acc1",
        "--total-timeout",
        "120",
    ]
    env = {**os.environ, "TQDM_MININTERVAL": "30"}
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for parallel, number in [(1, 2), (8, 8), (32, 32)]:
        level = tmp_path / "out" / "acc1" / f"parallel_{parallel}_number_{number}"
        summary = json.loads((level / "benchmark_summary.json").read_text())
        assert summary["Success Requests"] == number
        assert summary["Failed Requests"] == 0
        assert summary["Avg Output Tokens"] == 32
        assert summary["Avg Input Tokens"] > 529
    # Every measured request (plus one connection test per level) reached the server.
    lines = sim.trace_lines()
    assert sum(line["images"] == 1 for line in lines) == 2 + 8 + 32
    assert all(line["outcome"] == "length" for line in lines)
