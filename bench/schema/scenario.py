"""Scenario models: the typed description of a sweep, and its identity.

A typo (`paralell:`) or an impossible value fails loudly with the dotted field and what is
allowed; nothing silently falls back to a default. `scenario_hash` identifies the resolved
scenario in every result. Reading YAML (`extends:`, `--set` overrides) is
bench/config/scenario.py's job; this module does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench.errors import describe_validation_error
from bench.ovd import DEFAULT_DESCRIBE, DEFAULT_EVENT
from bench.redact import redact_scenario
from bench.schema.metrics import BY_KEY

GENERATED_TOKENIZER = "generated"  # model.tokenizer_path value: the project's own tokenizer


# Upper bounds far above any real sweep: they catch typos (an extra 000) and hostile values
# before evalscope or the server chokes on them hours into a run.
MAX_TOKENS = 1_000_000  # prompt and output lengths, in tokens
MAX_IMAGE_SIDE = 16_384  # pixels
MAX_IMAGES = 1_000  # per request
MAX_PARALLEL = 100_000
MAX_NUMBER = 10_000_000  # requests in one level (also warm-ups)
MAX_REPEATS = 1_000
MAX_SEED = 2**31 - 1  # leaves room for the per-level/-repeat offsets under numpy's 2**32
MAX_TIMEOUT_S = 7 * 86_400.0  # a week; every timing field is finite and at most this
MAX_NAME = 100  # scenario names become folder names
PROFILES = "profiles"  # validation-context key: the simulator's built-in profile names


def _json_only(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form mappings go to evalscope and vLLM as JSON: refuse what JSON cannot say."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON: {str(exc).splitlines()[0]}") from None
    if any(not isinstance(k, str) for k in _keys(value)):
        raise ValueError("not JSON: mapping keys must be strings")
    return value


def _keys(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


class Strict(BaseModel):
    # strict: YAML already gives typed values, so `true` as a concurrency or "8" as a port is
    # a mistake, not something to coerce; NaN and infinities are never a sensible setting.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ModelSpec(Strict):
    served_name: str = Field(min_length=1, description="the name clients send as `model`")
    path: str | None = Field(None, description="weights folder, as the server sees it")
    tokenizer_path: str | None = Field(
        None, description=f"tokenizer folder for evalscope ('{GENERATED_TOKENIZER}' = offline one)"
    )


class VllmServe(Strict):
    """`vllm serve MODEL --flag value …`, flags in the order given."""

    executable: list[str] = Field(default_factory=lambda: ["vllm", "serve"], min_length=1)
    model: str = Field(min_length=1)
    args: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def argv(self) -> list[str]:
        out = [*self.executable, self.model]
        for flag, value in self.args.items():
            name = flag if flag.startswith("-") else f"--{flag}"
            if value is True or value is None:
                out.append(name)
            elif value is not False:
                out += [name, str(value)]
        return out


class _ServerBase(Strict):
    env: dict[str, str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ready_timeout_s: PositiveFloat = Field(600.0, le=MAX_TIMEOUT_S)
    warmup_requests: NonNegativeInt = Field(
        0,
        le=MAX_NUMBER,
        description="unmeasured requests (one image each) once the server is ready",
    )
    on_death: Literal["stop", "restart"] = Field(
        "stop", description="a server that dies mid-sweep: stop, or restart and retry the level"
    )


class SimServer(_ServerBase):
    kind: Literal["sim"]
    port: int = Field(0, ge=0, le=65535, description="0 = any free port")
    profile: str = Field("fast", description="built-in profile name, or a YAML file")
    time_scale: PositiveFloat | None = Field(None, le=1000.0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    args: list[str] = Field(default_factory=list, description="extra `vlm-bench sim` flags")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str, info: ValidationInfo) -> str:
        # The simulator would refuse it only after the run has started (exit 1). The names
        # come in the validation context (`PROFILES`) from bench/config/, which may import
        # the simulator; a stored run is not re-checked against today's profiles.
        names = (info.context or {}).get(PROFILES)
        if names is None:
            return value
        if Path(value).suffix:  # a file, as `vlm-bench sim --profile` reads it
            if not Path(value).is_file():
                raise ValueError(f"profile file {value} does not exist")
        elif value not in names:
            raise ValueError(f"unknown profile {value!r}; built-in: {', '.join(names)}")
        return value


class CommandServer(_ServerBase):
    kind: Literal["command"]
    argv: list[str] | None = Field(None, min_length=1)
    vllm: VllmServe | None = None

    @model_validator(mode="after")
    def _one_command(self) -> CommandServer:
        if (self.argv is None) == (self.vllm is None):
            raise ValueError("give exactly one of argv and vllm")
        return self

    def command(self) -> list[str]:
        return self.argv if self.argv is not None else self.vllm.argv()  # type: ignore[union-attr]


class DockerServer(CommandServer):
    kind: Literal["docker"]  # type: ignore[assignment]
    image: str = Field(min_length=1)
    devices: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list, description="host:container[:ro]")
    container_name: str | None = None
    shm_size: str | None = None
    docker_args: list[str] = Field(default_factory=list, description="more `docker run` flags")


class ExternalServer(_ServerBase):
    kind: Literal["external"]
    url: str = Field(pattern=r"^https?://[^/]+$", description="base URL, e.g. http://10.0.0.5:8000")
    on_death: Literal["stop"] = Field("stop", description="vlm-bench cannot restart it")

    @field_validator("url", mode="before")
    @classmethod
    def _no_userinfo(cls, value: Any) -> Any:
        # Credentials in a URL are printed and stored with it, and readiness probes fail on
        # them anyway; the message must not echo them.
        if isinstance(value, str) and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "credentials in the URL (user:password@) are refused: give the key as "
                "load.api_key or load.headers, e.g. api_key: ${env:OPENAI_API_KEY}"
            )
        return value


Server = Annotated[
    SimServer | CommandServer | DockerServer | ExternalServer, Field(discriminator="kind")
]


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
    request_timeout_s: PositiveInt = Field(600, le=int(MAX_TIMEOUT_S))
    level_timeout_s: PositiveFloat | None = Field(
        None,
        le=MAX_TIMEOUT_S,
        description="give up on a level after this long (default: from the request timeout)",
    )
    extra_body: dict[str, Any] = Field(default_factory=dict)

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
        return _json_only(value)

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
        return parallel if self.warmup_requests == "parallel" else self.warmup_requests

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
        None, pattern=r"^[1-9][0-9]{0,3}x$", description="e.g. 4x (at most 9999x)"
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

    @model_validator(mode="after")
    def _counts(self) -> SweepSpec:
        if (self.number is None) == (self.requests_per_level is None):
            raise ValueError("give exactly one of number and requests_per_level")
        if self.number is not None and len(self.number) != len(self.parallel):
            raise ValueError(
                f"number has {len(self.number)} entries but parallel has "
                f"{len(self.parallel)}; they are paired level by level"
            )
        return self

    def runs(self) -> list[tuple[int, int, int, int]]:
        """(index, repeat, parallel, number) in the order they are measured."""
        levels = list(enumerate(self.levels(), 1))
        rounds = range(1, self.repeats + 1)
        if self.interleave:
            return [(i, r, p, n) for r in rounds for i, (p, n) in levels]
        return [(i, r, p, n) for i, (p, n) in levels for r in rounds]

    def levels(self) -> list[tuple[int, int]]:
        if self.number is not None:
            return list(zip(self.parallel, self.number, strict=True))
        factor = int(self.requests_per_level[:-1])  # type: ignore[index]
        return [(p, factor * p) for p in self.parallel]


class CheckSpec(Strict):
    """The answer check before a sweep: the seed's OVD request (bench/ovd.py)."""

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
    """`vlm-bench offline`: the seed's in-process path (vLLM's LLM class), one batch."""

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
        return _json_only(value)


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
    """Thresholds of the per-level validity checks (bench/measure/validity.py)."""

    concurrency_tolerance: float = Field(
        0.10, gt=0, lt=1, description="in-flight requests at the server vs the level's parallel"
    )
    max_mm_cache_hit_rate: float = Field(0.0, ge=0, le=1, description="fresh images: no hits")
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


