"""A level's precision, typed: its steady-state window's figures (`SteadyView`) and the
confidence intervals of its figures with how `sweep.stop` ended it (`PrecisionView`).

Writers: bench.measure.precision (from the level's request rows, with
bench.analyze.precision's rules). Both are optional on LevelResult and left out of run.json
when absent, so runs measured before them keep their bytes. docs/metrics.md, "Precision".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Bound = Annotated[float, Field(ge=-1e300, le=1e300)]
Pair = Annotated[list[Bound], Field(min_length=2, max_length=2)]
Count = Annotated[int, Field(ge=0, le=2**53)]


class _Part(BaseModel):
    model_config = _CONFIG

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class SteadyView(_Part):
    """The level's steady-state window (bench.analyze.precision.steady_window): requests
    whose whole life lies where the client's in-flight requests are >= 95 % of the
    concurrency. Rates count the successful completions inside the window over its
    length; the other figures the requests wholly inside. `note` says why figures are
    missing (no such window, too few requests)."""

    window: Pair | None = None  # [begin, end], the client's clock (s)
    requests: Count = 0  # successful requests wholly inside
    note: str | None = None
    rps: Bound | None = None
    output_tok_s: Bound | None = None
    ttft_avg_s: Bound | None = None
    ttft_p99_s: Bound | None = None
    tpot_avg_s: Bound | None = None
    tpot_p99_s: Bound | None = None
    latency_avg_s: Bound | None = None
    latency_p99_s: Bound | None = None


class PrecisionView(_Part):
    """Confidence intervals over the level's requests ({metric key: [lo, hi]}, at
    `confidence`; means by Student's t, percentiles by order statistics), and, for a level
    measured under `sweep.stop`, its rounds, requests, why it stopped and the relative
    half-width it reached per named metric."""

    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    intervals: dict[str, Pair] = Field(default_factory=dict)
    rounds: Count | None = None
    requests: Count | None = None
    stop_reason: str | None = None
    half_width: dict[str, Bound] | None = None
