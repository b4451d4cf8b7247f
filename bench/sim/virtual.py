"""The timing model driven in simulated time by a closed-loop client, as evalscope drives it.

This predicts, in milliseconds of CPU, what a sweep against the simulator will measure:
it is how profiles are calibrated against published tables and how the timing model is
unit-tested without sockets. The same `Engine` and `FrontEnd` serve the real server.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from bench.schema import figures
from bench.schema.metrics import REFERENCE_COLUMNS
from bench.sim.engine import Engine, FrontEnd, Sequence, Step
from bench.sim.profile import Profile

# The reference table's figures a virtual level predicts (all but the success rate: a
# virtual request never fails).
SUMMARY_KEYS = tuple(key for key in REFERENCE_COLUMNS if key != "success_rate")


@dataclass(frozen=True)
class VirtualRequest:
    start: float
    ttft: float
    latency: float
    output_tokens: int

    @property
    def tpot(self) -> float | None:
        """`bench.schema.figures.tpot`: None for a request of at most one token."""
        return figures.tpot(self.latency, self.ttft, self.output_tokens)


@dataclass(frozen=True)
class VirtualLevel:
    parallel: int
    requests: list[VirtualRequest]
    duration_s: float

    def summary(self) -> dict[str, float]:
        """The reference table's figures for this level (seconds, tokens/s, requests/s), by
        the same formulas as a measured level (`bench.schema.figures.level_figures`)."""
        timed = [
            # Prompt sizes are not kept: no figure of the summary depends on them.
            figures.Timed(r.latency, r.ttft, 0, r.output_tokens)
            for r in self.requests
        ]
        level = figures.level_figures(timed, self.duration_s)
        return {key: level[key] for key in SUMMARY_KEYS}


def run_closed_loop(
    profile: Profile,
    engine: Engine,
    parallel: int,
    number: int,
    prompt_tokens: int,
    images: int,
    output_tokens: int,
    client_delay_s: float = 0.0,
    start: float = 0.0,
    warmup: int = 0,
    warmup_tokens: int | None = None,
) -> VirtualLevel:
    """`number` requests, at most `parallel` in flight, each sent when a slot frees.

    `client_delay_s` is added on the way in and on the way out (the client's own
    per-request work). Pass the same `engine` to consecutive levels to keep its state
    (a warm image encoder). `warmup` unreported requests of `warmup_tokens` (default:
    `output_tokens`) go first, in the same slots, as evalscope's warm-up does.
    """
    front = FrontEnd(profile)
    counter = itertools.count()
    events: list[tuple[float, int, str, object]] = []
    done: list[VirtualRequest] = []
    number += warmup
    warm_len = output_tokens if warmup_tokens is None else warmup_tokens

    def send(t: float, rid: int) -> None:
        length = warm_len if rid < warmup else output_tokens
        seq = Sequence(rid, prompt_tokens, images, length, t + client_delay_s)
        ready = front.ready_time(seq.arrival, images, len(engine.running))
        heapq.heappush(events, (ready, next(counter), "ready", seq))

    for rid in range(min(parallel, number)):
        send(start, rid)
    now, busy, sent = start, False, min(parallel, number)
    while events:
        now, _, kind, obj = heapq.heappop(events)
        if kind == "ready":
            assert isinstance(obj, Sequence)
            engine.add(obj)
        else:
            assert isinstance(obj, Step)
            busy = False
            for seq in engine.complete(obj, now):
                if seq.finished is None:
                    continue
                if seq.rid >= warmup:
                    done.append(_as_sent(seq, client_delay_s))
                if sent < number:
                    send(seq.finished + client_delay_s, sent)
                    sent += 1
        # Events at the same instant are all applied before the next step is planned.
        if not busy and engine.has_work() and (not events or events[0][0] > now):
            step = engine.schedule(now)
            heapq.heappush(events, (now + step.duration_s, next(counter), "step", step))
            busy = True
    end = max(r.start + r.latency for r in done)
    begin = min(r.start for r in done)
    return VirtualLevel(parallel, done, end - begin)


def _as_sent(seq: Sequence, client_delay_s: float) -> VirtualRequest:
    """A finished sequence as its client saw it: times from when it was sent, the client's
    own delay added on the way out."""
    assert seq.first_token is not None and seq.finished is not None
    sent = seq.arrival - client_delay_s
    return VirtualRequest(
        sent,
        seq.first_token + client_delay_s - sent,
        seq.finished + client_delay_s - sent,
        seq.output_tokens,
    )


# The reference sweep (parallel 1..32, 4 x parallel requests, one 640x640 image, 512 tokens).
REFERENCE_SWEEP = [(1, 4), (2, 8), (4, 16), (8, 32), (16, 64), (32, 128)]
REFERENCE_PROMPT_TOKENS = 631  # evalscope random_vl, 100-token prompt + one image (measured)
# evalscope's own delay each way per request, as measured here (benchmarks/sim_fidelity.py):
# a profile must fit across this range, not only for an ideal client.
CLIENT_DELAYS_S = (0.004, 0.012, 0.025)


def reference_sweep(
    profile: Profile, seed: int = 0, client_delay_s: float = 0.012
) -> dict[int, dict[str, float]]:
    """The reference sweep in simulated time, one engine for all levels: {parallel: summary}."""
    engine = Engine(profile, seed)
    return {
        p: run_closed_loop(
            profile, engine, p, n, REFERENCE_PROMPT_TOKENS, 1, 512, client_delay_s=client_delay_s
        ).summary()
        for p, n in REFERENCE_SWEEP
    }
