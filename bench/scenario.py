"""Scenario files: typed models of a sweep, loaded from YAML with `extends:` and overrides.

A typo (`paralell:`) or an impossible value fails loudly with the file, the dotted field
and what is allowed; nothing silently falls back to a default. `extends: other.yaml`
(relative to the file) deep-merges this file over another. `scenario_hash` identifies
the resolved scenario in every result.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from bench.dotted import set_dotted
from bench.errors import UserError, describe_validation_error
from bench.ovd import DEFAULT_DESCRIBE, DEFAULT_EVENT

GENERATED_TOKENIZER = "generated"  # model.tokenizer_path value: the project's own tokenizer


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    ready_timeout_s: PositiveFloat = 600.0
    warmup_requests: NonNegativeInt = Field(
        0, description="unmeasured requests (one image each) once the server is ready"
    )
    on_death: Literal["stop", "restart"] = Field(
        "stop", description="a server that dies mid-sweep: stop, or restart and retry the level"
    )


class SimServer(_ServerBase):
    kind: Literal["sim"]
    port: int = Field(0, ge=0, le=65535, description="0 = any free port")
    profile: str = "fast"
    time_scale: PositiveFloat | None = None
    seed: int = 0
    args: list[str] = Field(default_factory=list, description="extra `vlm-bench sim` flags")


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


Server = Annotated[
    SimServer | CommandServer | DockerServer | ExternalServer, Field(discriminator="kind")
]


class LoadSpec(Strict):
    api: Literal["openai"] = "openai"
    endpoint: Literal["/v1/chat/completions", "/v1/completions"] = "/v1/chat/completions"
    dataset: Literal["random_vl", "random"] = "random_vl"
    image_width: PositiveInt = 640
    image_height: PositiveInt = 640
    image_format: Literal["RGB", "RGBA"] = "RGB"
    image_num: PositiveInt = 1
    min_prompt_length: PositiveInt = 100
    max_prompt_length: PositiveInt = 100
    prefix_length: NonNegativeInt = 0
    min_tokens: NonNegativeInt = 512
    max_tokens: PositiveInt = 512
    ignore_eos: bool = True
    stream: bool = True
    seed: int = 0
    vary_seed: bool = Field(
        True, description="each level and repeat draws its own data (seed + level); false: the same"
    )
    rate: PositiveFloat | None = Field(
        None, description="evalscope --rate: at most this many request starts per second"
    )
    warmup_requests: NonNegativeInt | Literal["parallel"] = Field(
        "parallel", description="unmeasured requests before each level; 'parallel' = one wave"
    )
    request_timeout_s: PositiveInt = 600
    level_timeout_s: PositiveFloat | None = Field(
        None, description="give up on a level after this long (default: from the request timeout)"
    )
    extra_body: dict[str, Any] = Field(default_factory=dict)

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
    parallel: list[PositiveInt] = Field(min_length=1)
    number: list[PositiveInt] | None = None
    requests_per_level: str | None = Field(None, pattern=r"^[1-9][0-9]*x$", description="e.g. 4x")
    cooldown_s: NonNegativeFloat = Field(0.0, description="idle time between levels")
    reset_caches: bool = Field(
        True, description="POST /reset_prefix_cache and /reset_mm_cache between levels"
    )
    repeats: PositiveInt = Field(1, description="measure each level this many times")
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
    max_tokens: PositiveInt = 512
    temperature: NonNegativeFloat = 0.0

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
    prompts: PositiveInt | None = Field(None, description="batch size; default: largest level's")
    max_tokens: PositiveInt | None = Field(None, description="default: load.max_tokens")
    env: dict[str, str] | None = Field(None, description="default: server.env")
    timeout_s: PositiveFloat = 1800.0


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
        from bench.metrics import BY_KEY

        gated = [k for k, m in BY_KEY.items() if m.band is not None]
        unknown = [k for k in self.thresholds if k not in BY_KEY]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; gated by default: {', '.join(gated)}")
        return self


class ValiditySpec(Strict):
    """Thresholds of the per-level validity checks (bench/validity.py)."""

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


class SloSpec(Strict):
    ttft_p99_s: PositiveFloat | None = None
    tpot_p99_s: PositiveFloat | None = None


class Scenario(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
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


def scenario_hash(scenario: Scenario) -> str:
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ---- loading ----------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(
            f"{path}: a scenario must be a mapping of fields, got {type(data).__name__}"
        )
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, everything else is replaced.

    A mapping whose `kind` differs from the parent's (a docker server becoming a
    command) replaces it whole: the fields of one kind mean nothing to another.
    """
    out = dict(base)
    for key, value in over.items():
        if (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and value.get("kind", out[key].get("kind")) == out[key].get("kind")
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise UserError(f"{chain[0]}: extends: circular ({cycle})")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"{path}: extends: must be a file name, got {parent!r}")
    return _merge(_resolve(path.parent / parent, (*chain, path)), data)


def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, resolve `extends:`, apply dotted overrides, validate."""
    path = Path(path)
    data = _resolve(path, ())
    for key, value in (overrides or {}).items():
        set_dotted(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_error(path, exc)) from None


def describe_error(source: Path, exc: ValidationError) -> str:
    return describe_validation_error(source, exc, Scenario)
