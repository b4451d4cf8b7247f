"""The offline worker refuses a bad spec in one line, run as the process `vlm-bench offline`
starts (the real `LLM` path runs in the e2e tier)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.measure import offline

pytestmark = pytest.mark.integration


def worker(spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(offline.WORKER), str(spec)], capture_output=True, text=True, timeout=60
    )


def test_worker_refuses_a_bad_spec_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    base = {
        "model": str(tmp_path),
        "engine_args": {},
        "prompts": [{"text": "t", "images": ["data:image/png;base64,AAAA"]}],
        "max_tokens": 4,
        "ignore_eos": True,
        "out": str(tmp_path / "out.json"),
    }
    cases = [
        ({**base, "max_tokens": "4"}, "spec field 'max_tokens' missing or not int"),
        ({**base, "model": str(tmp_path / "none")}, "model directory not found"),
        (base, "undecodable image"),
    ]
    for data, message in cases:
        spec.write_text(json.dumps(data))
        done = worker(spec)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("offline_worker: error: ") and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
