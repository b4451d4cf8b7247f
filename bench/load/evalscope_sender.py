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

import asyncio
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
from bench.load import http1
from bench.load.evalscope import SENDER_API, SENDER_DATASET
from bench.load.evalscope_db import short_request

# The API plugin of the level, made before evalscope builds its dataset (run_benchmark):
# the dataset plugin completes each body by its rules.
_active: VlmBenchApi | None = None


class Wire(dict[str, Any]):
    """A complete request body that also carries its serialised bytes and digest."""

    data: bytes
    sha: str

    def replaced(self, **fields: Any) -> Wire:
        """A copy with `fields` set, serialised again (the cheap warm-up's capped copies,
        bench/load/evalscope.py, are made before the level starts: they stay prepared,
        and warm the connections the measured requests use)."""
        wire = Wire({**self, **fields})
        wire.data = json.dumps(wire, ensure_ascii=False).encode()
        wire.sha = request_digest(wire) or ""
        return wire


@register_api(SENDER_API)
class VlmBenchApi(OpenaiPlugin):
    def __init__(self, param: Arguments) -> None:
        global _active
        super().__init__(param)
        _active = self
        # Where prepared requests go without aiohttp (bench/load/http1.py), if they can.
        self.target = http1.target(param.url)
        self.heads: dict[tuple[tuple[str, str], ...], bytes | None] = {}
        self.pool: tuple[asyncio.AbstractEventLoop, http1.Pool] | None = None

    def build_request(self, messages: Any, param: Arguments | None = None) -> dict[str, Any]:
        if isinstance(messages, Wire):
            return messages  # completed and serialised by the dataset plugin
        return super().build_request(messages, param)

    def complete(self, body: dict[str, Any]) -> Wire:
        """`body` completed as the `openai` plugin completes a JSON line, and serialised."""
        return Wire(super().build_request(body)).replaced()

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
        head = self._head(url, headers)
        if head is None:
            return await _send(client_session, url, headers, body)
        return await _send_direct(self._pool(), head, body, self.param.total_timeout)

    def _head(self, url: str, headers: dict[str, Any]) -> bytes | None:
        """The request head for http1, None where aiohttp must send (http1.target)."""
        if self.target is None or url != self.param.url:
            return None
        key = tuple((str(k), str(v)) for k, v in headers.items())
        if key not in self.heads:
            self.heads[key] = http1.head("POST", self.target, dict(key))
        return self.heads[key]

    def _pool(self) -> http1.Pool:
        """The connections of this event loop (one a level; a test may run several)."""
        loop = asyncio.get_running_loop()
        if self.pool is None or self.pool[0] is not loop:
            assert self.target is not None
            self.pool = (loop, http1.Pool(self.target, self.param.connect_timeout))
        return self.pool[1]


async def _send(
    session: aiohttp.ClientSession, url: str, headers: dict[str, Any], body: Wire
) -> BenchmarkData:
    """`body` through aiohttp: for what http1 does not do (https, proxies …)."""
    reply = _Reply(body)
    try:
        async with session.post(url=url, data=body.data, headers=headers) as response:
            reply.head(response.status, response.headers.get("Content-Type", ""))
            async for chunk in response.content.iter_any():
                reply.body(chunk, time.perf_counter())
        reply.end(response.reason)
    except Exception as exc:  # evalscope's own plugin records any failure the same way
        reply.output.error = f"{type(exc).__name__}: {exc}"
    return reply.finish()


async def _send_direct(
    pool: http1.Pool, head: bytes, body: Wire, timeout_s: float | None
) -> BenchmarkData:
    """`body` through bench/load/http1.py, within the request timeout."""
    reply = _Reply(body)
    try:
        async with asyncio.timeout(timeout_s):
            await pool.send(
                head,
                body.data,
                lambda r: reply.head(r.status, r.headers.get("content-type", "")),
                reply.body,
            )
        reply.end(None)
    except TimeoutError:
        reply.output.error = f"TimeoutError: no complete response within {timeout_s:g} s"
    except Exception as exc:
        reply.output.error = f"{type(exc).__name__}: {exc}"
    return reply.finish()


class _Reply:
    """One prepared request's response, read as it arrives: a stream's events go to its
    `_Stream`; any other answer is kept (the first 64 KB) as the request's error."""

    def __init__(self, body: Wire) -> None:
        self.wire = body
        self.output = BenchmarkData(is_stream=True)
        self.output.request = short_request(body.sha)
        self.stream = _Stream(self.output)  # the request's start stamp
        self.events: _Events | None = None
        self.status = 0
        self.refused = b""

    def head(self, status: int, content_type: str) -> None:
        self.status = status
        if status == 200 and "text/event-stream" in content_type:
            self.events = _Events()
        elif status == 200:
            self.output.error = f"expected a stream, got {content_type!r}"

    def body(self, piece: bytes, now: float) -> None:
        if self.events is not None:
            for data in self.events.feed(piece):
                self.stream.take(data, now)
        elif self.status != 200 and len(self.refused) < MAX_REFUSAL:
            self.refused += piece[: MAX_REFUSAL - len(self.refused)]

    def end(self, reason: str | None) -> None:
        """The whole response arrived."""
        if self.events is not None:
            for data in self.events.rest():
                self.stream.take(data, time.perf_counter())
        elif self.status != 200:
            self.output.status_code = self.status
            text = self.refused.decode("utf-8", errors="replace")[:4000]
            self.output.error = text or reason or f"HTTP {self.status}"

    def finish(self) -> BenchmarkData:
        out = self.output
        if out.error is not None:
            out.completed_time = time.perf_counter()
        else:
            self.stream.finish(self.wire)
        return out


MAX_REFUSAL = 64 * 1024  # bytes of a refusal's body kept for its error text


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
