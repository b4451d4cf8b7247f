"""The capacity search's rule: which point to probe next, given the verdicts so far.
Numbers in, numbers out; no I/O.

Points are whole numbers k (a concurrency, or a rate in units of the search's step). An
exponential probe doubles k from `start` while the SLO holds, up to `top`; then bisection
over the integers between the highest point that met it and the lowest above that did not,
until they are adjacent. It assumes that meeting the SLO is monotone in the load (more
load never helps a P99), as does every capacity search (MLPerf LoadGen's server-scenario
binary search, GuideLLM's sweep, vLLM's `--sla-auto-tune`).
"""

from __future__ import annotations

from collections.abc import Mapping


def bracket(verdicts: Mapping[int, bool]) -> tuple[int, int | None]:
    """(highest point that met the SLO or 0, lowest point above it that did not or None)."""
    low = max((k for k, ok in verdicts.items() if ok), default=0)
    high = min((k for k, ok in verdicts.items() if not ok and k > low), default=None)
    return low, high


def next_point(verdicts: Mapping[int, bool], start: int, top: int) -> int | None:
    """The next point to measure, or None when the search is over: the capacity is then
    `bracket(verdicts)[0]` (0: not even the smallest point met the SLO)."""
    if not verdicts:
        return max(1, min(start, top))
    low, high = bracket(verdicts)
    if high is None:
        if low >= top:
            return None  # met at the top: the capacity is at least `top`
        return min(top, 2 * low)
    if high - low <= 1:
        return None
    return (low + high) // 2


def exhaustive_steps(start: int, top: int) -> int:
    """How many points a sweep of start, 2 start, 4 start … top measures (for comparison)."""
    steps, k = 0, max(1, start)
    while k < top:
        steps, k = steps + 1, 2 * k
    return steps + 1
