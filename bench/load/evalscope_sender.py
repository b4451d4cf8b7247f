"""A lean sender for prepared requests, through evalscope's own plugin registries.

A `workload:` level's requests are built before it starts (bench/workload/). evalscope's
`line_by_line` dataset and `openai` API plugin would still, per request and on the one
event loop that also times every token: serialise the body again (a photo's body is
hundreds of KB of base64), keep every parsed chunk of the stream, and store the whole body
and every chunk in its SQLite database. Those costs land between tokens of the requests in
flight, and show as client error (docs/validity.md).

Two plugins, registered when this module is imported (the evalscope child does, see
bench/load/evalscope.py):

- dataset `vlm_bench_prepared` reads the level's prepared file before the level starts and
  turns each line into the complete request body (evalscope's own `openai` rules fill what
  the line leaves out: model, max_tokens, streaming …) serialised once, with its digest;
- API `vlm_bench` sends those bytes as they are, reads the stream with one timestamp per
  received chunk, and stores a short record of the request (its digest, bench.digest)
  instead of its body; the chunks it keeps are only the one carrying `usage`, when the
  server sent one (evalscope counts tokens from it).

The timing rules are evalscope's: TTFT is the first chunk that carries output (text,
reasoning, a tool call), inter-chunk gaps are between chunks that carry output, and every
chunk after the first output counts as a decode step. Anything other than a prepared,
streamed body (evalscope's cheap warm-up copies, a trace's bodies, `stream: false`) goes
through the `openai` plugin's path unchanged, serialised at send time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
from evalscope.perf.arguments import Arguments
from evalscope.perf.plugin.api.openai_api import OpenaiPlugin
from evalscope.perf.plugin.datasets.base import DatasetPluginBase
from evalscope.perf.plugin.registry import register_api, register_dataset
from evalscope.perf.utils.benchmark_util import BenchmarkData

from bench.digest import request_digest
from bench.load.evalscope import SENDER_API, SENDER_DATASET
from bench.load.evalscope_db import short_request

# The API plugin of the level, made before evalscope builds its dataset (run_benchmark):
# the dataset plugin completes each body by its rules.
_active: VlmBenchApi | None = None


class Wire(dict[str, Any]):
    """A complete request body that also carries its serialised bytes and digest."""

    data: bytes
    sha: str


@register_api(SENDER_API)
class VlmBenchApi(OpenaiPlugin):
    def __init__(self, param: Arguments) -> None:
        global _active
        super().__init__(param)
        _active = self

    def build_request(self, messages: Any, param: Arguments | None = None) -> dict[str, Any]:
        if isinstance(messages, Wire):
            return messages  # completed and serialised by the dataset plugin
        return super().build_request(messages, param)

    def complete(self, body: dict[str, Any]) -> Wire:
        """`body` completed as the `openai` plugin completes a JSON line, and serialised."""
        wire = Wire(super().build_request(body))
        wire.data = json.dumps(wire, ensure_ascii=False).encode()
        wire.sha = request_digest(wire) or ""
        return wire

    async def process_request(
        self,
        client_session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, Any],
        body: dict[str, Any],
    ) -> BenchmarkData:
        if not isinstance(body, Wire) or body.get("stream") is not True:
            return await super().process_request(client_session, url, headers, body)
        headers = {"Content-Type": "application/json", **headers}
        return await _send(client_session, url, headers, body)


async def _send(
    session: aiohttp.ClientSession, url: str, headers: dict[str, Any], body: Wire
) -> BenchmarkData:
    output = BenchmarkData(is_stream=True)
    output.request = short_request(body.sha)
    stream = _Stream(output)
    try:
        async with session.post(url=url, data=body.data, headers=headers) as response:
            if response.status != 200:
                output.status_code = response.status
                output.error = (await response.text(errors="replace"))[:4000] or response.reason
            elif "text/event-stream" not in response.headers.get("Content-Type", ""):
                output.error = f"expected a stream, got {response.headers.get('Content-Type')!r}"
            else:
                events = _Events()
                async for chunk in response.content.iter_any():
                    now = time.perf_counter()
                    for data in events.feed(chunk):
                        stream.take(data, now)
                for data in events.rest():
                    stream.take(data, time.perf_counter())
    except Exception as exc:  # evalscope's own plugin records any failure the same way
        output.error = f"{type(exc).__name__}: {exc}"
    if output.error is not None:
        output.completed_time = time.perf_counter()
        return output
    stream.finish(body)
    return output


class _Stream:
    """A streamed response's timings and tokens, by evalscope's rules (module docstring)."""

    def __init__(self, output: BenchmarkData) -> None:
        self.output = output
        self.start = output.start_time = time.perf_counter()
        self.latest = self.start
        self.last_output: float | None = None
        self.parts: list[str] = []
        self.usage_message: dict[str, Any] | None = None

    def take(self, data: dict[str, Any], now: float) -> None:
        out = self.output
        if data.get("error") is not None or data.get("object") == "error":
            out.error = json.dumps(data, ensure_ascii=False)
        choices = data.get("choices")
        if choices:
            text, has_output = _delta(choices[0], data.get("object"))
            if has_output:
                if self.last_output is None:
                    out.first_chunk_latency = now - self.start
                else:
                    out.inter_chunk_latency.append(now - self.last_output)
                self.last_output = now
            if self.last_output is not None:
                out.n_decode_chunks += 1
            self.parts.append(text)
        usage = data.get("usage")
        if isinstance(usage, dict) and usage:
            self.usage_message = data
            out.prompt_tokens = usage.get("prompt_tokens")
            out.completion_tokens = usage.get("completion_tokens")
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict) and details.get("cached_tokens") is not None:
                out.real_cached_tokens = details["cached_tokens"]
        self.latest = now

    def finish(self, body: Wire) -> None:
        out = self.output
        out.generated_text = "".join(self.parts)
        out.success = True
        out.completed_time = self.latest
        out.query_latency = self.latest - self.start
        if self.usage_message is not None:
            out.response_messages.append(self.usage_message)
        else:  # no usage: evalscope counts the tokens of the text, and of the request
            text = {"index": 0, "delta": {"content": out.generated_text}}
            out.response_messages.append({"choices": [text]})
            out.request = body.data.decode()


def _delta(choice: Any, kind: Any) -> tuple[str, bool]:
    """A choice's text, and whether it carries output (text, reasoning or a tool call)."""
    if not isinstance(choice, dict):
        return "", False
    if kind == "text_completion":
        text = choice.get("text")
        return (text, True) if isinstance(text, str) and text else ("", False)
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return "", False
    text = ""
    for key in ("content", "reasoning_content", "reasoning"):
        value = delta.get(key)
        if isinstance(value, str):
            text += value
    if text:
        return text, True
    calls = delta.get("tool_calls")
    return "", isinstance(calls, list) and bool(calls)


class _Events:
    """Server-sent events from a byte stream: the parsed JSON of each `data:` payload."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> Iterator[dict[str, Any]]:
        self.buffer += chunk
        if b"\r\n" in self.buffer:
            self.buffer = self.buffer.replace(b"\r\n", b"\n")
        while (end := self.buffer.find(b"\n\n")) >= 0:
            event, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            yield from _parse(event)

    def rest(self) -> Iterator[dict[str, Any]]:
        """An event the stream ended without the blank line after."""
        event, self.buffer = self.buffer, b""
        yield from _parse(event)


def _parse(event: bytes) -> Iterator[dict[str, Any]]:
    data = b"".join(
        line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
    )
    if not data or data == b"[DONE]":
        return
    try:
        parsed = json.loads(data)
    except ValueError:
        return
    if isinstance(parsed, dict):
        yield parsed


@register_dataset(SENDER_DATASET)
class PreparedDataset(DatasetPluginBase):
    """The level's prepared file (`--dataset-path`), one complete body a line."""

    def build_messages(self) -> Iterator[Wire]:
        api = _active if _active is not None else VlmBenchApi(self.query_parameters)
        path = self.query_parameters.dataset_path
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield api.complete(json.loads(line))
