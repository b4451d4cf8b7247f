"""Pure statistics: numbers in, numbers out. No I/O, no globals."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, as evalscope computes it (value at rank ceil(p/100 * n)).

    With fewer than 100 values p99 is therefore the maximum. `p` is in [0, 100];
    an empty input gives NaN.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    if p >= 100:
        return ordered[-1]
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan
