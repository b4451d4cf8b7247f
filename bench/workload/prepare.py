"""A level's requests prepared before it starts, as files the load generator reads.

`level_file` names the file deterministically (the workload's fingerprint, the data seed and
the request count, warm-up included), so `--dry-run` can show it without building it and a
second run of the same level reuses it; `ensure` builds it once (bench/workload/build.py)
and writes, beside it, what each request carries (`Sent`: its digest, images, pixels,
bytes, videos and frames, arrival time and the prompt tokens the model's resize rule
predicts), which the
level is judged against afterwards ("what the server saw", bench/analyze/seen.py).

Files live in `$VLM_BENCH_CACHE/workload/levels/`, written atomically; nothing of them
goes into the run folder but the per-level summary.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench import imaging
from bench.digest import request_digest
from bench.errors import UserError
from bench.schema.scenario import Scenario
from bench.schema.scenario_workload import WorkloadSpec
from bench.sim.openai import render_chat
from bench.tools.tokenizer import cache_root
from bench.workload.build import Prepared, build_level
from bench.workload.fingerprint import fingerprint

# Qwen2.5-VL's own preprocessor_config.json: 4 to 16,384 image tokens.
DEFAULT_PIXELS = (3136, 12_845_056)
PAD = "<|image_pad|>"


@dataclass(frozen=True)
class Sent:
    """One prepared request as the level's judge needs it."""

    sha: str  # bench.digest.request_digest of its body: joins the client's records
    images: int
    repeats: int  # of its images and videos, those an earlier request already sent
    pixels: int
    image_bytes: int
    body_bytes: int
    predicted_prompt_tokens: int | None  # None without a tokenizer
    arrival_s: float | None
    videos: int = 0
    frames: int = 0  # the videos' frames
    video_bytes: int = 0  # their JPEG frames, before base64


@dataclass(frozen=True)
class Meta:
    """What a prepared level file holds: its requests, in order (warm-up first)."""

    fingerprint: str
    seed: int
    pixels_rule: tuple[int, int, str]  # min, max, where they came from
    requests: list[Sent]
    video_pixels_rule: tuple[int, int, str] | None = None  # a video workload's, per frame

    def measured(self, warmup: int) -> list[Sent]:
        return self.requests[warmup:]

    def expected_hit_rate(self, warmup: int) -> float:
        """Of the measured requests' images and videos, the share a multimodal cache can
        answer."""
        sent = self.measured(warmup)
        items = sum(r.images + r.videos for r in sent)
        return sum(r.repeats for r in sent) / items if items else 0.0


@lru_cache(maxsize=32)
def _fingerprint(spec_json: str, base: str) -> str:
    return fingerprint(WorkloadSpec.model_validate_json(spec_json), Path(base))


def workload_fingerprint(spec: WorkloadSpec, base: Path | None = None) -> str:
    """The workload's fingerprint (bench/workload/fingerprint.py), once per process."""
    return _fingerprint(spec.model_dump_json(), str(base or Path.cwd()))


def level_file(spec: WorkloadSpec, seed: int, total: int) -> Path:
    """Where the level's requests (`total`, warm-up included, drawn with `seed`) are kept."""
    name = f"{workload_fingerprint(spec)}-s{seed}-n{total}.jsonl"
    return cache_root() / "workload" / "levels" / name


def meta_file(path: Path) -> Path:
    return path.with_suffix(".meta.json")


