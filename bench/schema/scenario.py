"""Scenario models: the typed description of a sweep, and its identity.

The `server:` section is in scenario_server.py, `load:` and `sweep:` in scenario_load.py,
their shared bounds and base model in scenario_base.py; the other sections and `Scenario`
itself are here.

A typo (`paralell:`) or an impossible value fails loudly with the dotted field and what is
allowed; nothing silently falls back to a default. `scenario_hash` identifies the resolved
scenario in every result. Reading YAML (`extends:`, `--set` overrides) is
bench/config/scenario.py's job; this module does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.errors import describe_validation_error
from bench.ovd import DEFAULT_DESCRIBE, DEFAULT_EVENT
from bench.redact import redact_scenario
from bench.schema.metrics import BY_KEY
from bench.schema.scenario_base import (
    GENERATED_TOKENIZER,
    MAX_NAME,
    MAX_NUMBER,
    MAX_TIMEOUT_S,
    MAX_TOKENS,
    Strict,
    json_only,
)
from bench.schema.scenario_load import LoadSpec, SweepSpec
from bench.schema.scenario_server import Server
from bench.schema.scenario_workload import TraceSource, WorkloadSpec, without_later_defaults


class ModelSpec(Strict):
    served_name: str = Field(min_length=1, description="the name clients send as `model`")
    path: str | None = Field(None, description="weights folder, as the server sees it")
    tokenizer_path: str | None = Field(
        None, description=f"tokenizer folder for evalscope ('{GENERATED_TOKENIZER}' = offline one)"
    )


class AnswerCheckSpec(Strict):
    """The answer check before a sweep: the reference's OVD request (bench/ovd.py)."""

    mode: Literal["warn", "required", "off"] = Field(
        "warn", description="warn: report and sweep anyway; required: stop if invalid"
    )
    describe: str = Field(DEFAULT_DESCRIBE, min_length=1, description="fills {describe}")
    event: str = Field(DEFAULT_EVENT, min_length=1, description="fills {event}")
    image: str | None = Field(None, description="PNG/JPEG file; default: a generated one")
    max_tokens: PositiveInt = Field(512, le=MAX_TOKENS)
    temperature: NonNegativeFloat = Field(0.0, le=2.0, description="OpenAI's range: 0 to 2")

    @field_validator("image")
    @classmethod
    def _image_exists(cls, value: str | None) -> str | None:
        # Found missing only after the server is up, otherwise.
        if value is not None and not Path(value).is_file():
            raise ValueError(f"{value}: no such file")
        return value

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `check: required`; YAML reads a bare `off` as false (and `on` as true).
        if isinstance(data, str | bool):
            data = {"mode": data}
        if isinstance(data, dict) and isinstance(data.get("mode"), bool):
            data = {**data, "mode": "warn" if data["mode"] else "off"}
        return data


class OfflineSpec(Strict):
    """`vlm-bench offline`: the reference's in-process path (vLLM's LLM class), one batch."""

    python: list[str] | None = Field(
        None, min_length=1, description="a Python with vLLM (argv prefix); default: this one"
    )
    model: str | None = Field(None, description="weights folder; default: model.path")
    engine_args: dict[str, Any] = Field(
        default_factory=lambda: {"max_model_len": 16384, "enforce_eager": True},
        description="keyword arguments of vllm.LLM",
    )
    prompts: PositiveInt | None = Field(
        None, le=MAX_NUMBER, description="batch size; default: largest level's"
    )
    max_tokens: PositiveInt | None = Field(
        None, le=MAX_TOKENS, description="default: load.max_tokens"
    )
    env: dict[str, str] | None = Field(None, description="default: server.env")
    timeout_s: PositiveFloat = Field(1800.0, le=MAX_TIMEOUT_S)

    @field_validator("engine_args")
    @classmethod
    def _json_args(cls, value: dict[str, Any]) -> dict[str, Any]:
        return json_only(value)


class ThresholdSpec(Strict):
    band: NonNegativeFloat = Field(description="relative change that counts (0.05 = 5 %)")
    floor: NonNegativeFloat = Field(0.0, description="absolute change that counts, metric's unit")


