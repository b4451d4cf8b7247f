"""The "warm-up" validity check: was a cheap warm-up long enough to carry the level's
opening burst? Pure: judged from the level's own figures (bench/analyze/validity.py calls
it; benchmarks/warmup.py shows the effect on the simulator)."""

from __future__ import annotations

from bench.schema.metrics import DISPLAY_SCALE
from bench.schema.results import Check, CheckStatus, LevelResult

NAME = "warm-up"  # the check's name
MS, SCALE = DISPLAY_SCALE["s"]


def check(level: LevelResult, tokens: int) -> Check:
    """A cheap warm-up wave arrives as one burst; its requests must still be decoding when
    the burst's last prefill is done, or the first measured requests (each sent when a
    warm-up request ends) queue behind those prefills and read a higher TTFT than a full
    warm-up would give (benchmarks/warmup.py). The burst's prefill is bounded by the
    level's P99 TTFT, the warm-up's decode is `tokens` x the median TPOT."""
    if not (level.tpot_p50_s > 0 and level.ttft_p99_s > 0):
        return Check(NAME, CheckStatus.NOT_APPLICABLE, "no TTFT or TPOT")
    decode, burst = tokens * level.tpot_p50_s, level.ttft_p99_s
    flagged = decode < burst
    detail = f"{tokens} tokens, ~{decode * SCALE:.0f} {MS} of decode"
    detail += f" vs P99 TTFT {burst * SCALE:.0f} {MS}"
    if flagged:
        detail += ": the first measured requests may have queued behind the warm-up's prefills"
        detail += " (use load.warmup: full)"
    return Check(NAME, CheckStatus.FLAG if flagged else CheckStatus.OK, detail)