def ensure(scenario: Scenario, seed: int, total: int, tokenizer: str | None) -> Path:
    """The level's requests file, built now unless a previous run left it (with its
    metadata); UserError for a bad source, or a cache that cannot be written."""
    spec = scenario.workload
    if spec is None:
        raise ValueError("the scenario has no workload: section")
    path = level_file(spec, seed, total)
    if path.is_file() and meta_file(path).is_file():
        return path
    level = build_level(spec, Path.cwd(), seed, total, scenario.load.min_tokens)
    rule = pixel_rule(scenario)
    video_rule = video_pixel_rule(scenario) if spec.video is not None else None
    count = _token_counter(tokenizer)
    meta = Meta(
        workload_fingerprint(spec),
        seed,
        rule,
        _sent_all(level.requests, (rule, video_rule or rule), count),
        video_rule,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{random.getrandbits(32):08x}.tmp")
        level.write_jsonl(tmp, scenario.model.served_name)
        _write_json(meta_file(path), _meta_dict(meta))
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(
            f"{path.parent}: cannot write the prepared requests ({exc.strerror or exc}); "
            "set VLM_BENCH_CACHE to a writable folder"
        ) from None
    return path


def read_meta(path: Path) -> Meta:
    data = json.loads(meta_file(path).read_text(encoding="utf-8"))
    rule, video = data["pixels_rule"], data.get("video_pixels_rule")
    return Meta(
        data["fingerprint"],
        data["seed"],
        (rule[0], rule[1], rule[2]),
        [Sent(**r) for r in data["requests"]],
        (video[0], video[1], video[2]) if video else None,
    )


def pixel_rule(scenario: Scenario) -> tuple[int, int, str]:
    """The image pixel limits the server applies, and where they came from: the workload
    section, else the model folder's preprocessor_config.json, else Qwen2.5-VL's own."""
    spec = scenario.workload
    assert spec is not None
    low, high = DEFAULT_PIXELS
    where = "Qwen2.5-VL's preprocessor_config.json"
    folder = scenario.model.path or scenario.model.tokenizer_path
    config = Path(folder) / "preprocessor_config.json" if folder else None
    if config is not None and config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
            low = int(data.get("min_pixels", low))
            high = int(data.get("max_pixels", high))
            where = str(config)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
    if spec.min_pixels is not None or spec.max_pixels is not None:
        low, high = spec.min_pixels or low, spec.max_pixels or high
        where = "the scenario's workload section"
    return low, high, where


def video_pixel_rule(scenario: Scenario) -> tuple[int, int, str]:
    """A video frame's pixel limits, and where they came from: the workload's `video:`,
    else the model folder's video_preprocessor_config.json, else the image limits
    (transformers loads Qwen2.5-VL's video processor from preprocessor_config.json when
    the folder has no video config of its own, as Qwen2.5-VL's own folders have not)."""
    spec = scenario.workload
    assert spec is not None and spec.video is not None
    low, high, where = pixel_rule(scenario)
    folder = scenario.model.path or scenario.model.tokenizer_path
    config = Path(folder) / "video_preprocessor_config.json" if folder else None
    if config is not None and config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
            size = data.get("size") or {}
            low = int(data.get("min_pixels", size.get("shortest_edge", low)))
            high = int(data.get("max_pixels", size.get("longest_edge", high)))
            where = str(config)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
    if spec.video.min_pixels is not None or spec.video.max_pixels is not None:
        low, high = spec.video.min_pixels or low, spec.video.max_pixels or high
        where = "the scenario's workload.video"
    return low, high, where


def predicted_prompt_tokens(
    body: dict[str, Any],
    sizes: list[tuple[int, int]],
    rule: tuple[int, int, str],
    count: Any,
    clips: list[tuple[int, int, int]] | None = None,
    video_rule: tuple[int, int, str] | None = None,
) -> int:
    """The prompt tokens a Qwen2.5-VL server reports for `body`: its chat template's text
    (each image one `<|vision_start|><|image_pad|><|vision_end|>`, each video one
    `<|vision_start|><|video_pad|><|vision_end|>`) plus, per image, the image tokens the
    resize rule gives less the one pad already counted, and per video of `clips`
    (width, height, frames) its video tokens under `video_rule` (default: `rule`) less
    its one pad."""
    tokens = count(render_chat(body["messages"]))
    tokens += sum(imaging.image_tokens(w, h, rule[0], rule[1]) - 1 for w, h in sizes)
    low, high, _ = video_rule or rule
    return tokens + sum(imaging.video_tokens(w, h, n, low, high) - 1 for w, h, n in clips or ())


def _token_counter(tokenizer: str | None) -> Any:
    """A function counting a text's tokens with the scenario's tokenizer, or None."""
    if not tokenizer:
        return None
    path = Path(tokenizer) / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer  # the child loads it too; only a workload needs it here

    loaded = Tokenizer.from_file(str(path))
    return lambda text: len(loaded.encode(text, add_special_tokens=False).ids)


# The image and the video pixel limits.
_Rules = tuple[tuple[int, int, str], tuple[int, int, str]]


def _sent_all(requests: list[Prepared], rules: _Rules, count: Any) -> list[Sent]:
    seen: set[str] = set()
    out = []
    for request in requests:
        digests = request.digests
        out.append(_sent(request, sum(1 for d in digests if d in seen), rules, count))
        seen.update(digests)
    return out


def _sent(request: Prepared, repeats: int, rules: _Rules, count: Any) -> Sent:
    sizes = [(i.width, i.height) for i in request.images]
    clips = [(v.width, v.height, v.frames) for v in request.videos]
    predicted = None
    if count:
        predicted = predicted_prompt_tokens(request.body, sizes, rules[0], count, clips, rules[1])
    return Sent(
        sha=request_digest(request.body) or "",
        images=len(request.images),
        repeats=repeats,
        pixels=sum(w * h for w, h in sizes),
        image_bytes=sum(i.bytes for i in request.images),
        body_bytes=len(json.dumps(request.body, ensure_ascii=False).encode()),
        predicted_prompt_tokens=predicted,
        arrival_s=request.arrival_s,
        videos=len(request.videos),
        frames=sum(v.frames for v in request.videos),
        video_bytes=sum(v.bytes for v in request.videos),
    )


def _meta_dict(meta: Meta) -> dict[str, Any]:
    return {
        "fingerprint": meta.fingerprint,
        "seed": meta.seed,
        "pixels_rule": list(meta.pixels_rule),
        "requests": [asdict(r) for r in meta.requests],
        "video_pixels_rule": list(meta.video_pixels_rule) if meta.video_pixels_rule else None,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".{random.getrandbits(32):08x}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
