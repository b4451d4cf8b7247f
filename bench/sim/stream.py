"""Writing one simulated request's answer as the engine emits its tokens.

Streaming requests get vLLM's SSE chunks, written as soon as an engine step emits tokens
(several tokens in one write when the handler fell behind: `TraceRecord.writes` counts
them); the others get one JSON body at the end. A dropped stream is cut without ending the
HTTP response, as a crashed worker leaves it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bench.sim.engine import Sequence
from bench.sim.metrics import Histogram
from bench.sim.openai import Chunks, ParsedRequest
from bench.sim.record import TraceRecord


@dataclass
class Reply:
    """One request's answer while it is written: what to write, and how far it got."""

    request: web.Request
    req: ParsedRequest
    seq: Sequence
    rec: TraceRecord
    reason: str  # the finish reason of the last token
    chunks: Chunks
    answer: list[bytes]  # a scripted answer's JSON-encoded tokens (may be empty)
    words: list[bytes]  # JSON-encoded one-token filler words, after the answer
    drop_at: int | None  # tokens sent before the stream is cut (None: never)
    itl: Histogram  # vllm:inter_token_latency_seconds
    resp: web.StreamResponse | None = None
    sent: int = 0
    last_write: float = 0.0

    def piece(self, i: int) -> bytes:
        """Token i of the output, JSON-encoded."""
        if i < len(self.answer):
            return self.answer[i]
        return self.words[(self.seq.rid + i) % len(self.words)]


async def write_reply(
    reply: Reply, event: asyncio.Event, closing: Callable[[], bool]
) -> web.StreamResponse:
    """Write the tokens as the engine emits them (`event` is set after each step that
    touched this request), then end the response."""
    seq = reply.seq
    if reply.req.stream:
        reply.resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await reply.resp.prepare(reply.request)
        if reply.drop_at == 0:
            return _drop(reply.request, reply.resp, reply.rec)
    while seq.finished is None or reply.sent < seq.output_tokens:
        await event.wait()
        event.clear()
        if closing():  # shutting down: cut the stream, as a stopping vLLM does
            if reply.resp is None:
                return web.Response(status=503)
            return _drop(reply.request, reply.resp, reply.rec)
        await _write_new_tokens(reply)
        if reply.drop_at is not None and reply.sent >= reply.drop_at and reply.resp is not None:
            return _drop(reply.request, reply.resp, reply.rec)
    reply.rec.last_token = reply.last_write
    reply.rec.outcome = reply.reason
    return await _end(reply)


async def _write_new_tokens(reply: Reply) -> None:
    """Send what the engine emitted since the last write, and stamp the record."""
    seq, rec, sent = reply.seq, reply.rec, reply.sent
    upto = seq.output_tokens
    if reply.drop_at is not None:
        upto = min(upto, reply.drop_at)
    # Stamped as the bytes are handed to the socket, so a client can never have
    # them before the trace says they were sent.
    now = time.perf_counter()
    if reply.resp is not None and upto > sent:
        parts = [reply.chunks.role()] if sent == 0 else []
        for i in range(sent, upto):
            last = seq.finished is not None and i == seq.output_tokens - 1
            parts.append(reply.chunks.token(reply.piece(i), reply.reason if last else None))
        await reply.resp.write(b"".join(parts))
        rec.writes += 1
    if sent == 0 and upto > 0:
        rec.first_token = now
    elif upto > sent:
        gap = (now - reply.last_write) / (upto - sent)
        for _ in range(upto - sent):
            reply.itl.observe(gap)
    reply.last_write = now
    reply.sent = upto
    rec.output_tokens = upto


async def _end(reply: Reply) -> web.StreamResponse:
    """The whole body of a non-streaming answer, or a stream's usage chunk and [DONE]."""
    req, seq = reply.req, reply.seq
    if reply.resp is None:
        text = "".join(json.loads(reply.piece(i)) for i in range(seq.output_tokens))
        return web.json_response(
            _full_body(req, text, seq.output_tokens, reply.reason, seq.rid, int(time.time()))
        )
    if req.include_usage:
        await reply.resp.write(reply.chunks.usage(req.prompt_tokens, seq.output_tokens))
    await reply.resp.write(reply.chunks.done())
    await reply.resp.write_eof()
    return reply.resp


def _drop(request: web.Request, resp: web.StreamResponse, rec: TraceRecord) -> web.StreamResponse:
    """Cut the connection without finishing the HTTP response (a crashed worker)."""
    rec.outcome = "dropped"
    if request.transport is not None:
        request.transport.abort()
    return resp


def _full_body(
    req: ParsedRequest, text: str, tokens: int, reason: str, rid: int, created: int
) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "logprobs": None,
        "finish_reason": reason,
        "stop_reason": None,
    }
    if req.chat:
        choice["message"] = {"role": "assistant", "content": text, "tool_calls": []}
    else:
        choice["text"] = text
    return {
        "id": f"{'chatcmpl' if req.chat else 'cmpl'}-sim{rid}",
        "object": "chat.completion" if req.chat else "text_completion",
        "created": created,
        "model": req.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": req.prompt_tokens,
            "total_tokens": req.prompt_tokens + tokens,
            "completion_tokens": tokens,
        },
    }
