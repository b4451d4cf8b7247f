"""The lean sender for prepared requests (bench/load/evalscope_sender.py): its stream
reader on every way a stream can be cut into chunks, and, over real HTTP against the
simulator, the same figures as evalscope's own `openai` plugin for the same requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from evalscope.perf.arguments import Arguments
from evalscope.perf.plugin.api.openai_api import OpenaiPlugin

from bench.digest import request_digest
from bench.load import evalscope, evalscope_db
from bench.load.evalscope_sender import PreparedDataset, VlmBenchApi, Wire, _Events
from tests.support.sim import Sim, chat_body

EVENTS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": "héllo"}}]},
    {"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]},
    {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
]


def sse(events: list[Any], newline: bytes = b"\n") -> bytes:
    out = b": a comment" + newline * 2
    for event in events:
        out += b"data: " + json.dumps(event, ensure_ascii=False).encode() + newline * 2
    return out + b"data: [DONE]" + newline * 2


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_every_cut_of_a_stream_gives_the_same_events(newline: bytes) -> None:
    raw = sse(EVENTS, newline)
    for cut in range(1, len(raw)):
        events = _Events()
        got = [*events.feed(raw[:cut]), *events.feed(raw[cut:]), *events.rest()]
        assert got == EVENTS, f"cut at byte {cut}"


def test_an_event_the_stream_ends_without_a_blank_line_after_is_read() -> None:
    events = _Events()
    raw = sse(EVENTS[:1]) + b"data: " + json.dumps(EVENTS[1]).encode()
    assert [*events.feed(raw), *events.rest()] == EVENTS[:2]


def test_the_stored_record_of_a_lean_request_is_its_digest() -> None:
    sha = request_digest(chat_body())
    assert sha and evalscope_db.request_sha(evalscope_db.short_request(sha)) == sha
    # A body that merely has that key is a body, and has its own digest.
    body = {**chat_body(), evalscope_db.SHORT_KEY: "x"}
    assert evalscope_db.request_sha(json.dumps(body)) == request_digest(body)


def arguments(url: str, prepared: Path, **extra: Any) -> Arguments:
    return Arguments(
        model="sim-model",
        url=url,
        api=evalscope.SENDER_API,
        dataset=evalscope.SENDER_DATASET,
        dataset_path=str(prepared),
        max_tokens=6,
        **extra,
    )


async def send_both(url: str, args: Arguments) -> list[tuple[Any, Any]]:
    lean = VlmBenchApi(args)
    plain = OpenaiPlugin(args)
    wires = list(PreparedDataset(args).build_messages())
    out = []
    async with aiohttp.ClientSession() as session:
        for wire in wires:
            body = lean.build_request(wire)
            assert body is wire and isinstance(body, Wire)
            ours = await lean.process_request(session, url, {}, body)
            theirs = await plain.process_request(session, url, {}, plain.build_request(dict(wire)))
            out.append((ours, theirs))
    return out


def test_the_lean_sender_records_what_evalscope_records(sim: Sim, tmp_path: Path) -> None:
    """Same tokens, text, decode steps and gaps as the `openai` plugin, over real HTTP;
    the body goes out as prepared (the simulator's trace has its digest) and is stored as
    that digest, not as the body."""
    prepared = tmp_path / "level.jsonl"
    bodies = [chat_body(f"request {n}", max_tokens=5) for n in range(3)]
    prepared.write_text("".join(json.dumps({**b, "stream": True}) + "\n" for b in bodies))
    url = sim.url("/v1/chat/completions")
    pairs = asyncio.run(send_both(url, arguments(url, prepared, extra_args={"ignore_eos": True})))
    for ours, theirs in pairs:
        assert ours.success and theirs.success, (ours.error, theirs.error, ours.status_code)
        assert (ours.prompt_tokens, ours.completion_tokens) == (
            theirs.prompt_tokens,
            theirs.completion_tokens,
        )
        assert ours.completion_tokens == 5  # the line's own max_tokens won over the flag's
        # The simulator's words differ from request to request, not their count.
        assert len(ours.generated_text.split()) == len(theirs.generated_text.split()) == 5
        assert ours.n_decode_chunks == theirs.n_decode_chunks
        assert len(ours.inter_chunk_latency) == len(theirs.inter_chunk_latency) == 4
        assert 0 < ours.first_chunk_latency <= ours.query_latency
        assert len(ours.response_messages) == 1 and "usage" in ours.response_messages[0]
    sent = [line["request_sha"] for line in sim.trace_lines()][::2]
    assert sent == [request_digest({**b, "stream": True}) for b in bodies]
    assert [evalscope_db.request_sha(o.request) for o, _ in pairs] == sent


def test_a_refused_request_is_a_failure_with_the_servers_words(sim: Sim, tmp_path: Path) -> None:
    prepared = tmp_path / "level.jsonl"
    prepared.write_text(json.dumps({**chat_body(), "max_tokens": 0, "stream": True}) + "\n")
    url = sim.url("/v1/chat/completions")
    ((ours, theirs),) = asyncio.run(send_both(url, arguments(url, prepared)))
    assert not ours.success and not theirs.success
    assert ours.status_code == theirs.status_code and ours.status_code >= 400
    assert ours.error


def test_where_http1_cannot_send_aiohttp_does(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy named in the environment (which evalscope's session, trust_env, would use)
    leaves the request to aiohttp: same figures as the `openai` plugin's."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # the test's session ignores it
    prepared = tmp_path / "level.jsonl"
    prepared.write_text(json.dumps({**chat_body(max_tokens=3), "stream": True}) + "\n")
    url = sim.url("/v1/chat/completions")
    args = arguments(url, prepared, extra_args={"ignore_eos": True})
    assert VlmBenchApi(args).target is None
    ((ours, theirs),) = asyncio.run(send_both(url, args))
    assert ours.success and theirs.success, (ours.error, theirs.error)
    assert (ours.completion_tokens, ours.n_decode_chunks) == (3, theirs.n_decode_chunks)


def test_a_request_past_its_timeout_fails_saying_so(sim: Sim, tmp_path: Path) -> None:
    prepared = tmp_path / "level.jsonl"
    body = {**chat_body(max_tokens=2000), "stream": True}
    prepared.write_text(json.dumps(body) + "\n")
    url = sim.url("/v1/chat/completions")
    args = arguments(url, prepared, total_timeout=1, extra_args={"ignore_eos": True})
    lean = VlmBenchApi(args)
    (wire,) = PreparedDataset(args).build_messages()

    async def go() -> Any:
        async with aiohttp.ClientSession() as session:
            return await lean.process_request(session, url, {}, lean.build_request(wire))

    out = asyncio.run(go())
    assert not out.success and out.error == "TimeoutError: no complete response within 1 s"


def test_a_cheap_warm_up_copy_of_a_prepared_body_stays_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its capped copy was a plain dict, sent through aiohttp: the lean sender's own
    connections were then first opened by the measured requests."""
    import evalscope.perf.benchmark as perf_benchmark

    prepared = tmp_path / "level.jsonl"
    prepared.write_text(json.dumps({**chat_body(max_tokens=40), "min_tokens": 20}) + "\n")
    args = arguments("http://127.0.0.1:9/v1/chat/completions", prepared)
    (wire,) = PreparedDataset(args).build_messages()

    async def requests(*_: Any, **__: Any) -> Any:
        yield wire, True
        yield wire, False

    async def drawn() -> list[Any]:
        return [pair async for pair in perf_benchmark.get_requests()]

    monkeypatch.setattr(perf_benchmark, "get_requests", requests)
    evalscope._cheap_warmup(8)
    (warm, is_warmup), (measured, _) = asyncio.run(drawn())
    assert is_warmup and isinstance(warm, Wire) and measured is wire
    assert (warm["max_tokens"], warm["min_tokens"]) == (8, 8)
    assert json.loads(warm.data) == warm and warm.sha == request_digest(warm)
    assert json.loads(wire.data)["max_tokens"] == 40  # the measured body as it was
