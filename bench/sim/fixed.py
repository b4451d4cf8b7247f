"""Fixed timing: every request on its own clock, no engine, no batching slowdown.

With a profile's `fixed_ttft_s` and `fixed_tpot_s` set, a request's first token is due
`ttft` after its arrival and token k `ttft + k * tpot` after it (an absolute schedule, so
wake-up error never accumulates), whatever else is running. A request may carry its own
timings in the headers `x-vlm-bench-ttft-s` and `x-vlm-bench-tpot-s` (one server then
serves every level of a client self-calibration, bench/measure/calibrate.py). The trace
still records when each token was really written: that, not the schedule, is the truth.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping

from bench.sim.engine import Sequence
from bench.sim.profile import Profile

HEADER_TTFT = "x-vlm-bench-ttft-s"
HEADER_TPOT = "x-vlm-bench-tpot-s"
MAX_FIXED_S = 3600.0


def enabled(profile: Profile) -> bool:
    return profile.fixed_ttft_s is not None and profile.fixed_tpot_s is not None


def _seconds(headers: Mapping[str, str], name: str, default: float) -> float:
    """A header's duration, or the profile's when absent or not a sane number."""
    try:
        value = float(headers.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and 0 < value <= MAX_FIXED_S else default


def timings(profile: Profile, headers: Mapping[str, str]) -> tuple[float, float]:
    """(TTFT, TPOT) in seconds for one request, time-scaled like every profile duration."""
    assert profile.fixed_ttft_s is not None and profile.fixed_tpot_s is not None
    ttft = _seconds(headers, HEADER_TTFT, profile.fixed_ttft_s)
    tpot = _seconds(headers, HEADER_TPOT, profile.fixed_tpot_s)
    return ttft * profile.time_scale, tpot * profile.time_scale


async def emit(seq: Sequence, event: asyncio.Event, start: float, ttft: float, tpot: float) -> None:
    """Emit `seq.target_tokens` on the schedule start + ttft + k * tpot, waking the
    request's writer (bench.sim.stream) after each token."""
    clock = time.perf_counter
    seq.admitted = start
    for k in range(seq.target_tokens):
        delay = start + ttft + k * tpot - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        now = clock()
        if k == 0:
            seq.first_token = now
        seq.output_tokens = k + 1
        if k == seq.target_tokens - 1:
            seq.finished = now
        event.set()
