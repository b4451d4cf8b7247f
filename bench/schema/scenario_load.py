"""The scenario's `load:` and `sweep:` sections: what each request looks like (evalscope's
dataset, image and prompt sizes, auth) and which levels are measured, how often, in what
order.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from bench.schema.plan import SweepLevel
from bench.schema.scenario_base import (
    MAX_IMAGE_SIDE,
    MAX_IMAGES,
    MAX_NUMBER,
    MAX_PARALLEL,
    MAX_RATE,
    MAX_REPEATS,
    MAX_SEED,
    MAX_TIMEOUT_S,
    MAX_TOKENS,
    MAX_WORKERS,
    Strict,
    json_only,
)
from bench.schema.scenario_stop import StopSpec

# The fewest output tokens of a cheap warm-up request (`LoadSpec.warmup_tokens_for`).
CHEAP_WARMUP_MIN_TOKENS = 16


class LoadSpec(Strict):
    api: Literal["openai"] = "openai"
    endpoint: Literal["/v1/chat/completions", "/v1/completions"] = "/v1/chat/completions"
    dataset: Literal["random_vl", "random"] = "random_vl"
    image_width: PositiveInt = Field(640, le=MAX_IMAGE_SIDE)
    image_height: PositiveInt = Field(640, le=MAX_IMAGE_SIDE)
    image_format: Literal["RGB", "RGBA"] = "RGB"
    image_num: PositiveInt = Field(1, le=MAX_IMAGES)
    min_prompt_length: PositiveInt = Field(100, le=MAX_TOKENS)
    max_prompt_length: PositiveInt = Field(100, le=MAX_TOKENS)
    prefix_length: NonNegativeInt = Field(0, le=MAX_TOKENS)
    min_tokens: NonNegativeInt = Field(512, le=MAX_TOKENS)
    max_tokens: PositiveInt = Field(512, le=MAX_TOKENS)
    ignore_eos: bool = True
    stream: bool = True
    seed: int = Field(0, ge=0, le=MAX_SEED)
    vary_seed: bool = Field(
        True, description="each level and repeat draws its own data (seed + level); false: the same"
    )
    rate: PositiveFloat | None = Field(
        None, description="evalscope --rate: at most this many request starts per second"
    )
    warmup_requests: int | Literal["parallel"] = Field(
        "parallel", description="unmeasured requests before each level; 'parallel' = one wave"
    )
    warmup: Literal["cheap", "full", "off"] = Field(
        "full",
        description="the warm-up requests: cheap (the same requests with a quarter of "
        "max_tokens each), full (as measured ones), off (none, whatever warmup_requests says)",
    )
    request_timeout_s: PositiveInt = Field(600, le=int(MAX_TIMEOUT_S))
    level_timeout_s: PositiveFloat | None = Field(
        None,
        le=MAX_TIMEOUT_S,
        description="give up on a level after this long (default: from the request timeout)",
    )
    extra_body: dict[str, Any] = Field(default_factory=dict)
    calibrate: Literal["off", "auto", "on", "always"] = Field(
        "auto",
        description="measure the client's own error per level against the simulator: "
        "on (reuse the cache), always (measure again), off; auto: on, except when the "
        "server under test is the simulator itself",
    )

    workers: int | Literal["auto"] = Field(
        "auto",
        description="evalscope processes sharing each level's parallel (docs/workers.md); "
        "auto: 1 on small clients and below 64 concurrent requests",
    )

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_WORKERS
        ):
            return value
        raise ValueError(f"expected 'auto' or a count from 1 to {MAX_WORKERS}")

    @field_validator("calibrate", mode="before")
    @classmethod
    def _calibrate(cls, value: Any) -> Any:
        # YAML reads a bare `on` as true and `off` as false.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("warmup_requests", mode="before")
    @classmethod
    def _warmup(cls, value: Any) -> Any:
        # Checked here, not by the union: its errors name the union's members, not the field.
        if value == "parallel" or (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NUMBER
        ):
            return value
        raise ValueError(f"expected 'parallel' or a count from 0 to {MAX_NUMBER}")

    @field_validator("extra_body")
    @classmethod
    def _json_body(cls, value: dict[str, Any]) -> dict[str, Any]:
        return json_only(value)

    api_key: str | None = Field(
        None,
        min_length=1,
        description="sent as `Authorization: Bearer …`; write ${env:NAME}, not the key itself",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers on every request (${env:NAME} ok)"
    )

    @model_validator(mode="after")
    def _auth(self) -> LoadSpec:
        # evalscope lets --api-key replace an Authorization header, our own requests the
        # other way round: with only one of them there is nothing to disagree about.
        names = [k for k in self.headers if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", k)]
        if names:
            raise ValueError(f"headers: {names[0][:40]!r} is not an HTTP header name")
        if self.api_key is not None and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give api_key or an Authorization header, not both")
        if any(c in v for v in self.headers.values() for c in "\r\n\0"):
            raise ValueError("headers: a value holds a line break or NUL")
        return self

    @model_validator(mode="after")
    def _ranges(self) -> LoadSpec:
        if self.min_tokens > self.max_tokens:
            raise ValueError(
                f"min_tokens ({self.min_tokens}) must not exceed max_tokens ({self.max_tokens})"
            )
        if self.min_prompt_length > self.max_prompt_length:
            raise ValueError(
                f"min_prompt_length ({self.min_prompt_length}) must not exceed "
                f"max_prompt_length ({self.max_prompt_length})"
            )
        return self

    def warmup_for(self, parallel: int) -> int:
        if self.warmup == "off":
            return 0
        return parallel if self.warmup_requests == "parallel" else self.warmup_requests

    def warmup_tokens_for(self, parallel: int) -> int | None:
        """A cheap warm-up request's output tokens (None: no cheap warm-up at this level):
        a quarter of `max_tokens`, at least `CHEAP_WARMUP_MIN_TOKENS`. It must outlast the
        warm-up wave's own prefills, or the first measured requests queue behind them
        (docs/scenarios.md; the level's "warm-up" check tests it)."""
        if self.warmup != "cheap" or not self.warmup_for(parallel):
            return None
        return min(self.max_tokens, max(CHEAP_WARMUP_MIN_TOKENS, self.max_tokens // 4))

    def workers_for(self, parallel: int, number: int, cores: int) -> int:
        """How many evalscope processes share a level: `workers`, or with auto one per
        64 concurrent requests up to half the client's cores (1 on a 2- or 3-core client);
        never more than the level has requests in parallel or in all."""
        wanted = self.workers if self.workers != "auto" else min(cores // 2, parallel // 64)
        return max(1, min(wanted, parallel, number))

    @property
    def fixed_output_tokens(self) -> int | None:
        """The exact output length every request must produce, when the load fixes one."""
        if self.min_tokens == self.max_tokens and self.ignore_eos:
            return self.max_tokens
        return None


class SweepSpec(Strict):
    parallel: list[Annotated[int, Field(gt=0, le=MAX_PARALLEL)]] = Field(
        min_length=1, max_length=1000
    )
    number: list[Annotated[int, Field(gt=0, le=MAX_NUMBER)]] | None = None
    requests_per_level: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]{0,3}[xs]$",
        description="e.g. 4x: 4 x parallel (at most 9999x); with rate also 60s: rate x 60 s",
    )
    rate: list[Annotated[float, Field(gt=0, le=MAX_RATE)]] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="a rate sweep: Poisson arrivals at each rate (req/s), parallel its "
        "concurrency cap (one value for every rate, or one per rate)",
    )
    cooldown_s: NonNegativeFloat = Field(
        0.0, le=MAX_TIMEOUT_S, description="idle time between levels"
    )
    reset_caches: bool = Field(
        True, description="POST /reset_prefix_cache and /reset_mm_cache between levels"
    )
    repeats: PositiveInt = Field(
        1, le=MAX_REPEATS, description="measure each level this many times"
    )
    interleave: bool = Field(
        False, description="with repeats: sweep all levels once per round (drift spreads evenly)"
    )
    stop: StopSpec | None = Field(
        None, description="measure each level in rounds until precise (scenario_stop.py)"
    )

    @model_validator(mode="after")
    def _counts(self) -> SweepSpec:
        if (self.number is None) == (self.requests_per_level is None):
            raise ValueError("give exactly one of number and requests_per_level")
        size = len(self.rate) if self.rate is not None else len(self.parallel)
        if self.rate is not None and len(self.parallel) not in (1, size):
            raise ValueError(
                f"parallel has {len(self.parallel)} entries but rate has {size}: give one "
                "concurrency cap for every rate, or one per rate"
            )
        if self.number is not None and len(self.number) != size:
            what = "rate" if self.rate is not None else "parallel"
            raise ValueError(
                f"number has {len(self.number)} entries but {what} has "
                f"{size}; they are paired level by level"
            )
        if self.rate is None and (self.requests_per_level or "").endswith("s"):
            raise ValueError("requests_per_level in seconds (e.g. 60s) needs a rate sweep")
        return self

    def rate_at(self, index: int) -> float | None:
        """Level `index`'s (1-based) arrival rate in a rate sweep; None in a concurrency sweep."""
        return self.rate[index - 1] if self.rate is not None else None

    def runs(self) -> list[SweepLevel]:
        """The levels and their repeats in the order they are measured."""
        levels = list(enumerate(self.levels(), 1))
        rounds = range(1, self.repeats + 1)
        if self.interleave:
            return [SweepLevel(i, r, p, n) for r in rounds for i, (p, n) in levels]
        return [SweepLevel(i, r, p, n) for i, (p, n) in levels for r in rounds]

    def levels(self) -> list[tuple[int, int]]:
        """(parallel, number) per level; in a rate sweep parallel is the level's cap."""
        rates = self.rate or [0.0] * len(self.parallel)
        caps = self.parallel * len(rates) if len(self.parallel) == 1 else self.parallel
        if self.number is not None:
            return list(zip(caps, self.number, strict=True))
        return [(p, self.count_for(p, r)) for p, r in zip(caps, rates, strict=True)]

    def count_for(self, parallel: int, rate: float | None = None) -> int:
        """requests_per_level for one level: Kx is K x parallel, Ns is rate x N seconds."""
        rule = self.requests_per_level or "1x"
        factor = int(rule[:-1])
        if rule.endswith("s"):
            return max(1, min(MAX_NUMBER, math.ceil((rate or 0.0) * factor)))
        return factor * parallel