class GateSpec(Strict):
    """`vlm-bench gate` settings; a --thresholds file overrides them."""

    alpha: float = Field(0.05, gt=0, lt=1, description="significance level before correction")
    thresholds: dict[str, ThresholdSpec] = Field(
        default_factory=dict, description="per metric key (tpot_avg_s: {band: 0.05, floor: 0.0005})"
    )

    @model_validator(mode="after")
    def _known(self) -> GateSpec:
        gated = [k for k, m in BY_KEY.items() if m.band is not None]
        unknown = [k for k in self.thresholds if k not in BY_KEY]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; gated by default: {', '.join(gated)}")
        return self


class ValiditySpec(Strict):
    """Thresholds of the per-level validity checks (bench/analyze/validity.py)."""

    concurrency_tolerance: float = Field(
        0.10, gt=0, lt=1, description="in-flight requests at the server vs the level's parallel"
    )
    max_mm_cache_hit_rate: float = Field(0.0, ge=0, le=1, description="fresh images: no hits")
    mm_hit_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="a workload that repeats images: the hit rate may differ from the rate it "
        "implies by this much",
    )
    max_prefix_cache_hit_rate: float | None = Field(
        None, ge=0, le=1, description="default: (prefix_length + 32 template tokens) / prompt"
    )
    max_client_cpu: PositiveFloat = Field(0.9, description="load generator's mean CPU, in cores")
    max_start_delay_s: PositiveFloat = Field(
        0.05, description="P90 delay from a freed slot to the next request's start"
    )
    max_ttft_gap_s: NonNegativeFloat = Field(0.05, description="client minus server mean TTFT")
    max_ttft_gap_ratio: NonNegativeFloat = Field(
        0.25, description="flag the gap only above this share of the server's TTFT too"
    )
    scrape_interval_s: PositiveFloat = Field(1.0, description="/metrics sampling period")
    max_failed_ratio: float = Field(
        0.0,
        ge=0,
        le=1,
        description="failed requests a level may have before it is flagged and the run exits 1",
    )
    # Accelerator telemetry (docs/telemetry.md): where from, how often, and the idle check.
    telemetry: Literal["auto", "nvml", "nvidia-smi", "npu-smi", "off"] = Field(
        "auto", description="auto: NVML, nvidia-smi, then npu-smi (not for the simulator)"
    )
    telemetry_interval_s: float = Field(
        0.25, ge=0.05, le=10, description="accelerator sampling period (default 4 Hz)"
    )
    min_accelerator_util: float = Field(
        0.10, ge=0, le=1, description="flag a level whose accelerators' mean utilisation is lower"
    )
    max_client_error_ratio: NonNegativeFloat = Field(
        0.02, description="flag a level whose client error exceeds this share of its TTFT"
    )
    max_client_error_s: NonNegativeFloat = Field(
        0.002, description="... and this many seconds (the larger of the two is the tolerance)"
    )


class SloSpec(Strict):
    ttft_p99_s: PositiveFloat | None = None
    tpot_p99_s: PositiveFloat | None = None


class ClusterSpec(Strict):
    """Where the load workers run (docs/workers.md): `local` (this host, the default) or
    as Ray actors on the cluster's client nodes."""

    engine: Literal["local", "ray"] = "local"
    address: str = Field(
        "auto", min_length=1, description="ray.init address: auto, HOST:PORT or ray://HOST:PORT"
    )
    resources: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {"vlm_bench_client": 1.0},
        description="Ray resources each load worker needs (one per client node by default)",
    )


