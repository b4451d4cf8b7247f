"""Every request of a level built before the level starts: its body (text and encoded
images), its arrival time (a trace), and what it carries (each image's size and bytes), so
the load generator only sends, and the level can later be checked against what the server
says it saw.

Reproducible: the same workload, seed and request count give the same requests byte for
byte (`random.Random(seed)` drives every choice; encoded pictures are cached by content).
The reuse ratio is exact, not expected: of the level's image slots after the first
request, round(reuse x slots) repeat an image sent by an earlier request, the rest are
distinct pictures, so the share of images a multimodal cache can answer is known
(`PreparedLevel.expected_hit_rate`). With `video:` each request carries one video (a
seeded pan across one photo, `frames` JPEG frames) in place of its pictures, and the reuse
ratio repeats whole videos: the multimodal cache counts a video as one item.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import ovd
from bench.schema.scenario_workload import (
    CountRange,
    CountWeights,
    ImagesSource,
    SizeBucket,
    TraceSource,
    WorkloadSpec,
)
from bench.workload import media, sources
from bench.workload.sources import Item, SizeOnly

# Words a trace's `prompt_tokens` is spelled with (about one token each in BPE vocabularies).
_WORDS = "the of and to in is was for on that with as by at from this be are it or an".split()


@dataclass(frozen=True)
class SentImage:
    """One image as sent: its pixel size, its bytes on the wire (before base64), its hash."""

    width: int
    height: int
    bytes: int
    digest: str


@dataclass(frozen=True)
class SentVideo:
    """One video as sent: its frame size, its frames, their JPEG bytes (before base64),
    its hash."""

    width: int
    height: int
    frames: int
    bytes: int
    digest: str


@dataclass
class Prepared:
    """One request, ready to send."""

    body: dict[str, Any]
    images: list[SentImage] = field(default_factory=list)
    arrival_s: float | None = None
    videos: list[SentVideo] = field(default_factory=list)

    @property
    def digests(self) -> list[str]:
        """Its multimodal items (images and videos): what a multimodal cache counts."""
        return [i.digest for i in self.images] + [v.digest for v in self.videos]


@dataclass
class PreparedLevel:
    requests: list[Prepared]

    def expected_hit_rate(self, first: int = 0) -> float:
        """Of the images of requests[first:], the share already sent by an earlier request
        of the level (warm-up included): what a large enough multimodal cache hits (a
        video is one item)."""
        seen: set[str] = set()
        hits = total = 0
        for index, request in enumerate(self.requests):
            digests = request.digests
            if index >= first:
                total += len(digests)
                hits += sum(1 for d in digests if d in seen)
            seen.update(digests)
        return hits / total if total else 0.0

    def describe(self) -> dict[str, Any]:
        """What the level sends, for the report's workload line and provenance: requests,
        images, pixels, bytes, the sizes and images-per-request seen, the repeats; for a
        video workload its videos, frames and frame sizes too."""
        images = [i for r in self.requests for i in r.images]
        sizes: dict[str, int] = {}
        for image in images:
            key = f"{image.width}x{image.height}"
            sizes[key] = sizes.get(key, 0) + 1
        per_request: dict[str, int] = {}
        for request in self.requests:
            key = str(len(request.images))
            per_request[key] = per_request.get(key, 0) + 1
        body_bytes = sum(
            len(json.dumps(r.body, ensure_ascii=False).encode()) for r in self.requests
        )
        n = max(1, len(self.requests))
        videos = [v for r in self.requests for v in r.videos]
        items = len(images) + len(videos)
        shown: dict[str, Any] = {}
        if videos:
            frame_sizes: dict[str, int] = {}
            for video in videos:
                key = f"{video.width}x{video.height}"
                frame_sizes[key] = frame_sizes.get(key, 0) + 1
            shown = {
                "videos": len(videos),
                "frames": sum(v.frames for v in videos),
                "frame_pixels": sum(v.width * v.height * v.frames for v in videos),
                "video_bytes": sum(v.bytes for v in videos),
                "frame_sizes": frame_sizes,
            }
        return {
            "requests": len(self.requests),
            "images": len(images),
            "pixels": sum(i.width * i.height for i in images),
            "image_bytes": sum(i.bytes for i in images),
            "bytes_per_request": round(body_bytes / n),
            "sizes": dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
            "images_per_request": dict(sorted(per_request.items(), key=lambda kv: int(kv[0]))),
            "repeated_images": round(self.expected_hit_rate() * items),
            **shown,
        }

    def write_jsonl(self, path: Path, model: str) -> None:
        """The requests as evalscope reads them: complete bodies, one a line (the lean
        sender's dataset, bench/load/evalscope_sender.py), or with a trace's arrival times
        (evalscope's `workload_trace`)."""
        with path.open("w", encoding="utf-8") as fh:
            for request in self.requests:
                if request.arrival_s is None:
                    line: dict[str, Any] = request.body
                else:
                    line = {
                        "body": {"model": model, **request.body},
                        "timestamp": request.arrival_s,
                    }
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def build_level(
    spec: WorkloadSpec, base: Path, seed: int, number: int, min_tokens: int = 0
) -> PreparedLevel:
    """`number` requests of the workload for a level seeded with `seed` (a trace: its first
    `number` lines, at most); paths in the spec are relative to `base`."""
    rng = random.Random(seed)
    if isinstance(spec.source, ImagesSource):
        return _from_pictures(spec, base, rng, number)
    items = sources.load_items(spec.source, base)
    if isinstance(spec.source, TraceSource):
        chosen = items[:number]
    else:  # a requests file or dataset: its items in a seeded order, cycled
        order = list(range(len(items)))
        rng.shuffle(order)
        chosen = [items[order[i % len(order)]] for i in range(number)]
    return PreparedLevel([_from_item(spec, item, rng, min_tokens) for item in chosen])


def _from_pictures(
    spec: WorkloadSpec, base: Path, rng: random.Random, number: int
) -> PreparedLevel:
    assert isinstance(spec.source, ImagesSource)
    files = sources.image_files(spec.source, base)
    photos = [media.read_bytes(p, "workload.source.path") for p in files]
    if spec.video is not None:
        return _from_photos_as_video(spec, photos, rng, number)
    counts = [_images_in(spec, rng) for _ in range(number)]
    repeats = _repeat_slots(counts, spec.reuse, rng)
    sent: list[media.Picture] = []
    requests = []
    slot = 0
    for count in counts:
        pictures = []
        for _ in range(count):
            again = [p for p in sent if p not in pictures] if slot in repeats else []
            if again:
                pictures.append(rng.choice(again))
            else:
                data = rng.choice(photos)
                width, height = _size(spec.sizes, rng) or media.size_of(data)
                pictures.append(media.variant(data, width, height, rng.getrandbits(32)))
            slot += 1
        sent.extend(pictures)
        requests.append(_request(spec, pictures, _prompt(spec, rng), None))
    return PreparedLevel(requests)


def _from_photos_as_video(
    spec: WorkloadSpec, photos: list[bytes], rng: random.Random, number: int
) -> PreparedLevel:
    """One video a request: a pan across a seeded photo, or (reuse) a video an earlier
    request sent."""
    video = spec.video
    assert video is not None
    repeats = _repeat_slots([1] * number, spec.reuse, rng)
    sent: list[media.Clip] = []
    requests = []
    for slot in range(number):
        if slot in repeats and sent:
            clip = rng.choice(sent)
        else:
            data = rng.choice(photos)
            clip = media.clip(data, video.width, video.height, video.frames, rng.getrandbits(32))
            sent.append(clip)
        requests.append(_request(spec, [], _prompt(spec, rng), None, clip))
    return PreparedLevel(requests)


def _repeat_slots(counts: list[int], reuse: float, rng: random.Random) -> set[int]:
    """Which image slots repeat an earlier request's image: round(reuse x eligible) of the
    slots after the first request's, drawn at random."""
    if reuse <= 0 or len(counts) < 2:
        return set()
    eligible = range(counts[0], sum(counts))
    return set(rng.sample(eligible, round(reuse * len(eligible))))


def _images_in(spec: WorkloadSpec, rng: random.Random) -> int:
    shape = spec.images_per_request
    if isinstance(shape, CountRange):
        return rng.randint(shape.min, shape.max)
    if isinstance(shape, CountWeights):
        counts = sorted(shape.weights)
        return rng.choices(counts, weights=[shape.weights[c] for c in counts])[0]
    return shape


def _size(sizes: list[SizeBucket], rng: random.Random) -> tuple[int, int] | None:
    if not sizes:
        return None
    bucket = rng.choices(sizes, weights=[s.weight for s in sizes])[0]
    return bucket.width, bucket.height


def _prompt(spec: WorkloadSpec, rng: random.Random) -> str:
    if spec.prompt != "ovd":
        return spec.prompt
    objects = rng.sample(spec.objects, rng.randint(1, min(3, len(spec.objects))))
    event = "、".join(objects)
    return ovd.prompt(describe=f"请找出图中的{event}，输出其bbox坐标。", event=event)


def _from_item(spec: WorkloadSpec, item: Item, rng: random.Random, min_tokens: int) -> Prepared:
    pictures = []
    for image in item.images:
        if isinstance(image, SizeOnly):
            pictures.append(media.drawn(image.width, image.height, rng.getrandbits(32)))
        elif spec.sizes:
            width, height = _size(spec.sizes, rng)  # type: ignore[misc]
            pictures.append(media.variant(image, width, height, rng.getrandbits(32)))
        else:
            pictures.append(media.original(image, "workload image"))
    text = item.text if item.text is not None else _words(item.prompt_tokens or 1, rng)
    prepared = _request(spec, pictures, text, item.arrival_s)
    if item.output_tokens is not None:
        prepared.body["max_tokens"] = item.output_tokens
        prepared.body["min_tokens"] = min(min_tokens, item.output_tokens)
    return prepared


def _words(count: int, rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def _request(
    spec: WorkloadSpec,
    pictures: list[media.Picture],
    text: str,
    arrival_s: float | None,
    clip: media.Clip | None = None,
) -> Prepared:
    """A chat body: the shared prefix first (so a prefix cache can hold it), then the
    images or the video, then the request's own text."""
    content: list[dict[str, Any]] = []
    if spec.prefix:
        content.append({"type": "text", "text": spec.prefix})
    for picture in pictures:
        content.append({"type": "image_url", "image_url": {"url": picture.data_url()}})
    videos = []
    if clip is not None:
        content.append({"type": "video_url", "video_url": {"url": clip.data_url()}})
        videos.append(
            SentVideo(clip.width, clip.height, len(clip.frames), len(clip.data), clip.digest)
        )
    content.append({"type": "text", "text": text})
    images = [SentImage(p.width, p.height, len(p.data), p.digest) for p in pictures]
    body = {"messages": [{"role": "user", "content": content}]}
    return Prepared(body, images, arrival_s, videos)