class SloSpec(Strict):
    ttft_p99_s: PositiveFloat | None = None
    tpot_p99_s: PositiveFloat | None = None


class Scenario(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=MAX_NAME)
    description: str = ""
    hardware: str = ""
    backend: str = ""
    model: ModelSpec
    server: Server
    load: LoadSpec = Field(default_factory=LoadSpec)
    sweep: SweepSpec
    slo: SloSpec = Field(default_factory=SloSpec)
    check: CheckSpec = Field(default_factory=CheckSpec)
    gate: GateSpec = Field(default_factory=GateSpec)
    offline: OfflineSpec = Field(default_factory=OfflineSpec)
    validity: ValiditySpec = Field(default_factory=ValiditySpec)
    output_dir: str = "reports"

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
}


def scenario_hash(scenario: Scenario) -> str:
    """Of the scenario as written to disk: secrets redacted (they must not be derivable
    from the hash, and a rotated key is the same benchmark), `${env:NAME}` kept as text."""
    data = redact_scenario(scenario.model_dump(mode="json"))
    for (section, key), default in LATER_FIELDS.items():
        if data[section].get(key, default) == default:
            data[section].pop(key, None)
    canonical = json.dumps(data, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def describe_error(source: Path, exc: ValidationError) -> str:
    return describe_validation_error(source, exc, Scenario)
