"""The client self-calibration's light server (`vlm-bench sim --lean`, bench/sim/lean.py)
as a real process over real HTTP: readiness routes, the fixed schedule with a request's
own timings, streamed and whole answers, its trace lines in the simulator's format (the
digest the calibration pairs by), what it refuses, and that it needs fixed timings."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.digest import request_digest
from bench.sim.fixed import HEADER_TPOT, HEADER_TTFT
from tests.support.sim import Sim, chat_body

pytestmark = pytest.mark.integration


@pytest.fixture
def lean(sim_factory: Callable[..., Sim]) -> Sim:
    return sim_factory("--profile", "fixed", "--lean", "--model", "lean-model")


def stream(server: Sim, body: dict, headers: dict[str, str]) -> tuple[int, list[dict], str]:
    conn = server.conn()
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(body),
        {"Content-Type": "application/json", **headers},
    )
    response = conn.getresponse()
    text = response.read().decode()
    events = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: {")]
    return response.status, events, text


def test_a_stream_keeps_the_requests_own_schedule_and_leaves_a_trace_line(lean: Sim) -> None:
    assert lean.get("/health")[0] == 200
    status, models = lean.get("/v1/models")
    assert status == 200 and json.loads(models)["data"][0]["id"] == "lean-model"
    body = {
        **chat_body("count these words please", max_tokens=5),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    status, events, text = stream(lean, body, {HEADER_TTFT: "0.05", HEADER_TPOT: "0.01"})
    assert status == 200 and text.rstrip().endswith("data: [DONE]")
    content = [e for e in events if e["choices"]]
    assert [c["choices"][0]["delta"]["content"] for c in content] == [" word"] * 5
    assert content[-1]["choices"][0]["finish_reason"] == "length"
    (usage,) = [e["usage"] for e in events if not e["choices"]]
    assert usage["completion_tokens"] == 5 and usage["prompt_tokens"] == 4
    (line,) = [json.loads(x) for x in lean.trace.read_text().splitlines()]
    assert line["request_sha"] == request_digest(body) and line["outcome"] == "length"
    assert line["output_tokens"] == 5 and line["writes"] == 5
    # On the absolute schedule: the first token 50 ms after arrival, the last 50 + 4 x 10
    # ms after it, give or take uvloop's millisecond timer (it once woke 0.01 ms early).
    assert line["first_token"] - line["arrival"] >= 0.05 - 0.001
    assert line["last_token"] - line["arrival"] >= 0.09 - 0.001


def test_a_whole_answer_and_a_completion(lean: Sim) -> None:
    status, answer = lean.post("/v1/chat/completions", chat_body(max_tokens=3))
    assert status == 200 and answer["choices"][0]["message"]["content"] == " word" * 3
    assert answer["usage"]["completion_tokens"] == 3
    status, answer = lean.post("/v1/completions", {"model": "m", "prompt": "a b", "max_tokens": 2})
    assert status == 200 and answer["choices"][0]["text"] == " word" * 2


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/v1/chat/completions", b"{not json", 400),
        ("/v1/chat/completions", b"[1, 2]", 400),
        ("/v1/chat/completions", json.dumps({"max_tokens": 0}).encode(), 400),
        ("/v1/embeddings", b"{}", 404),
    ],
)
def test_what_it_refuses(lean: Sim, path: str, body: bytes, status: int) -> None:
    got, answer = lean.post(path, body)
    assert got == status and "error" in answer
    assert lean.get("/health")[0] == 200  # and it goes on serving


def test_it_serves_fixed_timings_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "sim", "--profile", "fast", "--lean", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--lean serves fixed timings only" in done.stderr and "Traceback" not in done.stderr
