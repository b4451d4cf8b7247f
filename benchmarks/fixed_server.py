"""An independent OpenAI-compatible server with fixed timings, on the standard library only.

    python benchmarks/fixed_server.py --port 0 --port-file F [--ttft 0.2 --tpot 0.02]

Not the project's simulator (no aiohttp, no shared code): asyncio streams and hand-written
HTTP/1.1 with keep-alive and chunked SSE. POST /v1/chat/completions must carry an image
(an `image_url` part); its first token is written `ttft` seconds after the request's
first bytes were read from the socket (stamped in the protocol's `data_received`, before
the handler wakes up: a stamp taken after `readline` also counted the server's own
wake-up, ~0.1 ms, as the client's), as the simulator's clock starts when a request arrives,
token k `ttft + k * tpot` after it (an absolute schedule), `max_tokens` in all
(ignore_eos), then a usage chunk and [DONE]. GET /health and /v1/models answer readiness.
There is no /metrics: the client/server gap check cannot run against it.

It keeps to its schedule as well as an event loop can: a sleep wakes up to a millisecond or
two late (more when the loop is busy). GET /stats says by how much: per first token, the
time it was written less the time it was due, since the last `GET /stats?reset=1`. That
lateness is the server's, not the client's: benchmarks/client_error.py reports the client's
error against the nominal TTFT and against what the server really did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

MODEL = "fixed-model"
LATE: list[float] = []  # seconds each first token was written after it was due


def _response(status: str, body: bytes, kind: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _chunk(data: dict[str, object] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    payload = f"data: {text}\n\n".encode()
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _has_image(body: dict[str, object]) -> bool:
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(p, dict) and p.get("type") == "image_url" for p in content
        ):
            return True
    return False


async def _stream(
    writer: asyncio.StreamWriter, body: dict[str, object], args: argparse.Namespace, start: float
) -> None:
    tokens = int(body.get("max_tokens") or 64)  # type: ignore[call-overload]
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    base = {"id": "chatcmpl-fixed", "object": "chat.completion.chunk", "model": MODEL}
    for k in range(tokens):
        delay = start + args.ttft + k * args.tpot - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        delta = {"role": "assistant", "content": " word"} if k == 0 else {"content": " word"}
        last = "length" if k == tokens - 1 else None
        writer.write(
            _chunk({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": last}]})
        )
        if k == 0:
            LATE.append(time.perf_counter() - (start + args.ttft))
        await writer.drain()
    usage = {"prompt_tokens": 100, "completion_tokens": tokens, "total_tokens": 100 + tokens}
    writer.write(_chunk({**base, "choices": [], "usage": usage}) + _chunk("[DONE]") + b"0\r\n\r\n")
    await writer.drain()


def _stats() -> dict[str, object]:
    """How late the first tokens were written, in ms: mean, median, p99, max."""
    late = sorted(LATE)
    if not late:
        return {"requests": 0}
    return {
        "requests": len(late),
        "first_token_late_ms": {
            "mean": 1000 * sum(late) / len(late),
            "p50": 1000 * late[len(late) // 2],
            "p99": 1000 * late[min(len(late) - 1, int(0.99 * len(late)))],
            "max": 1000 * late[-1],
        },
    }


class _Stamped(asyncio.StreamReaderProtocol):
    """A stream protocol that notes when the bytes of each next request begin to arrive."""

    arrived: float | None = None

    def data_received(self, data: bytes) -> None:
        if self.arrived is None:
            self.arrived = time.perf_counter()
        super().data_received(data)


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, args: argparse.Namespace
) -> None:
    stamped = writer.transport.get_protocol()
    assert isinstance(stamped, _Stamped)
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            arrived = stamped.arrived or time.perf_counter()
            method, path, _ = line.decode().split(" ", 2)
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            raw = await reader.readexactly(length) if length else b""
            stamped.arrived = None  # the next bytes are the next request's
            if method == "GET" and path.startswith("/stats"):
                writer.write(_response("200 OK", json.dumps(_stats()).encode()))
                if path.endswith("reset=1"):
                    LATE.clear()
            elif method == "GET" and path == "/health":
                writer.write(_response("200 OK", b"{}"))
            elif method == "GET" and path == "/v1/models":
                writer.write(_response("200 OK", json.dumps({"data": [{"id": MODEL}]}).encode()))
            elif method == "POST" and path == "/v1/chat/completions":
                body = json.loads(raw)
                if not _has_image(body):
                    writer.write(_response("400 Bad Request", b'{"error": "an image is required"}'))
                else:
                    await _stream(writer, body, args, arrived)
            else:
                writer.write(_response("404 Not Found", b"{}"))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()

    def protocol() -> _Stamped:
        reader = asyncio.StreamReader(limit=2**16, loop=loop)
        return _Stamped(reader, lambda r, w: _handle(r, w, args), loop=loop)

    server = await loop.create_server(protocol, "127.0.0.1", args.port, backlog=1024)
    Path(args.port_file).write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tpot", type=float, default=0.02)
    asyncio.run(_main(parser.parse_args()))
