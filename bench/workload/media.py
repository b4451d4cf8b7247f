"""Pictures a workload sends: read a local image once, cut a seeded variant of it at a
target size, encode it, and keep the encoded bytes by content hash in the cache
($VLM_BENCH_CACHE/workload/), so a level's requests are built off the hot path and a second
run of the same workload encodes nothing.

Every variant is a distinct picture (a seeded crop window and one seeded pixel), so a
multimodal cache can hit only where the workload repeats an image on purpose (its reuse
ratio): five photos in the box still make thousands of distinct requests. A video
(`clip`) is a seeded pan across one photo: its frames differ one from the next, as a
camera's do, and are sent as JPEG frames in one `video/jpeg` data URL.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, UnidentifiedImageError

from bench.errors import UserError
from bench.tools.tokenizer import cache_root

# Largest image file read (a photo of 100 MP is ~30 MB as JPEG).
MAX_IMAGE_BYTES = 64 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
JPEG_QUALITY = 90
# Decompression-bomb guard: 16,384 x 16,384, the largest side a scenario allows, squared.
Image.MAX_IMAGE_PIXELS = 16_384 * 16_384


@dataclass(frozen=True)
class Picture:
    """One encoded image as sent: its size, bytes on the wire (before base64), format."""

    width: int
    height: int
    data: bytes
    mime: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode()


@dataclass(frozen=True)
class Clip:
    """One encoded video as sent: its frame size and its JPEG frames, in order."""

    width: int
    height: int
    frames: tuple[bytes, ...]

    @property
    def data(self) -> bytes:
        """Its bytes before base64: the frames' JPEGs, one after the other."""
        return b"".join(self.frames)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data_url().encode()).hexdigest()

    def data_url(self) -> str:
        """`data:video/jpeg;base64,<frame 1>,<frame 2>,...`: the form vLLM's VideoMediaIO
        splits on commas, decoding each part as one JPEG frame (no video codec needed)."""
        return "data:video/jpeg;base64," + ",".join(
            base64.b64encode(frame).decode() for frame in self.frames
        )


def read_bytes(path: Path, what: str) -> bytes:
    """A regular file's bytes, bounded; UserError naming `what` and the path otherwise."""
    try:
        if not path.is_file():
            raise UserError(f"{what} {path}: not a regular file")
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise UserError(f"{what} {path}: larger than {MAX_IMAGE_BYTES >> 20} MiB")
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read ({exc.strerror or exc})") from None


