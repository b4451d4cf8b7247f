"""The capacity search's rule: which point to probe next, given the verdicts so far.
Numbers in, numbers out; no I/O.

Points are whole numbers k (a concurrency, or a rate in units of the search's step). An
exponential probe doubles k from `start` while the SLO holds, up to `top`; then the
integers between the highest point that met it and the lowest above that did not are
narrowed until they are adjacent: by regula falsi on the probes' margins (each bounded
P99 over its bound, 1.0 at the SLO: the P99s grow smoothly with the load, so for each
bound the line between the bracket's ends points near its crossing, and the first
crossing is the guess), clipped strictly inside the bracket, and by bisection where a
margin is missing or the last two probes each did not halve the bracket (so it never
needs more than about three times bisection's steps). It assumes that meeting the SLO
is monotone in the load (more load never helps a P99), as does every capacity search
(MLPerf LoadGen's server-scenario binary search, GuideLLM's sweep, vLLM's
`--sla-auto-tune`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def bracket(verdicts: Mapping[int, bool]) -> tuple[int, int | None]:
    """(highest point that met the SLO or 0, lowest point above it that did not or None)."""
    low = max((k for k, ok in verdicts.items() if ok), default=0)
    high = min((k for k, ok in verdicts.items() if not ok and k > low), default=None)
    return low, high


def next_point(
    verdicts: Mapping[int, bool],
    start: int,
    top: int,
    margins: Mapping[int, Sequence[float]] | None = None,
) -> int | None:
    """The next point to measure, or None when the search is over: the capacity is then
    `bracket(verdicts)[0]` (0: not even the smallest point met the SLO). `margins`: each
    probed point's P99 / bound per bound, in one order (optional; without, bisection)."""
    if not verdicts:
        return max(1, min(start, top))
    low, high = bracket(verdicts)
    if high is None:
        if low >= top:
            return None  # met at the top: the capacity is at least `top`
        return min(top, 2 * low)
    if high - low <= 1:
        return None
    guess = _interpolate(low, high, margins or {})
    if guess is not None and _halving(verdicts, low, high):
        return min(high - 1, max(low + 1, guess))
    return (low + high) // 2


def _interpolate(low: int, high: int, margins: Mapping[int, Sequence[float]]) -> int | None:
    """Where the first bound is crossed, rounded down: per bound, where the line through
    (low, its ratio) and (high, its ratio) crosses 1.0, over the bounds `high` breaks.
    Bound by bound, because the binding bound can change inside the bracket: a P99 TPOT
    flat just under its bound beside a P99 TTFT that climbs through its own would, as
    one worst-of ratio, put the crossing far too low."""
    m_low, m_high = margins.get(low), margins.get(high)
    if m_low is None or m_high is None or len(m_low) != len(m_high):
        return None
    crossings = [
        low + (1.0 - a) * (high - low) / (b - a)
        for a, b in zip(m_low, m_high, strict=True)
        if a <= 1.0 < b
    ]
    return math.floor(min(crossings)) if crossings else None


def _halving(verdicts: Mapping[int, bool], low: int, high: int) -> bool:
    """Whether interpolating again is fair: not when each of the last two probes left the
    bracket wider than half what it was (then one bisection guarantees progress)."""
    order = list(verdicts)
    widths = []
    for n in (len(order) - 2, len(order) - 1):
        got = bracket({k: verdicts[k] for k in order[:n]}) if n > 0 else (0, None)
        widths.append(None if got[1] is None else got[1] - got[0])
    w0, w1, w2 = widths[0], widths[1], high - low
    return w0 is None or w1 is None or 2 * w1 <= w0 or 2 * w2 <= w1


def exhaustive_steps(start: int, top: int) -> int:
    """How many points a sweep of start, 2 start, 4 start … top measures (for comparison)."""
    steps, k = 0, max(1, start)
    while k < top:
        steps, k = steps + 1, 2 * k
    return steps + 1