class Scenario(Strict):
    # `@`: `vlm-bench run --url` names a run MODEL@HOST-PORT (bench/cli/attach.py).
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$", max_length=MAX_NAME)
    description: str = ""
    hardware: str = ""
    backend: str = ""
    model: ModelSpec
    server: Server
    load: LoadSpec = Field(default_factory=LoadSpec)
    sweep: SweepSpec
    slo: SloSpec = Field(default_factory=SloSpec)
    check: AnswerCheckSpec = Field(default_factory=AnswerCheckSpec)
    gate: GateSpec = Field(default_factory=GateSpec)
    offline: OfflineSpec = Field(default_factory=OfflineSpec)
    validity: ValiditySpec = Field(default_factory=ValiditySpec)
    output_dir: str = "reports"
    cluster: ClusterSpec | None = None
    workload: WorkloadSpec | None = None

    @property
    def replays_trace(self) -> bool:
        """A trace workload: requests start on its own schedule, from one client process."""
        return self.workload is not None and isinstance(self.workload.source, TraceSource)

    @model_validator(mode="after")
    def _tokenizer(self) -> Scenario:
        if self.load.dataset in ("random_vl", "random") and not (
            self.model.tokenizer_path or self.model.path
        ):
            raise ValueError(
                f"model.tokenizer_path is required by dataset {self.load.dataset} "
                "(a local tokenizer folder, or 'generated')"
            )
        return self

    @model_validator(mode="after")
    def _rate_sweep(self) -> Scenario:
        if self.sweep.rate is not None and self.load.rate is not None:
            raise ValueError("give load.rate or sweep.rate, not both")
        if self.sweep.rate is not None and self.load.workers not in ("auto", 1):
            raise ValueError("a rate sweep runs one load worker per level (load.workers: auto)")
        if self.sweep.stop is not None and self.load.workers not in ("auto", 1):
            raise ValueError("sweep.stop runs each round in one load worker (load.workers: auto)")
        return self

    def rate_at(self, index: int) -> float | None:
        """Level `index`'s (1-based) arrival rate: the rate sweep's, or load.rate's."""
        return self.sweep.rate_at(index) or self.load.rate

    def generous_limit_s(self, index: int, parallel: int, number: int) -> float:
        """A time limit for `number` requests of level `index` no healthy server hits:
        every wave (warm-up included) may take the full request timeout; at a rate, the
        arrivals' own span (number / rate) comes on top."""
        waves = math.ceil(number / parallel) + 2
        rate = self.rate_at(index)
        arrivals = number / rate if rate else 0.0
        return waves * self.load.request_timeout_s + arrivals + 120

    @property
    def tokenizer_path(self) -> str:
        return self.model.tokenizer_path or self.model.path or GENERATED_TOKENIZER


# Fields added after the first release, left out of the hash while at their default, so
# every scenario that does not use them keeps the hash it had before they existed
# (resume, gate, history). A field added later goes here with its default.
LATER_FIELDS: dict[tuple[str, str], Any] = {
    ("load", "api_key"): None,
    ("load", "headers"): {},
    ("validity", "max_failed_ratio"): 0.0,
    ("validity", "telemetry"): "auto",
    ("validity", "telemetry_interval_s"): 0.25,
    ("validity", "min_accelerator_util"): 0.10,
    ("load", "calibrate"): "auto",
    ("validity", "max_client_error_ratio"): 0.02,
    ("validity", "max_client_error_s"): 0.002,
    ("load", "workers"): "auto",
    ("", "cluster"): None,  # top level
    ("sweep", "stop"): None,
    ("load", "warmup"): "full",
    ("sweep", "rate"): None,
    ("", "workload"): None,  # top level
    ("validity", "mm_hit_tolerance"): 0.05,
}


# Of LATER_FIELDS, those run.json also leaves out at their default (a reader fills the
# default back in), so runs written before them re-serialise byte for byte.
# (Those three were written before this list existed.)
UNWRITTEN_AT_DEFAULT = tuple(
    k
    for k in LATER_FIELDS
    if k not in {("load", "api_key"), ("load", "headers"), ("validity", "max_failed_ratio")}
)


def without_quiet_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A dumped scenario without the UNWRITTEN_AT_DEFAULT fields that hold their default."""
    for section, key in UNWRITTEN_AT_DEFAULT:
        where = data.get(section, {}) if section else data
        if isinstance(where, dict) and key in where and where[key] == LATER_FIELDS[(section, key)]:
            where.pop(key)
    if isinstance(data.get("workload"), dict):
        without_later_defaults(data["workload"])
    return data


def scenario_hash(scenario: Scenario, workload_fingerprint: str | None = None) -> str:
    """Of the scenario as written to disk: secrets redacted (they must not be derivable
    from the hash, and a rotated key is the same benchmark), `${env:NAME}` kept as text.
    A `workload:` scenario's hash takes its `workload_fingerprint` too (the sources'
    content, bench/workload/fingerprint.py: the settings alone would not see a re-encoded
    photo); a scenario without one hashes as it always has."""
    data = redact_scenario(scenario.model_dump(mode="json"))
    for (section, key), default in LATER_FIELDS.items():
        where = data[section] if section else data
        if where.get(key, default) == default:
            where.pop(key, None)
    if isinstance(data.get("workload"), dict):
        without_later_defaults(data["workload"])
        if workload_fingerprint:
            data["workload"]["fingerprint"] = workload_fingerprint
    canonical = json.dumps(data, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def describe_error(source: Path, exc: ValidationError) -> str:
    return describe_validation_error(source, exc, Scenario)
