"""The answer check (`vlm-bench check`, and before every sweep) against real simulators, and
the multimodal readiness probe that lets a sweep run where text-only requests are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import ovd
from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench
from tests.support.faults import all_gone
from tests.support.sim import Sim

pytestmark = pytest.mark.integration

SCENARIO = """\
name: chk
model: {{served_name: VLM-R1, tokenizer_path: generated}}
server: {{kind: sim, profile: {profile}, time_scale: 0.02}}
load: {{image_width: 320, image_height: 240, min_tokens: 16, max_tokens: 16,
        min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: 60}}
sweep: {{parallel: [1, 2], number: [2, 4]}}
check: {check}
"""


def write(tmp_path: Path, profile: str, check: str = "warn") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(profile=profile, check=check))
    return path


def test_check_valid_against_the_simulators_ovd_answers(tmp_path: Path) -> None:
    done = vlm_bench("check", str(write(tmp_path, "ascend-800ta2-vllm")), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("format valid: answer yes, 杯子 [96, 84, 192, 192]")
    verdict = json.loads((tmp_path / "check" / "verdict.json").read_text())
    assert verdict["valid"] and verdict["finish_reason"] == "stop" and verdict["status"] == 200
    request = json.loads((tmp_path / "check" / "request.json").read_text())
    text = request["messages"][0]["content"][1]["text"]
    assert text == ovd.prompt()  # the reference's prompt with the scenario's question
    assert (tmp_path / "check" / "image.png").read_bytes()[:4] == b"\x89PNG"


def test_check_invalid_says_why_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "fast")
    done = vlm_bench("check", str(path), "--set", "model.served_name=sim-model")
    assert done.returncode == 1, done.stderr[-2000:]
    first = done.stdout.splitlines()[0]
    assert first == (
        "format invalid: no <description>…</description>; "
        "no JSON block (neither ```json … ``` nor {…})"
    )
    assert "answer (first 300 characters):" in done.stdout


def test_check_bad_image_file_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "not.png"
    bad.write_text("text")
    done = vlm_bench("check", str(write(tmp_path, "fast")), "--image", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"vlm-bench: error: check.image: cannot read {bad}")


def test_required_check_stops_before_the_sweep(tmp_path: Path) -> None:
    path = write(tmp_path, "fast", check="required")
    out = tmp_path / "out"
    done = vlm_bench(
        "run", str(path), "--output-dir", str(out), "--set", "model.served_name=sim-model"
    )
    assert done.returncode == 1, done.stderr[-2000:]
    (run_dir,) = (out / "chk").iterdir()
    run = read_run(run_dir)
    assert run.status == "failed" and run.levels == []
    assert run.check is not None and run.check.valid is False
    assert run.check.mode == "required"
    assert run.incidents[0].kind.startswith("answer check failed")
    assert "format invalid" in (run_dir / "report.md").read_text()
    assert (run_dir / "check" / "answer.txt").read_text()
    all_gone(run_dir)


def test_sweep_where_text_only_requests_are_refused(tmp_path: Path) -> None:
    """The xLLM profile refuses text-only requests, as xLLM's VLM backend does: readiness
    and the check use images, evalscope's text-only connection test is skipped."""
    out = tmp_path / "out"
    done = vlm_bench("run", str(write(tmp_path, "xllm-800ta2")), "--output-dir", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "answer check: format valid" in done.stderr
    (run_dir,) = (out / "chk").iterdir()
    run = read_run(run_dir)
    assert run.status == "complete" and [lv.success_rate for lv in run.levels] == [100, 100]
    assert run.check is not None and run.check.valid is True
    assert "Answer check (warn): format valid" in (run_dir / "report.md").read_text()


def test_simulator_refuses_text_only_when_its_profile_says_so(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim: Sim = sim_factory("--profile", "xllm-800ta2", "--time-scale", "0.01")
    status, body = sim.post(
        "/v1/chat/completions",
        {
            "model": "VLM-R1-Qwen2.5VL-3B-OVD-0321",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "hello"}],
        },
    )
    assert status == 400
    assert "needs at least one image" in body["error"]["message"]


def test_streamed_ovd_answer_reassembles_and_counts_tokens(sim_factory) -> None:  # type: ignore[no-untyped-def]
    from bench import imaging

    sim: Sim = sim_factory("--profile", "ascend-800ta2-vllm", "--time-scale", "0.01")
    body = ovd.request_body(
        "VLM-R1-Qwen2.5VL-3B-OVD-0321", imaging.answer_check_image(640, 640), ovd.prompt(), 512, 0.0
    )
    body["stream_options"] = {"include_usage": True}
    stream = sim.stream(body)
    assert stream.status == 200
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in stream.content_chunks)
    assert text == ovd.sample_answer(640, 640, "杯子")
    assert ovd.parse_answer(text, 640, 640).valid
    usage = [e["usage"] for _, e in stream.events if isinstance(e, dict) and e.get("usage")]
    # One chunk per token; a token that is part of a multi-byte character carries "".
    token_chunks = [
        e
        for _, e in stream.events
        if isinstance(e, dict)
        and e.get("choices")
        and "content" in e["choices"][0]["delta"]
        and "role" not in e["choices"][0]["delta"]
    ]
    assert usage[0]["completion_tokens"] == len(token_chunks)
