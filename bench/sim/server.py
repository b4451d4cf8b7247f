"""The simulator's HTTP server: vLLM's OpenAI routes over the timing model, in real time.

One asyncio task (`_engine_loop`) runs engine steps on an absolute schedule: each step
ends at the previous step's end plus its modelled duration, so event-loop wake-up error
(about a millisecond: the loop's timers have that resolution) never accumulates; steps
that end late are caught up. Only when the loop falls behind by more than
`MAX_CATCH_UP_S` (it is overloaded) does the schedule re-anchor to now, and the emitted
TPOT then honestly drifts above the profile (benchmarks/sim_ceiling.py measures where).
Request handlers wait on an event per request and write the tokens the engine emitted.

Ground truth: with a trace file, every request leaves one JSON line with server times
(`time.perf_counter()`, the clock evalscope uses for its own records, so both can be
compared directly) of arrival, engine entry, admission, the model's first/last token and
the moments the first/last token were actually written to the socket.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import math
import os
import random
import signal
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from bench import __version__, ovd
from bench.errors import UserError
from bench.sim.engine import Engine, FrontEnd, Sequence
from bench.sim.metrics import Metrics
from bench.sim.openai import ApiError, Chunks, ParsedRequest, parse_request
from bench.tools.tokenizer import _WORDS, load_fast

log = logging.getLogger("bench.sim")
EXIT_CRASH = 70  # what the process exits with when the exit fault fires
MM_CACHE_ITEMS = 256
MAX_CATCH_UP_S = 0.02
SPIN_S = 0.0015


@dataclass
class TraceRecord:
    rid: int
    request_sha: str
    arrival: float
    engine: float | None = None
    admitted: float | None = None
    first_token_model: float | None = None
    last_token_model: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    prompt_tokens: int = 0
    image_tokens: int = 0
    images: int = 0
    max_tokens: int = 0
    output_tokens: int = 0
    writes: int = 0  # socket writes that carried tokens: tokens / writes > 1 means bursts
    outcome: str = "pending"


class Simulator:
    def __init__(
        self, profile: Any, tokenizer_dir: str, seed: int = 0, trace: IO[str] | None = None
    ) -> None:
        self.profile = profile
        self.tokenizer_dir = tokenizer_dir
        self.seed = seed
        self.engine = Engine(profile, seed)
        self.front = FrontEnd(profile)
        self.trace = trace
        self._wake = asyncio.Event()
        self.closing = False
        self._events: dict[int, asyncio.Event] = {}
        self._arrivals = itertools.count(1)
        self._pending_stall = 0.0
        self._in_frontend = 0
        self._mm_cache: OrderedDict[str, None] = OrderedDict()
        self._words = self._single_token_words()
        self.metrics = Metrics(
            profile.served_model_name,
            {
                "vllm:num_requests_running": (
                    "Number of requests in model execution batches.",
                    lambda: len(self.engine.running),
                ),
                "vllm:num_requests_waiting": (
                    "Number of requests waiting to be processed.",
                    lambda: len(self.engine.waiting) + self._in_frontend,
                ),
                "vllm:kv_cache_usage_perc": (
                    "KV-cache usage. 1 means 100 percent usage.",
                    self.engine.kv_usage,
                ),
            },
        )

    def _single_token_words(self) -> list[bytes]:
        """Output text: common words that are one token each, JSON-encoded once."""
        tok = load_fast(self.tokenizer_dir)
        words = [
            " " + w for w in _WORDS if len(tok.encode(" " + w, add_special_tokens=False).ids) == 1
        ]
        return [json.dumps(w).encode() for w in words[:64]]

    # ---- engine ---------------------------------------------------------------------

    async def _engine_loop(self) -> None:
        clock = time.perf_counter
        while True:
            await self._wake.wait()
            self._wake.clear()
            deadline = clock()
            while self.engine.has_work():
                now = clock()
                step = self.engine.schedule(now)
                duration = step.duration_s + self._pending_stall
                self._pending_stall = 0.0
                if now - deadline > MAX_CATCH_UP_S:
                    deadline = now  # overloaded: give up the lost time
                deadline += duration
                # The loop's timers have millisecond resolution and fire up to ~1 ms
                # early or late: sleep until just before the step's end, then yield
                # (handlers keep writing) until it, so tokens leave neither early nor late.
                delay = deadline - clock() - SPIN_S
                if delay > 0:
                    await asyncio.sleep(delay)
                while clock() < deadline:
                    await asyncio.sleep(0)
                for seq in self.engine.complete(step, deadline):
                    event = self._events.get(seq.rid)
                    if event is not None:
                        event.set()

    def _output_plan(self, req: ParsedRequest, rid: int, answer: int) -> tuple[int, str]:
        """How many tokens this request produces, and its finish reason (`answer`: the
        length of a scripted answer, 0 for none)."""
        if req.ignore_eos:
            target, reason = req.max_tokens, "length"
        else:
            if answer:
                natural = answer
            else:
                rng = random.Random(self.seed * 1_000_003 + rid)
                p = 1 / self.profile.natural_output_mean
                natural = 1 + int(rng.expovariate(1) / -math.log1p(-p))  # geometric, mean 1/p
            target = max(req.min_tokens, min(natural, req.max_tokens))
            reason = "length" if target == req.max_tokens else "stop"
        cut = self.profile.faults.truncate_output_tokens
        if cut and cut < target:
            target, reason = cut, "stop"
        return max(1, target), reason

    def _answer(self, req: ParsedRequest) -> list[bytes]:
        """The scripted answer's tokens, each JSON-encoded: an OVD answer to an OVD prompt
        when the profile says so, else none (filler words)."""
        if not (self.profile.ovd_answers and req.ovd_event is not None and req.image_sizes):
            return []
        width, height = req.image_sizes[0]
        text = ovd.sample_answer(width, height, req.ovd_event or "object")
        enc = load_fast(self.tokenizer_dir).encode(text, add_special_tokens=False)
        pieces, done = [], 0
        for _, end in enc.offsets:  # a token inside a multi-byte character carries ""
            pieces.append(json.dumps(text[done:end]).encode())
            done = max(done, end)
        return pieces

    # ---- HTTP -----------------------------------------------------------------------

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=request.path.endswith("chat/completions"))

    async def _generate(self, request: web.Request, chat: bool) -> web.StreamResponse:
        arrival = time.perf_counter()
        n = next(self._arrivals)
        faults = self.profile.faults
        if faults.exit_after_requests and n > faults.exit_after_requests:
            log.error("fault injection: exiting after %d requests", faults.exit_after_requests)
            if self.trace:
                self.trace.flush()
            os._exit(EXIT_CRASH)
        if faults.stall_every and n % faults.stall_every == 0:
            self._pending_stall += faults.stall_s * self.profile.time_scale
        raw = await request.read()
        try:
            if faults.error_every and n % faults.error_every == 0:
                self.metrics.finished["error"] += 1
                raise ApiError(
                    faults.error_status,
                    "fault injection: simulated failure",
                    "TooManyRequests" if faults.error_status == 429 else "InternalServerError",
                )
            req = parse_request(raw, chat, self.profile, self.tokenizer_dir)
        except ApiError as err:
            self._write_trace(TraceRecord(n, "", arrival, outcome=f"error {err.status}"))
            return web.Response(status=err.status, body=err.body(), content_type="application/json")
        answer = self._answer(req)
        target, reason = self._output_plan(req, n, len(answer))
        rec = TraceRecord(
            n,
            req.request_sha,
            arrival,
            prompt_tokens=req.prompt_tokens,
            image_tokens=req.image_tokens,
            images=req.images,
            max_tokens=req.max_tokens,
        )
        seq = Sequence(n, req.prompt_tokens, req.images, target, arrival)
        event = self._events[n] = asyncio.Event()
        try:
            return await self._serve(request, req, seq, rec, event, reason, chat, answer)
        except ConnectionError:  # the client went away; nothing to answer
            return web.Response(status=499)
        finally:
            del self._events[n]
            if seq.finished is None:
                self.engine.abort(seq)
            self._finish(rec, req, seq)

    async def _serve(
        self,
        request: web.Request,
        req: ParsedRequest,
        seq: Sequence,
        rec: TraceRecord,
        event: asyncio.Event,
        reason: str,
        chat: bool,
        answer: list[bytes],
    ) -> web.StreamResponse:
        # The multimodal processor cache spares the front end's work on repeated images.
        misses = 0
        for digest in req.image_digests:
            self.metrics.add("vllm:mm_cache_queries", 1)
            if digest in self._mm_cache:
                self._mm_cache.move_to_end(digest)
                self.metrics.add("vllm:mm_cache_hits", 1)
            else:
                misses += 1
                self._mm_cache[digest] = None
                if len(self._mm_cache) > MM_CACHE_ITEMS:
                    self._mm_cache.popitem(last=False)
        ready = self.front.ready_time(rec.arrival, misses, len(self.engine.running))
        delay = ready - time.perf_counter()
        if delay > 0:
            self._in_frontend += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._in_frontend -= 1
        rec.engine = time.perf_counter()
        self.engine.add(seq)
        self._wake.set()
        created = int(time.time())
        chunks = Chunks(f"{'chatcmpl' if chat else 'cmpl'}-sim{seq.rid}", created, req.model, chat)
        faults = self.profile.faults
        drop_at = (
            faults.drop_after_tokens
            if faults.drop_every and seq.rid % faults.drop_every == 0
            else None
        )
        resp: web.StreamResponse | None = None
        if req.stream:
            resp = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await resp.prepare(request)
            if drop_at == 0:
                return _drop(request, resp, rec)
        sent = 0
        last_write = 0.0
        words = self._words

        def piece(i: int) -> bytes:
            return answer[i] if i < len(answer) else words[(seq.rid + i) % len(words)]

        itl = self.metrics.histograms["vllm:inter_token_latency_seconds"]
        while seq.finished is None or sent < seq.output_tokens:
            await event.wait()
            event.clear()
            if self.closing:  # shutting down: cut the stream, as a stopping vLLM does
                return _drop(request, resp, rec) if resp is not None else web.Response(status=503)
            upto = seq.output_tokens
            if drop_at is not None:
                upto = min(upto, drop_at)
            # Stamped as the bytes are handed to the socket, so a client can never have
            # them before the trace says they were sent.
            now = time.perf_counter()
            if resp is not None and upto > sent:
                parts = [chunks.role()] if sent == 0 else []
                for i in range(sent, upto):
                    last = seq.finished is not None and i == seq.output_tokens - 1
                    parts.append(chunks.token(piece(i), reason if last else None))
                await resp.write(b"".join(parts))
                rec.writes += 1
            if sent == 0 and upto > 0:
                rec.first_token = now
            elif upto > sent:
                gap = (now - last_write) / (upto - sent)
                for _ in range(upto - sent):
                    itl.observe(gap)
            last_write = now
            sent = upto
            rec.output_tokens = sent
            if drop_at is not None and sent >= drop_at and resp is not None:
                return _drop(request, resp, rec)
        rec.last_token = last_write
        rec.outcome = reason
        if resp is None:
            text = "".join(json.loads(piece(i)) for i in range(seq.output_tokens))
            return web.json_response(
                _full_body(
                    chunks, req, text, seq.output_tokens, reason, chat, seq.rid, int(time.time())
                )
            )
        if req.include_usage:
            await resp.write(chunks.usage(req.prompt_tokens, seq.output_tokens))
        await resp.write(chunks.done())
        await resp.write_eof()
        return resp

    def _finish(self, rec: TraceRecord, req: ParsedRequest, seq: Sequence) -> None:
        rec.admitted = seq.admitted
        rec.first_token_model = seq.first_token
        rec.last_token_model = seq.finished
        m = self.metrics
        if rec.outcome == "pending":
            rec.outcome = "aborted"
        m.add("vllm:prompt_tokens", req.prompt_tokens if seq.admitted is not None else 0)
        m.add("vllm:prefix_cache_queries", req.prompt_tokens if seq.admitted is not None else 0)
        m.add("vllm:generation_tokens", seq.output_tokens)
        if rec.outcome in ("stop", "length"):
            m.finished[rec.outcome] += 1
            assert rec.first_token is not None and rec.last_token is not None
            assert seq.admitted is not None and rec.engine is not None
            m.observe("vllm:time_to_first_token_seconds", rec.first_token - rec.arrival)
            m.observe("vllm:e2e_request_latency_seconds", rec.last_token - rec.arrival)
            m.observe("vllm:request_queue_time_seconds", seq.admitted - rec.engine)
            m.observe("vllm:request_prefill_time_seconds", rec.first_token - seq.admitted)
            m.observe("vllm:request_decode_time_seconds", rec.last_token - rec.first_token)
            m.observe("vllm:request_inference_time_seconds", rec.last_token - seq.admitted)
            if rec.output_tokens > 1:
                tpot = (rec.last_token - rec.first_token) / (rec.output_tokens - 1)
                m.observe("vllm:request_time_per_output_token_seconds", tpot)
        else:
            m.finished["abort"] += 1
        self._write_trace(rec)

    def _write_trace(self, rec: TraceRecord) -> None:
        if self.trace is not None:
            self.trace.write(json.dumps(asdict(rec)) + "\n")

    async def models(self, request: web.Request) -> web.Response:
        p = self.profile
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": p.served_model_name,
                        "object": "model",
                        "created": int(time.time()),
                        "owned_by": "vlm-bench-sim",
                        "root": p.served_model_name,
                        "parent": None,
                        "max_model_len": p.max_model_len,
                        "permission": [],
                    }
                ],
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": f"{__version__}+sim", "profile": self.profile.name})

    async def metrics_route(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(), content_type="text/plain")

    async def reset_prefix_cache(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def reset_mm_cache(self, request: web.Request) -> web.Response:
        self._mm_cache.clear()
        return web.Response(status=200)

    def app(self) -> web.Application:
        middlewares = [_require_key(key)] if (key := os.environ.get(API_KEY_ENV)) else []
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=middlewares)
        app.router.add_post("/v1/chat/completions", self.completions)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/health", self.health)
        app.router.add_get("/version", self.version)
        app.router.add_get("/metrics", self.metrics_route)
        app.router.add_post("/reset_prefix_cache", self.reset_prefix_cache)
        app.router.add_post("/reset_mm_cache", self.reset_mm_cache)
        return app


API_KEY_ENV = "VLM_BENCH_SIM_API_KEY"


def _require_key(key: str) -> Any:
    """Like `vllm serve --api-key`: /v1/ routes answer 401 without `Authorization: Bearer
    KEY`. Taken from the environment, not a flag, so the key is on no command line."""

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v1/") and (
            request.headers.get("Authorization") != f"Bearer {key}"
        ):
            return web.json_response({"error": "Unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    return check


def _drop(request: web.Request, resp: web.StreamResponse, rec: TraceRecord) -> web.StreamResponse:
    """Cut the connection without finishing the HTTP response (a crashed worker)."""
    rec.outcome = "dropped"
    if request.transport is not None:
        request.transport.abort()
    return resp


def _full_body(
    chunks: Chunks,
    req: ParsedRequest,
    text: str,
    tokens: int,
    reason: str,
    chat: bool,
    rid: int,
    created: int,
) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "logprobs": None,
        "finish_reason": reason,
        "stop_reason": None,
    }
    if chat:
        choice["message"] = {"role": "assistant", "content": text, "tool_calls": []}
    else:
        choice["text"] = text
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-sim{rid}",
        "object": "chat.completion" if chat else "text_completion",
        "created": created,
        "model": req.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": req.prompt_tokens,
            "total_tokens": req.prompt_tokens + tokens,
            "completion_tokens": tokens,
        },
    }


def run(
    profile: Any,
    host: str,
    port: int,
    tokenizer_dir: str,
    seed: int,
    trace_path: Path | None,
    port_file: Path | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then close the socket and the trace and return."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - evalscope's perf extra installs it
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(
            _serve_until_signal(profile, host, port, tokenizer_dir, seed, trace_path, port_file)
        )


async def _serve_until_signal(*args: Any) -> None:
    task = asyncio.ensure_future(serve(*args))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        log.info("simulator stopped")


async def serve(
    profile: Any,
    host: str,
    port: int,
    tokenizer_dir: str,
    seed: int,
    trace_path: Path | None,
    port_file: Path | None = None,
) -> None:
    """Run until cancelled."""
    if profile.faults.ready_delay_s:
        log.info("fault injection: binding the port in %.1f s", profile.faults.ready_delay_s)
        await asyncio.sleep(profile.faults.ready_delay_s)
    trace = trace_path.open("a", buffering=1) if trace_path else None
    sim = Simulator(profile, tokenizer_dir, seed, trace)
    runner = web.AppRunner(sim.app(), access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Everything allocated so far lives for the whole run: take it out of the collector's
    # view, so a full collection cannot stall the engine loop for tens of milliseconds.
    gc.collect()
    gc.freeze()
    engine_task = asyncio.create_task(sim._engine_loop())
    bound = runner.addresses[0][1]
    log.info(
        "vlm-bench simulator (profile %s, time scale %g) listening on http://%s:%d",
        profile.name,
        profile.time_scale,
        host,
        bound,
    )
    if port_file is not None:
        port_file.write_text(str(bound))
    try:
        await asyncio.Event().wait()
    finally:
        engine_task.cancel()
        sim.closing = True
        for event in sim._events.values():  # wake every stream so it ends now
            event.set()
        await runner.cleanup()
        if trace:
            trace.close()
