"""Offline throughput without vLLM: the prompts, the summary and the command's bad inputs.
(The worker process's input checks run in tests/integration/test_offline_worker.py, the real
`LLM` path in the e2e tier.)"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from bench.cli import main
from bench.config.scenario import load_scenario
from bench.measure import offline
from bench.measure.sweep import resolve_tokenizer
from bench.report.markdown import offline_lines
from bench.schema.attached import OfflineSummary
from bench.schema.results import LevelResult, LevelStatus, RunResult
from bench.schema.runfile import read_run
from tests.support import factories

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def test_prompts_are_the_sweeps_generator_seeded_and_resized_as_the_seed_does() -> None:
    scenario = load_scenario(QUICKSTART, {"load.image_width": 320, "load.image_height": 200})
    tokenizer = resolve_tokenizer(scenario)
    first = offline.prompts(scenario, tokenizer, 3)
    assert first == offline.prompts(scenario, tokenizer, 3)  # seeded: the same batch again
    assert len(first) == 3 and len({p["text"] for p in first}) == 3
    for prompt in first:
        (url,) = prompt["images"]
        with Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))) as img:
            assert img.size == (308, 196)  # Qwen2.5-VL's grid: multiples of 28
    other = load_scenario(QUICKSTART, {"load.seed": 7, "load.image_width": 320})
    assert offline.prompts(other, tokenizer, 1)[0]["text"] != first[0]["text"]


def test_batch_size_defaults_to_the_largest_level() -> None:
    assert offline.batch_size(load_scenario(QUICKSTART)) == 128
    assert offline.batch_size(load_scenario(QUICKSTART, {"offline.prompts": 5})) == 5


def test_summary_rates_and_length_check() -> None:
    result = {
        "requests": 4,
        "generate_s": 2.0,
        "init_s": 30.0,
        "prompt_tokens": [600, 600, 600, 600],
        "output_tokens": [64, 64, 64, 10],
        "vllm_version": "0.32.0",
    }
    summary = offline.summarise(result, 64, ignore_eos=True)
    assert summary["rps"] == 2.0
    assert summary["output_tok_s"] == (64 * 3 + 10) / 2.0
    assert summary["total_tok_s"] == (64 * 3 + 10 + 2400) / 2.0
    assert summary["wrong_length"] == 1 and summary["output_tokens_min"] == 10
    assert offline.summarise(result, 64, ignore_eos=False)["wrong_length"] == 0
    lines = offline_lines(OfflineSummary.model_validate(summary), None)
    assert lines[0].startswith("Offline (vllm.LLM, one batch of 4 prompts, 64 output tokens")
    assert lines[1].startswith("† 1 of 4 offline requests did not produce 64 tokens")


def test_offline_beside_the_best_online_level() -> None:
    summary = offline.summarise(
        {
            "requests": 2,
            "generate_s": 1.0,
            "init_s": 1.0,
            "prompt_tokens": [1, 1],
            "output_tokens": [100, 100],
        },
        100,
        ignore_eos=True,
    )
    levels = [
        LevelResult(1, 2, status=LevelStatus.OK, succeeded=2, output_tok_s=50.0, rps=0.5),
        LevelResult(4, 8, status=LevelStatus.OK, succeeded=8, output_tok_s=150.0, rps=1.5),
        LevelResult(8, 16, status=LevelStatus.FAILED, succeeded=0, output_tok_s=900.0),
    ]
    run = factories.run(levels)
    assert offline_lines(OfflineSummary.model_validate(summary), run)[-1] == (
        "Online, best level (conc 4): 150.00 Gen. toks/s = 75.0 % of offline; 1.50 req/s."
    )


def test_a_run_stored_with_the_old_offline_keys_still_loads_and_renders(tmp_path: Path) -> None:
    """The offline summary's rates were `requests_per_s` / `output_tokens_per_s` /
    `total_tokens_per_s` before they took the metric registry's keys; a run.json written
    then must still load (renamed on reading) and render its offline line."""
    data = json.loads((ROOT / "reports/reference/vllm-ascend-800ta2/run.json").read_text())
    data["offline"] = {
        "requests": 4,
        "max_tokens": 64,
        "generate_s": 2.0,
        "init_s": 9.0,
        "requests_per_s": 2.0,
        "output_tokens_per_s": 128.0,
        "total_tokens_per_s": 300.0,
        "wrong_length": 0,
        "output_tokens_min": 64,
        "output_tokens_max": 64,
    }
    (tmp_path / "run.json").write_text(json.dumps(data))
    stored = read_run(tmp_path).offline
    assert stored is not None
    assert (stored.rps, stored.output_tok_s, stored.total_tok_s) == (2.0, 128.0, 300.0)
    assert "requests_per_s" not in stored.to_dict()
    assert "2.00 req/s, 128.00 output tok/s" in offline_lines(stored, None)[0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["--set", "offline.python=[/nonexistent/python]"],
            "offline.python: '/nonexistent/python' not found",
            id="no-python",
        ),
        pytest.param(
            ["--set", "offline.prompts=0"],
            "offline.prompts: Input should be greater than 0",
            id="zero-prompts",
        ),
    ],
)
def test_offline_command_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    args = ["offline", str(QUICKSTART), "--output-dir", str(tmp_path), "--prompts", "1"]
    args += ["--set", "model.path=/models/x", *overrides]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vlm-bench: error: ") and message in err


def test_offline_needs_a_model_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["offline", str(QUICKSTART), "--output-dir", str(tmp_path)]) == 2
    assert "offline needs offline.model or model.path" in capsys.readouterr().err


def test_offline_run_of_another_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.config.scenario import load_scenario
    from bench.schema.runwrite import write_run
    from bench.schema.scenario import scenario_hash

    other = load_scenario(QUICKSTART).model_copy(update={"name": "other"})
    write_run(RunResult("r", "other", other, scenario_hash(other), {}), tmp_path)
    assert main(["offline", str(QUICKSTART), "--run", str(tmp_path)]) == 2
    assert "that run is of scenario 'other', not 'quickstart'" in capsys.readouterr().err
