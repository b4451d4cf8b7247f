"""Simulator profiles: the timing model's parameters and fault switches, loaded from YAML.

A profile describes one deployment (hardware + server + model) in *its own* seconds.
`time_scale` multiplies every duration at run time, so a profile calibrated against a
30-minute NPU sweep can be replayed in three minutes without editing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    model_validator,
)

from bench.dotted import set_dotted
from bench.errors import UserError, describe_validation_error
from bench.safeyaml import load_file

PROFILE_DIR = Path(__file__).parent / "profiles"


class Faults(BaseModel):
    """Deliberate misbehaviour, for reliability tests. Every switch is off at 0."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ready_delay_s: float = Field(0.0, ge=0, description="seconds before the port is bound")
    error_every: int = Field(0, ge=0, description="every k-th completion request fails")
    error_status: int = Field(500, description="HTTP status of those failures (500 or 429)")
    drop_every: int = Field(0, ge=0, description="every k-th stream is cut mid-way")
    drop_after_tokens: int = Field(1, ge=0, description="tokens sent before the cut")
    exit_after_requests: int = Field(0, ge=0, description="exit when request n+1 arrives")
    stall_every: int = Field(0, ge=0, description="the engine stalls on every k-th arrival")
    stall_s: float = Field(0.0, ge=0, description="length of each stall")
    truncate_output_tokens: int = Field(
        0, ge=0, description="stop after this many tokens even with ignore_eos (a broken server)"
    )

    @model_validator(mode="after")
    def _check(self) -> Faults:
        if self.error_status not in (429, 500, 502, 503):
            raise ValueError("error_status must be one of 429, 500, 502, 503")
        if self.stall_every and self.stall_s <= 0:
            raise ValueError("stall_every needs stall_s > 0")
        return self


class Profile(BaseModel):
    """Parameters of the continuous-batching timing model (see engine.py for the model)."""

    # An infinite or NaN duration would hang or poison the timing model.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = "custom"
    description: str = ""
    served_model_name: str = "sim-model"
    max_model_len: int = Field(16384, gt=0)
    # Engine step costs, seconds of the modelled hardware.
    decode_base_s: float = Field(gt=0, description="fixed cost of one engine step")
    decode_per_seq_s: float = Field(0.0, ge=0, description="added per running sequence")
    prefill_per_token_s: float = Field(0.0, ge=0, description="per prompt token prefilled")
    per_image_s: float = Field(0.0, ge=0, description="vision encoder cost per image")
    frontend_per_image_s: float = Field(
        0.0, ge=0, description="serial front-end preprocessing per image (API server CPU)"
    )
    frontend_per_running_s: float = Field(
        0.0, ge=0, description="added to each image's front-end time per running sequence"
    )
    cold_image_s: list[NonNegativeFloat] = Field(
        default_factory=list,
        description="extra cost of the first steps that encode images, in order (warm-up)",
    )
    jitter: float = Field(0.0, ge=0, lt=0.5, description="relative s.d. of each step's cost")
    # Scheduler limits, as vLLM's flags of the same names.
    max_num_seqs: int = Field(256, gt=0)
    max_num_batched_tokens: int = Field(8192, gt=0)
    kv_cache_tokens: int = Field(262144, gt=0, description="KV-cache capacity in tokens")
    # Image handling, as Qwen2.5-VL's processor.
    max_images_per_request: int = Field(8, ge=0)
    image_min_pixels: int = Field(56 * 56, gt=0)
    image_max_pixels: int = Field(28 * 28 * 16384, gt=0)
    # Video frames (a `video/jpeg` data URL), as vLLM 0.32 and Qwen2.5-VL's video processor:
    # the first `max_video_frames` kept, each resized within these limits (None: the image
    # limits, as a model folder without video_preprocessor_config.json has them).
    max_video_frames: int = Field(32, gt=0, le=10_000)
    video_min_pixels: int | None = Field(None, gt=0)
    video_max_pixels: int | None = Field(None, gt=0)
    # Output length when ignore_eos is not set: geometric with this mean (seeded).
    natural_output_mean: float = Field(256.0, gt=1)
    # Answers. Requests with the reference's OVD prompt get a well-formed OVD answer (boxes from
    # the image size) when set; otherwise every answer is filler words.
    ovd_answers: bool = False
    require_image: bool = Field(
        False, description="reject requests without an image, as xLLM's VLM backend does"
    )
    time_scale: float = Field(1.0, gt=0, description="multiplies every duration at run time")
    step_scale: float = Field(
        1.0, gt=0, le=100.0, description="multiplies each engine step's cost (not the front end)"
    )
    # Fixed timing (bench/sim/fixed.py): with both set, the engine is bypassed and every
    # request's first token leaves `fixed_ttft_s` after its arrival, each next one
    # `fixed_tpot_s` later, whatever the load: the client's own error is then the only error.
    fixed_ttft_s: PositiveFloat | None = Field(None, le=3600, description="constant TTFT")
    fixed_tpot_s: PositiveFloat | None = Field(None, le=3600, description="constant TPOT")
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        if self.image_min_pixels > self.image_max_pixels:
            raise ValueError("image_min_pixels must not exceed image_max_pixels")
        if self.video_pixels()[0] > self.video_pixels()[1]:
            raise ValueError("video_min_pixels must not exceed video_max_pixels")
        if (self.fixed_ttft_s is None) != (self.fixed_tpot_s is None):
            raise ValueError("give both fixed_ttft_s and fixed_tpot_s, or neither")
        return self

    def video_pixels(self) -> tuple[int, int]:
        """A video frame's (min, max) pixels: its own, else the image limits."""
        return (
            self.video_min_pixels or self.image_min_pixels,
            self.video_max_pixels or self.image_max_pixels,
        )


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str, overrides: dict[str, Any] | None = None) -> Profile:
    """Load a built-in profile by name, or a YAML file by path, then apply overrides.

    Overrides use dotted keys (`faults.error_every`) and are validated like the file.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise UserError(
                f"unknown profile {name_or_path!r}; built-in: {', '.join(builtin_profiles())}"
            )
    data = load_file(path, "profile")  # limits and checks of bench/safeyaml.py
    if not isinstance(data, dict):
        raise UserError(f"{path}: a profile must be a mapping of fields")
    for key, value in (overrides or {}).items():
        set_dotted(data, key, value)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error(path, exc, Profile)) from None
