"""The simulator's injected faults, as each request meets them.

A profile's `faults` section makes the simulator misbehave on purpose (exit, stall, answer
errors, drop streams), so the harness's handling of a failing server can be tested against
a real process. Each helper here decides one fault for the n-th request (1-based).
"""

from __future__ import annotations

import logging
import os
from typing import IO

from bench.sim.metrics import Metrics
from bench.sim.openai import ApiError
from bench.sim.profile import Faults

log = logging.getLogger("bench.sim")
EXIT_CRASH = 70  # what the process exits with when the exit fault fires


def exit_if_due(faults: Faults, n: int, trace: IO[str] | None) -> None:
    """Die like a crashed server once `exit_after_requests` requests have arrived: no
    cleanup, no answer; only the trace is flushed, so it shows what came before."""
    if faults.exit_after_requests and n > faults.exit_after_requests:
        log.error("fault injection: exiting after %d requests", faults.exit_after_requests)
        if trace:
            trace.flush()
        os._exit(EXIT_CRASH)


def stall_s(faults: Faults, n: int, time_scale: float) -> float:
    """Extra seconds the next engine step takes because request n arrived (0 for none)."""
    if faults.stall_every and n % faults.stall_every == 0:
        return faults.stall_s * time_scale
    return 0.0


def fail_if_due(faults: Faults, n: int, metrics: Metrics) -> None:
    """Answer every `error_every`-th request with `error_status` instead of serving it."""
    if faults.error_every and n % faults.error_every == 0:
        metrics.finished["error"] += 1
        raise ApiError(
            faults.error_status,
            "fault injection: simulated failure",
            "TooManyRequests" if faults.error_status == 429 else "InternalServerError",
        )


def drop_point(faults: Faults, rid: int) -> int | None:
    """After how many tokens request `rid`'s stream is cut (None: it is not)."""
    if faults.drop_every and rid % faults.drop_every == 0:
        return faults.drop_after_tokens
    return None
