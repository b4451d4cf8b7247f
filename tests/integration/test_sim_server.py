"""The simulator as a real process: vLLM's stream shape, routes, errors, metrics, trace.

Tests that only read a simulator share one per module (`shared_sim`, `limited_sim`); those
that count its /metrics or trace start their own (`sim`, `sim_factory`)."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable

import pytest
from PIL import Image

from tests.support.sim import Sim, chat_body

pytestmark = pytest.mark.integration


def png_url(width: int = 640, height: int = 640, color: tuple = (1, 2, 3)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_body(url: str, **extra: object) -> dict:
    return {
        "model": "sim-model",
        "max_tokens": 4,
        "ignore_eos": True,
        **extra,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "find the boxes"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }


def metric_values(sim: Sim) -> dict[str, float]:
    status, raw = sim.get("/metrics")
    assert status == 200
    out = {}
    for line in raw.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            base, _, labels = name.partition("{")
            reason = re.search(r'finished_reason="(\w+)"', labels)
            out[f'{base}{{"{reason.group(1)}"}}' if reason else base] = float(value)
    return out


def test_stream_is_shaped_like_vllm(shared_sim: Sim) -> None:
    sim = shared_sim
    s = sim.stream(chat_body(max_tokens=6, stream_options={"include_usage": True}))
    assert s.status == 200 and not s.error
    events = [e for _, e in s.events]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = events[1:7]
    assert all(e["choices"][0]["delta"]["content"] for e in content)
    assert [e["choices"][0]["finish_reason"] for e in content] == [None] * 5 + ["length"]
    usage = events[7]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 6
    assert usage["usage"]["prompt_tokens"] > 10
    assert events[8:] == ["[DONE]"]
    assert len({e["id"] for e in events[:-1]}) == 1


def test_usage_chunk_only_when_asked(shared_sim: Sim) -> None:
    sim = shared_sim
    events = [e for _, e in sim.stream(chat_body(max_tokens=3)).events]
    assert len(events) == 1 + 3 + 1 and events[-1] == "[DONE]"


def test_non_stream_chat_and_completions(shared_sim: Sim) -> None:
    sim = shared_sim
    status, body = sim.post("/v1/chat/completions", chat_body(max_tokens=5))
    assert status == 200 and body["object"] == "chat.completion"
    assert body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"].strip()
    status, body = sim.post(
        "/v1/completions", {"model": "sim-model", "prompt": "hello", "max_tokens": 2}
    )
    assert status == 200 and body["object"] == "text_completion"
    assert body["usage"] == {
        "prompt_tokens": body["usage"]["prompt_tokens"],
        "total_tokens": body["usage"]["prompt_tokens"] + 2,
        "completion_tokens": 2,
    }
    s = sim.stream(
        {"model": "sim-model", "prompt": "hello", "max_tokens": 3}, path="/v1/completions"
    )
    assert len(s.content_chunks) == 3


def test_discovery_routes(shared_sim: Sim) -> None:
    sim = shared_sim
    assert sim.get("/health")[0] == 200
    status, raw = sim.get("/v1/models")
    models = json.loads(raw)
    assert status == 200 and [m["id"] for m in models["data"]] == ["sim-model"]
    assert "version" in json.loads(sim.get("/version")[1])
    assert sim.post("/reset_prefix_cache", b"")[0] == 200
    assert sim.post("/reset_mm_cache", b"")[0] == 200


def test_min_tokens_and_natural_stop(sim_factory: Callable[..., Sim]) -> None:
    sim = sim_factory("--set", "natural_output_mean=3")
    lengths, reasons = [], set()
    for _ in range(8):
        status, body = sim.post(
            "/v1/chat/completions", {**chat_body(max_tokens=64), "ignore_eos": False}
        )
        assert status == 200
        lengths.append(body["usage"]["completion_tokens"])
        reasons.add(body["choices"][0]["finish_reason"])
    assert max(lengths) < 64 and "stop" in reasons
    _, body = sim.post(
        "/v1/chat/completions", {**chat_body(max_tokens=64), "ignore_eos": False, "min_tokens": 40}
    )
    assert body["usage"]["completion_tokens"] >= 40


@pytest.fixture(scope="module")
def limited_sim(module_sim_factory: Callable[..., Sim]) -> Sim:
    """One simulator that takes one image per request, for every bad-input case: each
    case also checks it still answers, so it survives all of them in turn."""
    return module_sim_factory("--limit-images", "1")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{oops", 400, "not valid JSON"),
        (chat_body(model="nope"), 404, "does not exist"),
        (image_body("http://127.0.0.1/cat.png"), 400, "base64 data URLs"),
        (
            image_body("data:image/png;base64," + base64.b64encode(b"garbage").decode()),
            400,
            "cannot decode image",
        ),
        (
            {
                **image_body(png_url(64, 64)),
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": png_url(64, 64)}}]
                        * 2,
                    }
                ],
            },
            400,
            "At most 1 image",
        ),
        (chat_body(max_tokens=4, min_tokens=5), 400, "min_tokens"),
        (chat_body(max_tokens=20000), 400, "maximum context length"),
    ],
)
def test_bad_input_gets_an_error_and_the_server_survives(
    limited_sim: Sim, body: dict | bytes, status: int, fragment: str
) -> None:
    sim = limited_sim
    got, answer = sim.post("/v1/chat/completions", body)
    assert got == status
    assert fragment in answer["error"]["message"]
    # Streaming requests get the same answer before any stream starts.
    if isinstance(body, dict):
        s = sim.stream(body)
        assert s.status == status
    assert sim.get("/health")[0] == 200
    assert sim.post("/v1/chat/completions", chat_body())[0] == 200
    assert sim.proc.poll() is None


def test_metrics_count_tokens_requests_and_mm_cache(sim: Sim) -> None:
    url = png_url(640, 640)
    for _ in range(2):
        assert sim.post("/v1/chat/completions", image_body(url))[0] == 200
    assert sim.post("/reset_mm_cache", b"")[0] == 200
    assert sim.post("/v1/chat/completions", image_body(url))[0] == 200
    m = metric_values(sim)
    assert m["vllm:mm_cache_queries_total"] == 3
    assert m["vllm:mm_cache_hits_total"] == 1
    assert m["vllm:generation_tokens_total"] == 12
    assert m["vllm:prompt_tokens_total"] >= 3 * 529
    assert m['vllm:request_success_total{"length"}'] == 3
    assert m["vllm:time_to_first_token_seconds_count"] == 3
    assert m["vllm:num_requests_running"] == 0 and m["vllm:num_requests_waiting"] == 0
    assert 0 < m["vllm:e2e_request_latency_seconds_sum"] < 10


def test_trace_has_one_consistent_line_per_request(sim: Sim) -> None:
    sim.post("/v1/chat/completions", image_body(png_url(), max_tokens=5))
    sim.stream(chat_body(max_tokens=3))
    sim.post("/v1/chat/completions", chat_body(model="nope"))
    lines = sim.trace_lines()
    assert [line["outcome"] for line in lines] == ["length", "length", "error 404"]
    first = lines[0]
    assert first["image_tokens"] == 529 and first["images"] == 1 and first["output_tokens"] == 5
    for line in lines[:2]:
        assert (
            line["arrival"]
            <= line["engine"]
            <= line["admitted"]
            <= line["first_token_model"]
            <= line["first_token"]
            <= line["last_token"]
        )
        assert line["last_token_model"] <= line["last_token"]