def decode(data: bytes, where: str) -> Image.Image:
    """The RGB image in `data`; UserError naming `where` when it is not a readable image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"{where}: not a readable image ({exc})") from None
    return image.convert("RGB")


@lru_cache(maxsize=64)
def _source(data: bytes) -> Image.Image:
    return decode(data, "image")


def size_of(data: bytes) -> tuple[int, int]:
    """(width, height) of the image in `data`."""
    return _source(data).size


def drawn(width: int, height: int, seed: int) -> Picture:
    """A seeded picture of a size a trace names (shapes on a coloured ground), as JPEG."""
    key = hashlib.sha256(f"drawn|{width}x{height}|{seed}|q{JPEG_QUALITY}".encode()).hexdigest()
    cached = _cache_dir() / f"{key}.jpg"
    if cached.is_file():
        return Picture(width, height, cached.read_bytes(), "image/jpeg")
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), _colour(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 8)):
        x1, x2 = sorted(rng.randrange(width) for _ in range(2))
        y1, y2 = sorted(rng.randrange(height) for _ in range(2))
        draw.rectangle([x1, y1, x2, y2], fill=_colour(rng))
    picture = encode(image, "JPEG")
    _store(cached, picture.data)
    return picture


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def original(data: bytes, where: str) -> Picture:
    """The image as the source has it (a data URL's or a file's own bytes and format)."""
    image = decode(data, where)
    fmt = (Image.open(io.BytesIO(data)).format or "PNG").lower()
    mime = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(fmt)
    if mime is None:  # any other format is sent as PNG, which every server reads
        return encode(image)
    return Picture(image.width, image.height, data, mime)


def variant(data: bytes, width: int, height: int, seed: int) -> Picture:
    """A distinct `width` x `height` picture cut from the image in `data`: a seeded crop
    window of the target's aspect ratio, resized, with one seeded pixel changed; cached by
    the hash of (source, size, seed)."""
    key = hashlib.sha256(data + f"|{width}x{height}|{seed}|q{JPEG_QUALITY}".encode()).hexdigest()
    cached = _cache_dir() / f"{key}.jpg"
    if cached.is_file():
        return Picture(width, height, cached.read_bytes(), "image/jpeg")
    rng = random.Random(seed)
    window = _crop(_source(data), width / height, rng)
    image = window.resize((width, height), Image.Resampling.BICUBIC)
    x, y = rng.randrange(width), rng.randrange(height)
    image.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    picture = encode(image, "JPEG")
    _store(cached, picture.data)
    return picture


def clip(data: bytes, width: int, height: int, frames: int, seed: int) -> Clip:
    """`frames` frames of `width` x `height` panned across the image in `data`: a window of
    the frame's aspect ratio covering 60-80 % of the photo's limiting side moves in a
    straight line between two seeded places, so consecutive frames differ and a rerun
    gives the same bytes; cached by the hash of (source, size, frames, seed)."""
    key = f"|clip|{width}x{height}|{frames}|{seed}|q{JPEG_QUALITY}".encode()
    cached = _cache_dir() / f"{hashlib.sha256(data + key).hexdigest()}.vjpeg"
    if cached.is_file():
        text = cached.read_bytes().decode()
        return Clip(width, height, tuple(base64.b64decode(p) for p in text.split(",")))
    rng = random.Random(seed)
    source = _source(data)
    w, h = source.size
    scale = rng.uniform(0.6, 0.8)
    cw, ch = _window(w, h, width / height, scale)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    x1, y1 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = []
    for index in range(frames):
        t = index / (frames - 1) if frames > 1 else 0.0
        x, y = round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0))
        frame = source.crop((x, y, x + cw, y + ch)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        out.append(encode(frame, "JPEG").data)
    result = Clip(width, height, tuple(out))
    _store(cached, ",".join(base64.b64encode(f).decode() for f in out).encode())
    return result


def _window(w: int, h: int, aspect: float, scale: float) -> tuple[int, int]:
    """A crop window of `aspect` (width / height), `scale` of the image's limiting side."""
    if w / h > aspect:
        ch = max(1, round(h * scale))
        return max(1, min(w, round(ch * aspect))), ch
    cw = max(1, round(w * scale))
    return cw, max(1, min(h, round(cw / aspect)))


def encode(image: Image.Image, fmt: str = "PNG") -> Picture:
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buf, format=fmt)
    return Picture(image.width, image.height, buf.getvalue(), f"image/{fmt.lower()}")


def _crop(image: Image.Image, aspect: float, rng: random.Random) -> Image.Image:
    """A window of `aspect` (width / height) covering 85-100 % of the image's limiting side,
    at a seeded place."""
    w, h = image.size
    if w / h > aspect:  # too wide: full height at most
        ch = max(1, round(h * rng.uniform(0.85, 1.0)))
        cw = max(1, min(w, round(ch * aspect)))
    else:
        cw = max(1, round(w * rng.uniform(0.85, 1.0)))
        ch = max(1, min(h, round(cw / aspect)))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return image.crop((x, y, x + cw, y + ch))


def _cache_dir() -> Path:
    return cache_root() / "workload"


def _store(path: Path, data: bytes) -> None:
    """Write atomically (a concurrent reader sees the whole file or none); a cache that
    cannot be written only costs the next run an encode."""
    tmp = path.with_suffix(f".{random.getrandbits(32):08x}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
