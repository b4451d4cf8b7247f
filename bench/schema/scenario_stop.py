"""`sweep.stop`: measure each level in rounds until its figures are precise enough
(bench/measure/rounds.py; the rule in bench/analyze/precision.py, docs/scenarios.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from bench.schema.scenario_base import MAX_NUMBER, MAX_TIMEOUT_S, Strict

# The figures a confidence interval is given for (bench.analyze.precision.INTERVAL_FIGURES).
StopMetric = Literal[
    "ttft_avg_s", "ttft_p99_s", "tpot_avg_s", "tpot_p99_s", "latency_avg_s", "latency_p99_s"
]

DEFAULT_METRICS: tuple[StopMetric, ...] = ("tpot_avg_s", "ttft_avg_s")


class StopSpec(Strict):
    metric: list[StopMetric] = Field(
        default_factory=lambda: list(DEFAULT_METRICS),
        min_length=1,
        description="the figures whose confidence interval must be narrow enough",
    )
    rel_half_width: PositiveFloat = Field(
        0.02, le=1.0, description="stop when every 95 % CI half-width / value is at most this"
    )
    min_requests: PositiveInt = Field(16, le=MAX_NUMBER)
    max_requests: PositiveInt = Field(512, le=MAX_NUMBER)
    max_time_s: PositiveFloat | None = Field(None, le=MAX_TIMEOUT_S * 100)
    waves: PositiveInt = Field(4, le=1000, description="each round sends parallel x waves requests")

    @model_validator(mode="after")
    def _bounds(self) -> StopSpec:
        if self.min_requests > self.max_requests:
            raise ValueError("min_requests is above max_requests")
        return self
