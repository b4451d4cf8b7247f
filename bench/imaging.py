"""Images as Qwen2.5-VL sees them, and the small images vlm-bench itself sends.

`smart_resize` is Qwen2.5-VL's rule (multiples of 28 pixels within [min, max] pixels):
a 640x640 image becomes 644x644, i.e. 23x23 = 529 image tokens. Boxes the model answers
are in the resized image's pixels. A video's frames are resized by the same rule (under
the video processor's limits) and merged in pairs of frames: `video_tokens`.
"""

from __future__ import annotations

import base64
import io
import math

from PIL import Image, ImageDraw

FACTOR = 28  # 14-pixel patches merged 2x2
# The pixel limits the reference passes to qwen_vl_utils (min 224x224, max 1280 28x28 blocks).
REFERENCE_MIN_PIXELS = 224 * 224
REFERENCE_MAX_PIXELS = 1280 * 28 * 28
# Frames merged into one temporal patch (Qwen2.5-VL's temporal_patch_size); an odd count is
# padded with its last frame.
TEMPORAL_PATCH = 2
# Frames vLLM keeps of a `video/jpeg` data URL: VideoMediaIO's default num_frames (vLLM 0.32,
# vllm/multimodal/media/video.py), raised only by `--media-io-kwargs '{"video":
# {"num_frames": N}}'`; the frames after it are dropped, not sampled.
VLLM_VIDEO_FRAMES = 32
# Where the generated check image draws its object, as fractions of width and height.
OBJECT_BOX = (0.30, 0.35, 0.60, 0.80)


def smart_resize(height: int, width: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(height, width) after Qwen2.5-VL's resize; ValueError for an impossible image."""
    if min(height, width) <= 0:
        raise ValueError("image has no pixels")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio {max(height, width) / min(height, width):.0f} exceeds 200")
    f = FACTOR
    h_bar = max(f, round(height / f) * f)
    w_bar = max(f, round(width / f) * f)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(f, math.floor(height / beta / f) * f)
        w_bar = max(f, math.floor(width / beta / f) * f)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / f) * f
        w_bar = math.ceil(width * beta / f) * f
    return h_bar, w_bar


def image_tokens(width: int, height: int, min_pixels: int, max_pixels: int) -> int:
    """Image tokens Qwen2.5-VL gives a `width` x `height` image: one per 28x28 block after
    `smart_resize` (640x640 -> 644x644 -> 529), without the vision start/end markers."""
    h, w = smart_resize(height, width, min_pixels, max_pixels)
    return (h // FACTOR) * (w // FACTOR)


def video_tokens(width: int, height: int, frames: int, min_pixels: int, max_pixels: int) -> int:
    """Video tokens Qwen2.5-VL gives `frames` frames of `width` x `height`, without the vision
    start/end markers: each frame resized by `smart_resize`, the frame count padded to an
    even one, each pair of frames one temporal patch of one token per 28x28 block, i.e.
    ceil(frames / 2) x (h / 28) x (w / 28) (8 frames of 448x336 -> 4 x 12 x 16 = 768).
    The rule of transformers' Qwen2VLVideoProcessor (frames not sampled: do_sample_frames
    is off, and vLLM 0.32 passes a `video/jpeg` URL's frames as they are)."""
    if frames <= 0:
        raise ValueError("video has no frames")
    h, w = smart_resize(height, width, min_pixels, max_pixels)
    return -(-frames // TEMPORAL_PATCH) * (h // FACTOR) * (w // FACTOR)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def plain_image(width: int, height: int) -> bytes:
    """A flat-colour PNG (readiness probe, warm-up)."""
    return png_bytes(Image.new("RGB", (width, height), (90, 120, 150)))


def object_box(width: int, height: int) -> list[int]:
    """Pixel box [x1, y1, x2, y2] of the object in `answer_check_image(width, height)`."""
    fx1, fy1, fx2, fy2 = OBJECT_BOX
    return [round(fx1 * width), round(fy1 * height), round(fx2 * width), round(fy2 * height)]


def answer_check_image(width: int, height: int) -> bytes:
    """A deterministic PNG for the answer check: a cup (body and handle) on a table."""
    img = Image.new("RGB", (width, height), (236, 232, 220))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, round(0.8 * height), width, height], fill=(150, 110, 70))  # table
    x1, y1, x2, y2 = object_box(width, height)
    body_right = x1 + round(0.75 * (x2 - x1))
    draw.rectangle([x1, y1, body_right, y2], fill=(200, 40, 40), outline=(60, 10, 10), width=3)
    handle = [body_right - 4, y1 + (y2 - y1) // 4, x2, y1 + 3 * (y2 - y1) // 4]
    draw.ellipse(handle, outline=(200, 40, 40), width=max(2, (x2 - x1) // 12))
    return png_bytes(img)
