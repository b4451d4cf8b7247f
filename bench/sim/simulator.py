"""The simulator's core: vLLM's timing model run in real time, one request at a time.

One asyncio task (`engine_loop`) runs engine steps on an absolute schedule: each step
ends at the previous step's end plus its modelled duration, so event-loop wake-up error
(about a millisecond: the loop's timers have that resolution) never accumulates; steps
that end late are caught up. Only when the loop falls behind by more than
`MAX_CATCH_UP_S` (it is overloaded) does the schedule re-anchor to now, and the emitted
TPOT then honestly drifts above the profile (benchmarks/sim_ceiling.py measures where).
Request handlers (`generate`) wait on an event per request and write the tokens the
engine emitted (bench.sim.stream).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import time
from collections import OrderedDict
from typing import IO, Any

from aiohttp import web

from bench import ovd
from bench.sim import faults, fixed
from bench.sim.engine import Engine, FrontEnd, Sequence
from bench.sim.metrics import Metrics
from bench.sim.openai import ApiError, Chunks, ParsedRequest, parse_request
from bench.sim.record import TraceRecord, settle, write_trace
from bench.sim.stream import Reply, write_reply
from bench.tools.tokenizer import _WORDS, load_fast

MM_CACHE_ITEMS = 256
MAX_CATCH_UP_S = 0.02
SPIN_S = 0.0015


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
        self.mm_cache: OrderedDict[str, None] = OrderedDict()
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

    def close(self) -> None:
        """Shutting down: wake every request, so each stream ends now."""
        self.closing = True
        for event in self._events.values():
            event.set()

    # ---- engine ---------------------------------------------------------------------

    async def engine_loop(self) -> None:
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

    # ---- one request ----------------------------------------------------------------

    async def generate(self, request: web.Request, chat: bool) -> web.StreamResponse:
        """A completion request, from arrival to its trace line."""
        arrival = time.perf_counter()
        n = next(self._arrivals)
        fault = self.profile.faults
        faults.exit_if_due(fault, n, self.trace)
        self._pending_stall += faults.stall_s(fault, n, self.profile.time_scale)
        raw = await request.read()
        try:
            faults.fail_if_due(fault, n, self.metrics)
            req = parse_request(raw, chat, self.profile, self.tokenizer_dir)
        except ApiError as err:
            write_trace(self.trace, TraceRecord(n, "", arrival, outcome=f"error {err.status}"))
            return web.Response(status=err.status, body=err.body(), content_type="application/json")
        answer = self._answer(req)
        target, reason = self._output_plan(req, n, len(answer))
        rec = TraceRecord(
            n,
            req.request_sha,
            arrival,
            prompt_tokens=req.prompt_tokens,
            image_tokens=req.image_tokens + req.video_tokens,
            images=req.images + req.videos,
            max_tokens=req.max_tokens,
        )
        # The timing model charges a video as one image (it has no term of its own).
        seq = Sequence(n, req.prompt_tokens, req.images + req.videos, target, arrival)
        event = self._events[n] = asyncio.Event()
        timer: asyncio.Task[None] | None = None
        try:
            if fixed.enabled(self.profile):  # no engine: the request's own clock
                rec.engine = arrival
                timing = fixed.timings(self.profile, request.headers)
                timer = asyncio.create_task(fixed.emit(seq, event, arrival, *timing))
            else:
                await self._admit(req, seq, rec)
            chunks = Chunks(
                f"{'chatcmpl' if chat else 'cmpl'}-sim{n}", int(time.time()), req.model, chat
            )
            itl = self.metrics.histograms["vllm:inter_token_latency_seconds"]
            drop_at = faults.drop_point(fault, n)
            reply = Reply(request, req, seq, rec, reason, chunks, answer, self._words, drop_at, itl)
            return await write_reply(reply, event, lambda: self.closing)
        except ConnectionError:  # the client went away; nothing to answer
            return web.Response(status=499)
        finally:
            del self._events[n]
            if timer is not None:
                timer.cancel()
            if seq.finished is None:
                self.engine.abort(seq)
            settle(rec, req, seq, self.metrics)
            write_trace(self.trace, rec)

    async def _admit(self, req: ParsedRequest, seq: Sequence, rec: TraceRecord) -> None:
        """Through the front end (its delay depends on the images it had to process) into
        the engine's queue."""
        misses = self._image_misses(req.image_digests + req.video_digests)
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

    def _image_misses(self, digests: tuple[str, ...]) -> int:
        """The multimodal processor cache spares the front end's work on repeated images:
        how many of these images it has not seen lately (an LRU of MM_CACHE_ITEMS)."""
        misses = 0
        for digest in digests:
            self.metrics.add("vllm:mm_cache_queries", 1)
            if digest in self.mm_cache:
                self.mm_cache.move_to_end(digest)
                self.metrics.add("vllm:mm_cache_hits", 1)
            else:
                misses += 1
                self.mm_cache[digest] = None
                if len(self.mm_cache) > MM_CACHE_ITEMS:
                    self.mm_cache.popitem(last=False)
        return misses
