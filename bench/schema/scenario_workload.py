"""The scenario's `workload:` section: what vlm-bench itself sends instead of evalscope's
`random_vl` (docs/workloads.md). Absent, a scenario sends evalscope's random pictures as it
always has; present, every request of a level is built from a local source and a shape
before the level starts (bench/workload/).

A source is one of: a folder or glob of images, a JSONL file of OpenAI chat requests, a
dataset saved locally (Parquet, or Hugging Face `datasets` on disk), or a trace (JSONL with
arrival times) replayed at its own timing. The shape says which sizes the images are
resized to, how many go in each request, how often an image is sent again (the reuse
ratio, hence the multimodal-cache hit rate to expect), and the text around them. With
`video:`, an images source sends one video a request instead of pictures: `frames` JPEG
frames of one size, panned across one photo. No I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from bench.imaging import FACTOR, VLLM_VIDEO_FRAMES
from bench.schema.scenario_base import MAX_IMAGE_SIDE, MAX_IMAGES, MAX_TOKENS, Strict

# Longest text field of a workload (a prefix, a prompt): generous, but bounded.
MAX_TEXT = 100_000
# Above this, every image would be a repeat and the level would measure the cache alone.
MAX_REUSE = 0.95


class SizeBucket(Strict):
    """One target size of the image size distribution, drawn with its weight."""

    width: PositiveInt = Field(le=MAX_IMAGE_SIDE)
    height: PositiveInt = Field(le=MAX_IMAGE_SIDE)
    weight: PositiveFloat = Field(1.0, le=1e6)


# A video frame's longest side: a 4K frame (32 of them are ~50 MB of JPEG a request). With
# the shortest, 28, it keeps the aspect ratio within the 200 Qwen2.5-VL allows.
MAX_FRAME_SIDE = 4096


class VideoShape(Strict):
    """One video a request: `frames` frames of `width` x `height`, sent as a `video/jpeg`
    data URL (each frame a JPEG; vLLM decodes each comma-separated part as one frame)."""

    frames: PositiveInt = Field(
        le=VLLM_VIDEO_FRAMES,
        description=f"frames a video (vLLM keeps the first {VLLM_VIDEO_FRAMES} of a "
        "video/jpeg URL and drops the rest)",
    )
    width: PositiveInt = Field(ge=FACTOR, le=MAX_FRAME_SIDE)
    height: PositiveInt = Field(ge=FACTOR, le=MAX_FRAME_SIDE)
    min_pixels: PositiveInt | None = Field(
        None,
        le=MAX_IMAGE_SIDE**2,
        description="the server's video pixel limits per frame (default: the model folder's "
        "video_preprocessor_config.json, else the image limits)",
    )
    max_pixels: PositiveInt | None = Field(None, le=MAX_IMAGE_SIDE**2)

    @model_validator(mode="after")
    def _shape(self) -> VideoShape:
        # No aspect-ratio check: sides of 28 to 4,096 stay below Qwen2.5-VL's 200.
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(
                f"min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})"
            )
        return self


class CountRange(Strict):
    """Images per request drawn uniformly from min to max (both included)."""

    min: PositiveInt = Field(le=MAX_IMAGES)
    max: PositiveInt = Field(le=MAX_IMAGES)

    @model_validator(mode="after")
    def _ordered(self) -> CountRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class CountWeights(Strict):
    """Images per request drawn from `{count: weight}`."""

    weights: dict[int, PositiveFloat] = Field(min_length=1, max_length=MAX_IMAGES)

    @field_validator("weights", mode="before")
    @classmethod
    def _int_keys(cls, value: object) -> object:
        # YAML gives `{1: 0.5}` int keys, JSON gives "1": both mean the count 1.
        if isinstance(value, dict):
            return {_count_key(k): v for k, v in value.items()}
        return value

    @field_validator("weights")
    @classmethod
    def _counts(cls, value: dict[int, float]) -> dict[int, float]:
        for key, weight in value.items():
            if not 1 <= key <= MAX_IMAGES:
                raise ValueError(f"count {key}: expected an integer from 1 to {MAX_IMAGES}")
            if weight > 1e6:
                raise ValueError(f"weight of {key}: at most 1e6")
        return value


def _count_key(key: object) -> object:
    if isinstance(key, str) and key.isdigit() and len(key) <= 6:
        return int(key)
    return key


class ImagesSource(Strict):
    """A folder (every JPEG, PNG or WebP in it) or a glob of local images."""

    kind: Literal["images"]
    path: str = Field(min_length=1, max_length=4096)


class RequestsSource(Strict):
    """A JSONL file of OpenAI chat requests (one body per line): text plus images as file
    paths (relative to the file), data URLs or bare base64."""

    kind: Literal["requests"]
    path: str = Field(min_length=1, max_length=4096)


class DatasetSource(Strict):
    """A dataset saved locally: a Parquet file, or a Hugging Face `datasets` folder
    (`save_to_disk`), with an image column and a text column."""

    kind: Literal["dataset"]
    path: str = Field(min_length=1, max_length=4096)
    image_column: str = Field("image", min_length=1, max_length=200)
    text_column: str | None = Field("text", min_length=1, max_length=200)


class TraceSource(Strict):
    """A trace: JSONL lines with `timestamp` (seconds, or ISO 8601), `output_tokens`, and
    either `prompt` (text) or `prompt_tokens`, and `images` (paths or {width, height});
    replayed open-loop at its own timing, stretched by `time_scale` (2 = half as fast)."""

    kind: Literal["trace"]
    path: str = Field(min_length=1, max_length=4096)
    time_scale: PositiveFloat = Field(1.0, le=1e6)


Source = Annotated[
    ImagesSource | RequestsSource | DatasetSource | TraceSource, Field(discriminator="kind")
]


# Fields added to the section after runs were stored, with the default that means "not
# used": left out of a dumped section at that default (`without_later_defaults`), so the
# fingerprint, the scenario hash and run.json of a workload that does not use them stay
# as they were.
LATER_FIELDS: dict[str, object] = {"video": None}


def without_later_defaults(section: dict[str, Any]) -> dict[str, Any]:
    """A dumped `workload:` section without the LATER_FIELDS that hold their default."""
    for key, default in LATER_FIELDS.items():
        if key in section and section[key] == default:
            section.pop(key)
    return section


class WorkloadSpec(Strict):
    source: Source
    sizes: list[SizeBucket] = Field(
        default_factory=list,
        max_length=1000,
        description="resize each image to one of these (weighted); empty: as the source has it",
    )
    images_per_request: PositiveInt | CountRange | CountWeights = Field(
        1, description="a count, {min, max}, or {weights: {count: weight}}"
    )
    reuse: float = Field(
        0.0,
        ge=0.0,
        le=MAX_REUSE,
        description="share of the images sent that repeat one sent earlier in the level "
        "(the multimodal-cache hit rate to expect)",
    )
    prefix: str = Field("", max_length=MAX_TEXT, description="text shared by every request")
    prompt: str = Field(
        "ovd",
        min_length=1,
        max_length=MAX_TEXT,
        description="'ovd': the reference's detection prompt asking for objects of `objects`; "
        "anything else: the request's text as written",
    )
    objects: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=lambda: ["杯子", "人", "猫", "火箭", "汽车", "椅子"],
        min_length=1,
        max_length=1000,
        description="the objects an 'ovd' prompt asks about, drawn per request",
    )
    min_pixels: PositiveInt | None = Field(
        None,
        le=MAX_IMAGE_SIDE**2,
        description="the server's image pixel limits, for the image tokens it should see "
        "(default: the model folder's preprocessor_config.json, else the reference's)",
    )
    max_pixels: PositiveInt | None = Field(None, le=MAX_IMAGE_SIDE**2)
    max_prompt_tokens: PositiveInt = Field(
        32_768, le=MAX_TOKENS, description="a trace's prompt_tokens above this are refused"
    )
    video: VideoShape | None = Field(
        None,
        description="one video a request instead of pictures (an images source): "
        "{frames, width, height}; `reuse` then repeats whole videos",
    )

    @model_validator(mode="after")
    def _pixels(self) -> WorkloadSpec:
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(
                f"min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})"
            )
        return self

    @model_validator(mode="after")
    def _video(self) -> WorkloadSpec:
        """A video request carries one video and no pictures: the settings that shape
        pictures have nothing to shape, so setting them is a mistake, not a default."""
        if self.video is None:
            return self
        if self.source.kind != "images":
            raise ValueError(
                f"video: needs source kind 'images' (frames are cut from its photos), "
                f"not {self.source.kind!r}"
            )
        # By value, not by `model_fields_set`: a dumped spec (run.json) sets every field.
        shaped = {"sizes": self.sizes != [], "images_per_request": self.images_per_request != 1}
        for name, given in shaped.items():
            if given:
                raise ValueError(
                    f"{name}: not used with video (each request carries one video of "
                    "video.frames frames at video.width x video.height, and no pictures)"
                )
        return self
