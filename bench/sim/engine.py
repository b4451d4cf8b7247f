"""The timing model: a vLLM-like continuous-batching engine, with no clock of its own.

One engine step schedules, in vLLM V1's order, (1) one decode token for every running
sequence that has finished its prefill, (2) the next prefill chunk of sequences already
admitted, (3) new sequences from the FIFO waiting queue while `max_num_seqs`, the KV-cache
budget and the step's token budget (`max_num_batched_tokens`) allow. Its cost is

    decode_base_s + decode_per_seq_s * n_decoding + prefill_per_token_s * prefill_tokens
    + per_image_s * images_started (+ cold_image_s[k] for the k-th step encoding images)

times `step_scale` (a planted engine slowdown: 1.08 = every step 8 % slower), a seeded
log-normal jitter factor (mean 1) and `time_scale`. At the end of the step
every decoding sequence emits one token and every sequence whose prefill completed emits
its first token, as vLLM samples the first token in the prefill step.

Before the engine sees a request, a serial front end spends `frontend_per_image_s` per
image (vLLM's API server decodes and preprocesses images on one thread): `FrontEnd`.

Callers (the HTTP server in real time, `virtual.py` in simulated time) own the clock:
they call `schedule()`, wait `step.duration_s`, then `complete(step, now)`.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from bench.sim.profile import Profile


@dataclass(eq=False)
class Sequence:
    """One request inside the engine; times are the caller's clock, in seconds."""

    rid: int
    prompt_tokens: int
    images: int
    target_tokens: int
    arrival: float
    prefilled: int = 0
    output_tokens: int = 0
    admitted: float | None = None
    first_token: float | None = None
    finished: float | None = None
    aborted: bool = False

    @property
    def kv_reservation(self) -> int:
        return self.prompt_tokens + self.target_tokens

    @property
    def in_prefill(self) -> bool:
        return self.prefilled < self.prompt_tokens


@dataclass
class Step:
    """What one engine step does and how long it takes (already time-scaled)."""

    decode: list[Sequence] = field(default_factory=list)
    prefill: list[tuple[Sequence, int]] = field(default_factory=list)
    images: int = 0
    duration_s: float = 0.0


class FrontEnd:
    """A single-threaded preprocessing stage in front of the engine (FIFO).

    Each image costs `frontend_per_image_s`, plus `frontend_per_running_s` for every
    sequence the engine is running: the same thread streams their tokens (vLLM's API
    server detokenizes and sends every running request's output).
    """

    def __init__(self, profile: Profile) -> None:
        self._per_image_s = profile.frontend_per_image_s * profile.time_scale
        self._per_running_s = profile.frontend_per_running_s * profile.time_scale
        self._free_at = -math.inf

    def ready_time(self, arrival: float, images: int, running: int = 0) -> float:
        """When a request arriving at `arrival` reaches the engine."""
        if images == 0 or self._per_image_s == 0:
            return arrival
        start = max(arrival, self._free_at)
        self._free_at = start + (self._per_image_s + self._per_running_s * running) * images
        return self._free_at


class Engine:
    def __init__(self, profile: Profile, seed: int = 0) -> None:
        self.profile = profile
        self._rng = random.Random(seed)
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.kv_reserved = 0
        self._cold = list(profile.cold_image_s)
        self.steps = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def abort(self, seq: Sequence) -> None:
        """Forget a sequence whose client went away."""
        seq.aborted = True
        if seq in self.running:
            self.running.remove(seq)
            self.kv_reserved -= seq.kv_reservation
        elif seq in self.waiting:
            self.waiting.remove(seq)

    def has_work(self) -> bool:
        return bool(self.running) or self._admissible()

    def kv_usage(self) -> float:
        """Fraction of the KV cache holding tokens now (vLLM's kv_cache_usage_perc)."""
        used = sum(s.prefilled + s.output_tokens for s in self.running)
        return used / self.profile.kv_cache_tokens

    def _admissible(self) -> bool:
        if not self.waiting or len(self.running) >= self.profile.max_num_seqs:
            return False
        head = self.waiting[0]
        # A request larger than the whole cache is admitted alone rather than never.
        return (
            self.kv_reserved + head.kv_reservation <= self.profile.kv_cache_tokens
            or not self.running
        )

    def schedule(self, now: float) -> Step:
        """Choose the next step's work. `now` stamps admissions."""
        p = self.profile
        step = Step()
        budget = p.max_num_batched_tokens
        for seq in self.running:
            if not seq.in_prefill and budget > 0:
                step.decode.append(seq)
                budget -= 1
        for seq in self.running:
            if seq.in_prefill and budget > 0:
                chunk = min(seq.prompt_tokens - seq.prefilled, budget)
                step.prefill.append((seq, chunk))
                budget -= chunk
        while budget > 0 and self._admissible():
            seq = self.waiting.popleft()
            seq.admitted = now
            self.running.append(seq)
            self.kv_reserved += seq.kv_reservation
            chunk = min(seq.prompt_tokens, budget)
            step.prefill.append((seq, chunk))
            step.images += seq.images
            budget -= chunk
        cost = (
            p.decode_base_s
            + p.decode_per_seq_s * len(step.decode)
            + p.prefill_per_token_s * sum(chunk for _, chunk in step.prefill)
            + p.per_image_s * step.images
        )
        if step.images and self._cold:
            cost += self._cold.pop(0)
        if p.jitter:
            sigma = p.jitter
            cost *= math.exp(self._rng.gauss(-sigma * sigma / 2, sigma))
        step.duration_s = cost * p.step_scale * p.time_scale
        return step

    def complete(self, step: Step, now: float) -> list[Sequence]:
        """Apply a step that ended at `now`; returns the sequences that emitted a token."""
        self.steps += 1
        emitted: list[Sequence] = []
        for seq in step.decode:
            if not seq.aborted:
                seq.output_tokens += 1
                emitted.append(seq)
        for seq, chunk in step.prefill:
            if not seq.aborted:
                seq.prefilled += chunk
                if not seq.in_prefill:
                    seq.first_token = now
                    seq.output_tokens = 1
                    emitted.append(seq)
        for seq in emitted:
            if seq.output_tokens >= seq.target_tokens:
                seq.finished = now
                self.running.remove(seq)
                self.kv_reserved -= seq.kv_reservation
        return emitted
