"""The client's self-calibration end to end: the real simulator (fixed timings) and the
real evalscope client measure the harness's own error, the cache is reused by the next
run, and a level whose error exceeds a tiny tolerance is flagged with that figure. The
server under test is the fixed-timing simulator too (50 ms TTFT, 5 ms TPOT), so both runs
see the same timings and the second one finds the first one's entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.schema.runfile import read_run

pytestmark = pytest.mark.integration

SCENARIO = """\
name: caltest
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fixed, time_scale: 0.25}}
load: {{image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16,
        request_timeout_s: 60, calibrate: on}}
sweep: {{parallel: [2], number: [4]}}
validity: {{max_client_error_ratio: {ratio}, max_client_error_s: {floor}}}
check: off
"""


def sweep(tmp_path: Path, name: str, cache: Path, ratio: float, floor: float) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(ratio=ratio, floor=floor))
    out = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(path), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VLM_BENCH_CACHE": str(cache)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (out / "caltest").iterdir()
    return run_dir


def test_calibration_is_cached_and_flags_beyond_a_tiny_tolerance(
    tmp_path: Path, tokenizer_dir: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / tokenizer_dir.name).symlink_to(tokenizer_dir)  # no tokenizer training here
    first = sweep(tmp_path, "first", cache, ratio=0.5, floor=1.0)
    (level,) = read_run(first).levels
    assert level.client.ttft_error_s is not None and level.client.tpot_error_s is not None
    (client_error,) = [c for c in level.checks if c.name == "client error"]
    assert client_error.status == "ok", client_error.detail
    assert (first / "calibration" / "sim-trace.jsonl").exists()
    (cached,) = list((cache / "client-error").glob("*.json"))
    assert len(json.loads(cached.read_text())["entries"]) == 1

    # Same shape and timings: the cached error is reused, no calibration server started.
    second = sweep(tmp_path, "second", cache, ratio=0.0, floor=0.0)
    (again,) = read_run(second).levels
    assert not (second / "calibration").exists()
    assert again.client.ttft_error_s == level.client.ttft_error_s
    (flag,) = [c for c in again.checks if c.name == "client error"]
    assert flag.status == "flag" and "more than the tolerance of 0.0 ms" in flag.detail
    assert any(f.startswith("client error: the client added up to") for f in again.flags)
