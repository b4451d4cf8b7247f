"""The project's simulator as a test drives it: the process plus small HTTP helpers.

The `sim` / `sim_factory` fixtures of tests/integration/conftest.py start and always stop
these; tests import the class (for annotations) and `chat_body` from here, never from a
conftest or another test module.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any

from bench.sim.process import SimProcess


@dataclass
class Stream:
    """One streamed response: its status, the timed events, and what cut it short."""

    status: int
    events: list[tuple[float, Any]] = field(default_factory=list)  # (arrival time, json | "[DONE]")
    error: str = ""

    @property
    def content_chunks(self) -> list[dict]:
        return [
            e
            for _, e in self.events
            if isinstance(e, dict)
            and e.get("choices")
            and (e["choices"][0].get("delta", {}).get("content") or e["choices"][0].get("text"))
        ]


class Sim(SimProcess):
    """The simulator process plus small HTTP helpers."""

    def conn(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        c = self.conn()
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()

    def post(self, path: str, body: dict | bytes) -> tuple[int, Any]:
        c = self.conn()
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        c.request("POST", path, raw, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except json.JSONDecodeError:
            return r.status, data

    def stream(self, body: dict, path: str = "/v1/chat/completions") -> Stream:
        c = self.conn()
        c.request(
            "POST",
            path,
            json.dumps({**body, "stream": True}).encode(),
            {"Content-Type": "application/json"},
        )
        r = c.getresponse()
        out = Stream(r.status)
        if r.status != 200:
            out.events.append((time.perf_counter(), json.loads(r.read())))
            return out
        try:
            while True:
                line = r.readline()
                if not line:
                    break
                if line.startswith(b"data: "):
                    payload = line[6:].strip()
                    ev = "[DONE]" if payload == b"[DONE]" else json.loads(payload)
                    out.events.append((time.perf_counter(), ev))
        except (http.client.IncompleteRead, ConnectionError) as exc:
            out.error = type(exc).__name__
        return out

    def trace_lines(self) -> list[dict]:
        if not self.trace.exists():
            return []
        return [json.loads(x) for x in self.trace.read_text().splitlines()]


def chat_body(text: str = "describe the image", max_tokens: int = 8, **extra: Any) -> dict:
    return {
        "model": "sim-model",
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
