"""The client self-calibration's server: fixed timings on asyncio's protocol layer.

    vlm-bench sim --profile fixed --lean --trace FILE --port 0 --port-file F

A calibration (bench/measure/calibrate.py) charges the client with everything between
its start stamp and the server's arrival stamp, and between the server's token write and
the client's read. The full simulator's arrival stamp comes late under a burst: aiohttp's
request handling and the prompt's tokenization (~0.5 ms a request here) run for every
request of a wave before the last one is stamped, so at concurrency 128 a calibration
saw 13-33 ms between the client's start and the simulator's arrival where
benchmarks/fixed_server.py, a far lighter server, saw 2-3 ms: the bound charged the
simulator's own work to the client. This server stamps a request's arrival in
`data_received`, when its first bytes are read, and leaves its parsing to a later turn of
the loop, so a burst's arrivals are stamped before any of them is parsed.

It does only what a calibration needs: POST /v1/chat/completions and /v1/completions on
the fixed profile's schedule (bench/sim/fixed.py: the first token `ttft` after arrival,
token k `ttft + k * tpot` after it, the request's own timings from its headers),
`max_tokens` tokens of filler (the finish reason `length`), usage when the stream asks
for it (prompt tokens as the number of text words: nothing here reads them), the
readiness routes (/health, /v1/models), and one trace line per request in the
simulator's format (bench/sim/record.py) with the request's digest, its arrival and the
moments its first and last tokens were written. No /metrics, no engine, no faults:
`--lean` with any other profile than a fixed-timing one is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from pathlib import Path
from typing import IO, Any, cast

from bench.digest import request_digest
from bench.errors import UserError
from bench.sim import fixed, server
from bench.sim.profile import Profile
from bench.sim.record import TraceRecord, write_trace

log = logging.getLogger("bench.sim")

MAX_HEAD = 64 * 1024  # bytes of request line and headers
MAX_BODY = 256 * 1024 * 1024  # bytes of a request body
ROUTES = {"/v1/chat/completions": True, "/v1/completions": False}  # path → chat


class _Server:
    """What every connection shares: the profile, the trace, the request counter."""

    def __init__(self, profile: Profile, trace: IO[str] | None) -> None:
        self.profile = profile
        self.trace = trace
        self.count = 0


class _Connection(asyncio.Protocol):
    """One client connection: requests one after another (keep-alive, no pipelining)."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.arrival: float | None = None  # when the current request's first bytes came
        self.head: tuple[str, str, dict[str, str], int] | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        if self.arrival is None:
            self.arrival = time.perf_counter()
        self.buf += data
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._refuse("431 Request Header Fields Too Large", "request head too large")
                return
            try:
                self.head = _parse_head(self.buf[:end])
            except ValueError as exc:
                self._refuse("400 Bad Request", str(exc))
                return
            self.buf = self.buf[end + 4 :]
        method, path, headers, length = self.head
        if len(self.buf) < length:
            return
        body, self.buf = self.buf[:length], self.buf[length:]
        arrival, self.arrival, self.head = self.arrival, None, None
        if self.buf:  # a pipelined next request: not a client a calibration uses
            self._refuse("400 Bad Request", "pipelined requests are not served")
            return
        # Parsed on a later turn of the loop: the rest of a burst gets stamped first.
        asyncio.get_running_loop().call_soon(self._dispatch, method, path, headers, body, arrival)

    def _refuse(self, status: str, why: str) -> None:
        self._write_json(status, {"error": {"message": why}})
        if self.transport is not None:
            self.transport.close()

    def _write_json(self, status: str, obj: Any) -> None:
        body = json.dumps(obj).encode()
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head.encode() + body)

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, arrival: float
    ) -> None:
        if method == "GET" and path == "/health":
            self._write_json("200 OK", {})
        elif method == "GET" and path == "/v1/models":
            served = self.server.profile.served_model_name
            self._write_json("200 OK", {"object": "list", "data": [{"id": served}]})
        elif method == "POST" and path in ROUTES:
            try:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise ValueError("the body is not a JSON object")
                answer = _Answer(self.server, body, headers, arrival, ROUTES[path])
            except ValueError as exc:
                self._write_json("400 Bad Request", {"error": {"message": str(exc)[:200]}})
                return
            self.task = asyncio.ensure_future(self._answer(answer))
        else:
            self._write_json("404 Not Found", {"error": {"message": f"no route {path[:80]}"}})

    async def _answer(self, answer: _Answer) -> None:
        assert self.transport is not None
        try:
            end = await answer.run(self.transport)
        finally:
            write_trace(self.server.trace, answer.rec)
            self.task = None
        if end is not None and not self.transport.is_closing():
            self.transport.write(end)


def _parse_head(raw: bytes) -> tuple[str, str, dict[str, str], int]:
    """(method, path, headers with lower-case names, Content-Length) of a request head."""
    line, *lines = raw.decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x request line: {line[:80]!r}")
    headers = {}
    for text in lines:
        name, sep, value = text.partition(":")
        if not sep:
            raise ValueError(f"a header line without a colon: {text[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ValueError("chunked request bodies are not served: send a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise ValueError("Content-Length is not a number") from None
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"Content-Length {length} out of range")
    return parts[0], parts[1].split("?", 1)[0], headers, length


class _Answer:
    """One completion request's answer on the fixed schedule, and its trace line."""

    def __init__(
        self,
        shared: _Server,
        body: dict[str, Any],
        headers: dict[str, str],
        arrival: float,
        chat: bool,
    ) -> None:
        shared.count += 1
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens", 16))
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError("max_tokens must be a positive integer")
        options = body.get("stream_options")
        self.stream = body.get("stream") is True
        self.usage = self.stream and isinstance(options, dict) and options.get("include_usage")
        self.chat = chat
        self.tokens = max_tokens
        self.ttft, self.tpot = fixed.timings(shared.profile, headers)
        self.rec = TraceRecord(
            shared.count, request_digest(body) or "", arrival, engine=arrival, max_tokens=max_tokens
        )
        self.prompt_tokens = _words(body)
        self.base = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-lean{shared.count}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": body.get("model") if isinstance(body.get("model"), str) else "",
        }

    async def run(self, transport: asyncio.Transport) -> bytes | None:
        """Write the tokens on their schedule; return the response's last bytes (None: the
        client left), written once the trace line is (a client that has read the whole
        answer finds its line)."""
        rec, clock = self.rec, time.perf_counter
        if self.stream:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            head += b"Transfer-Encoding: chunked\r\n\r\n"
        for k in range(self.tokens):
            delay = rec.arrival + self.ttft + k * self.tpot - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if transport.is_closing():
                rec.outcome = "aborted"
                return None
            if self.stream:
                last = "length" if k == self.tokens - 1 else None
                transport.write(head + _chunk({**self.base, "choices": [self._choice(k, last)]}))
                head = b""
            now = clock()
            if k == 0:
                rec.first_token = now
            rec.last_token, rec.output_tokens = now, k + 1
            rec.writes += 1 if self.stream else 0
        rec.outcome = "length"
        if self.stream:
            tail = (
                _chunk({**self.base, "choices": [], "usage": self._usage()}) if self.usage else b""
            )
            return tail + _chunk("[DONE]") + b"0\r\n\r\n"
        else:
            rec.writes = 1
            choice = self._choice(0, "length")
            text = " word" * self.tokens
            choice.update(
                {"message": {"role": "assistant", "content": text}} if self.chat else {"text": text}
            )
            choice.pop("delta", None)
            obj = {**self.base, "object": "chat.completion" if self.chat else "text_completion"}
            body = json.dumps({**obj, "choices": [choice], "usage": self._usage()}).encode()
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    def _choice(self, k: int, finish: str | None) -> dict[str, Any]:
        if not self.chat:
            return {"index": 0, "text": " word", "finish_reason": finish}
        delta = {"role": "assistant", "content": " word"} if k == 0 else {"content": " word"}
        return {"index": 0, "delta": delta, "finish_reason": finish}

    def _usage(self) -> dict[str, int]:
        done = self.rec.output_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }


def _chunk(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    payload = f"data: {text}\n\n".encode()
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _words(body: dict[str, Any]) -> int:
    """The number of words of a request's text (what usage's prompt_tokens says here)."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return len(prompt.split())
    count = 0
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                count += len(part["text"].split())
    return count


def run(
    profile: Profile, host: str, port: int, trace_path: Path | None, port_file: Path | None
) -> None:
    """Serve until SIGINT or SIGTERM (on uvloop, as the simulator)."""
    if not fixed.enabled(profile):
        raise UserError(
            f"--lean serves fixed timings only: profile {profile.name!r} sets no "
            "fixed_ttft_s / fixed_tpot_s"
        )
    with asyncio.Runner(loop_factory=server.loop_factory()) as runner:
        runner.run(_serve(profile, host, port, trace_path, port_file))


async def _serve(
    profile: Profile, host: str, port: int, trace_path: Path | None, port_file: Path | None
) -> None:
    trace = trace_path.open("a", buffering=1) if trace_path else None
    shared = _Server(profile, trace)
    loop = asyncio.get_running_loop()
    try:
        listener = await loop.create_server(lambda: _Connection(shared), host, port, backlog=4096)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = listener.sockets[0].getsockname()[1]
    log.info("vlm-bench lean fixed-timing server listening on http://%s:%d", host, bound)
    if port_file is not None:
        port_file.write_text(str(bound))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        listener.close()
        if trace is not None:
            trace.close()
