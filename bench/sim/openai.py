"""OpenAI request parsing and vLLM-shaped responses, without sockets.

`parse_request` turns a request body into what the engine needs (prompt, image and video
token counts, output length, streaming options) or raises `ApiError` with the status and
message vLLM would give. `Chunks` renders the SSE byte strings of one response.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from bench import imaging, ovd
from bench.digest import request_digest
from bench.sim.profile import Profile
from bench.tools.tokenizer import load_fast

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Image.MAX_IMAGE_PIXELS = 16384 * 16384


def _compact(obj: Any) -> str:
    """JSON without spaces, as vLLM's pydantic models serialise."""
    return json.dumps(obj, separators=(",", ":"))


class ApiError(Exception):
    """An HTTP error answer: status, vLLM's error type and a message."""

    def __init__(self, status: int, message: str, kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind

    def body(self) -> bytes:
        return _compact(
            {"error": {"message": str(self), "type": self.kind, "param": None, "code": self.status}}
        ).encode()


@dataclass(frozen=True)
class ParsedRequest:
    chat: bool
    model: str
    prompt_tokens: int
    image_tokens: int
    images: int
    image_digests: tuple[str, ...]
    image_sizes: tuple[tuple[int, int], ...]  # (width, height) of each image
    ovd_event: str | None  # the object an OVD prompt asks about ("" if none); None: no OVD
    max_tokens: int
    min_tokens: int
    ignore_eos: bool
    stream: bool
    include_usage: bool
    request_sha: str
    videos: int = 0
    video_frames: int = 0  # the frames the server kept, over its videos
    video_tokens: int = 0
    video_digests: tuple[str, ...] = ()


def smart_resize(height: int, width: int, profile: Profile) -> tuple[int, int]:
    """Qwen2.5-VL's resize within the profile's pixel limits."""
    return imaging.smart_resize(height, width, profile.image_min_pixels, profile.image_max_pixels)


def image_tokens(height: int, width: int, profile: Profile) -> int:
    """Tokens one image becomes: one per 28x28 block after resizing (640x640 -> 529)."""
    h, w = smart_resize(height, width, profile)
    return (h // imaging.FACTOR) * (w // imaging.FACTOR)


def decode_image(url: str, index: int) -> tuple[int, int, str]:
    """(height, width, digest) of a base64 data-URL image; ApiError if it is not one."""
    if not url.startswith("data:"):
        raise ApiError(
            400,
            f"image {index}: only base64 data URLs are accepted "
            f"(the simulator fetches nothing), got {url[:40]!r}",
        )
    header, sep, payload = url.partition(",")
    if not sep or ";base64" not in header or not header[5:].startswith("image/"):
        raise ApiError(400, f"image {index}: expected 'data:image/<type>;base64,<data>'")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"image {index}: invalid base64 data") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ApiError(400, f"image {index}: cannot decode image ({exc})") from None
    return height, width, hashlib.sha1(raw).hexdigest()


@dataclass(frozen=True)
class Video:
    """A decoded `video/jpeg` data URL: its frame size, the frames kept, its digest."""

    height: int
    width: int
    frames: int
    digest: str


def decode_video(url: str, index: int, max_frames: int) -> Video:
    """A `data:video/jpeg;base64,<frame>,<frame>,...` URL as vLLM 0.32's VideoMediaIO reads
    it: split on commas, the first `max_frames` parts kept (the rest dropped), each a JPEG,
    all of one size (vLLM stacks them); ApiError otherwise."""
    header, sep, payload = url.partition(",")
    if not url.startswith("data:") or not sep or header.lower() != "data:video/jpeg;base64":
        raise ApiError(
            400,
            f"video {index}: expected 'data:video/jpeg;base64,<frame>,<frame>,...' "
            f"(the simulator decodes no video codec and fetches nothing), got {url[:40]!r}",
        )
    sizes = set()
    for number, part in enumerate(payload.split(",", max_frames)[:max_frames], start=1):
        try:
            height, width, _ = decode_image("data:image/jpeg;base64," + part, number)
        except ApiError as err:
            raise ApiError(400, f"video {index}, frame {str(err).removeprefix('image ')}") from None
        sizes.add((height, width))
    if len(sizes) != 1:
        raise ApiError(400, f"video {index}: its frames are not all of one size ({len(sizes)})")
    (height, width), frames = sizes.pop(), min(max_frames, payload.count(",") + 1)
    return Video(height, width, frames, hashlib.sha1(url.encode()).hexdigest())


def render_chat(messages: list[dict[str, Any]]) -> str:
    """The Qwen2-VL chat template (bench.tools.tokenizer.CHAT_TEMPLATE), rendered in Python.

    Jinja's sandbox costs ~0.3 ms a request; on the simulator's single event loop a burst
    of 32 arrivals would then delay token writes by ~10 ms. tests/unit/test_openai.py
    checks that both renderings agree.
    """
    out = []
    for i, message in enumerate(messages):
        if i == 0 and message["role"] != "system":
            out.append("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
        out.append(f"<|im_start|>{message['role']}\n")
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        else:
            for part in content or ():
                if part.get("type") == "image" or "image" in part or "image_url" in part:
                    out.append("<|vision_start|><|image_pad|><|vision_end|>")
                elif part.get("type") == "video" or "video" in part or "video_url" in part:
                    # vLLM turns a `video_url` part into {"type": "video"} before the template
                    out.append("<|vision_start|><|video_pad|><|vision_end|>")
                elif "text" in part:
                    out.append(str(part["text"]))
        out.append("<|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return "".join(out)


def _int_field(body: dict[str, Any], name: str, default: int | None, minimum: int) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ApiError(400, f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_request(raw: bytes, chat: bool, profile: Profile, tokenizer_dir: str) -> ParsedRequest:
    body, model = _body(raw, profile)
    tokenizer = load_fast(tokenizer_dir)
    videos: list[Video] = []
    if chat:
        texts, images, ids = _chat_prompt(body, profile, tokenizer, videos)
    else:
        texts, images, ids = _completion_prompt(body, tokenizer)
    if profile.require_image and not images:
        raise ApiError(400, "this server's VLM backend needs at least one image per request")
    low, high = profile.video_pixels()
    try:
        per_image = [image_tokens(h, w, profile) for h, w, _ in images]
        per_video = [imaging.video_tokens(v.width, v.height, v.frames, low, high) for v in videos]
    except ValueError as exc:
        raise ApiError(400, f"image or video cannot be processed: {exc}") from None
    # Each <|image_pad|> or <|video_pad|> placeholder expands to the item's tokens, as in vLLM.
    prompt_tokens = len(ids) + sum(n - 1 for n in per_image) + sum(n - 1 for n in per_video)
    max_tokens, min_tokens = _token_limits(body, profile, prompt_tokens)
    stream = body.get("stream", False)
    options = body.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(options, dict):
        raise ApiError(400, "stream must be a boolean and stream_options an object")
    return ParsedRequest(
        chat=chat,
        model=model,
        prompt_tokens=prompt_tokens,
        image_tokens=sum(per_image),
        images=len(images),
        image_digests=tuple(d for _, _, d in images),
        image_sizes=tuple((w, h) for h, w, _ in images),
        ovd_event=_ovd_event(texts),
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=bool(body.get("ignore_eos", False)),
        stream=stream,
        include_usage=bool(options.get("include_usage", False)),
        request_sha=request_digest(body) or "",
        videos=len(videos),
        video_frames=sum(v.frames for v in videos),
        video_tokens=sum(per_video),
        video_digests=tuple(v.digest for v in videos),
    )


def _body(raw: bytes, profile: Profile) -> tuple[dict[str, Any], str]:
    """The request's JSON object and the model it names (this server's, or 404)."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    model = body.get("model", profile.served_model_name)
    if model != profile.served_model_name:
        raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError")
    if _int_field(body, "n", 1, 1) != 1:
        raise ApiError(400, "n > 1 is not supported by the simulator")
    return body, model


# (the prompt's texts, its images as (height, width, digest), its token ids)
_Prompt = tuple[list[str], list[tuple[int, int, str]], list[int]]


def _chat_prompt(
    body: dict[str, Any], profile: Profile, tokenizer: Tokenizer, videos: list[Video]
) -> _Prompt:
    """A chat request's messages, checked, their images and videos (appended to `videos`)
    decoded, the template applied."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list")
    texts: list[str] = []
    images: list[tuple[int, int, str]] = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            raise ApiError(400, "each message must be an object with a role")
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        if not isinstance(content, list):
            raise ApiError(400, "message content must be a string or a list of parts")
        for part in content:
            _content_part(part, profile, texts, images, videos)
    ids: list[int] = tokenizer.encode(render_chat(messages), add_special_tokens=False).ids
    return texts, images, ids


def _content_part(
    part: Any,
    profile: Profile,
    texts: list[str],
    images: list[tuple[int, int, str]],
    videos: list[Video],
) -> None:
    """One part of a message's content, appended to `texts`, `images` or `videos`."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        texts.append(part["text"])
        return
    if kind == "video_url":
        url = part.get("video_url")
        url = url.get("url") if isinstance(url, dict) else url
        if not isinstance(url, str):
            raise ApiError(400, "video_url must hold a url string")
        videos.append(decode_video(url, len(videos) + 1, profile.max_video_frames))
        return
    if kind != "image_url":
        raise ApiError(400, f"unsupported content part type {kind!r}")
    url = part.get("image_url")
    url = url.get("url") if isinstance(url, dict) else url
    if not isinstance(url, str):
        raise ApiError(400, "image_url must hold a url string")
    images.append(decode_image(url, len(images) + 1))
    if len(images) > profile.max_images_per_request:
        raise ApiError(
            400,
            f"At most {profile.max_images_per_request} image(s) may be provided in one prompt.",
        )


def _completion_prompt(body: dict[str, Any], tokenizer: Tokenizer) -> _Prompt:
    """A completion request's prompt: a string, or token ids taken as they are."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt], [], tokenizer.encode(prompt, add_special_tokens=False).ids
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return [], [], prompt
    raise ApiError(400, "prompt must be a string or a non-empty list of token ids")


def _token_limits(body: dict[str, Any], profile: Profile, prompt_tokens: int) -> tuple[int, int]:
    """(max_tokens, min_tokens), checked against the context length as vLLM does."""
    max_tokens = _int_field(body, "max_completion_tokens", None, 1)
    max_tokens = _int_field(body, "max_tokens", max_tokens, 1)
    if max_tokens is None:
        max_tokens = max(1, profile.max_model_len - prompt_tokens)
    if prompt_tokens + max_tokens > profile.max_model_len:
        raise ApiError(
            400,
            f"This model's maximum context length is {profile.max_model_len} "
            f"tokens. However, you requested {prompt_tokens + max_tokens} tokens "
            f"({prompt_tokens} in the messages, {max_tokens} in the completion). "
            "Please reduce the length of the messages or completion.",
        )
    min_tokens = _int_field(body, "min_tokens", 0, 0) or 0
    if min_tokens > max_tokens:
        raise ApiError(
            400,
            f"min_tokens ({min_tokens}) must be less than or equal to max_tokens ({max_tokens})",
        )
    return max_tokens, min_tokens


def _ovd_event(texts: list[str]) -> str | None:
    for text in texts:
        if ovd.is_ovd_prompt(text):
            return ovd.asked_event(text) or ""
    return None


class Chunks:
    """Pre-rendered SSE pieces for one streamed response, in vLLM's shapes."""

    def __init__(self, rid: str, created: int, model: str, chat: bool) -> None:
        head = _compact(
            {
                "id": rid,
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": created,
                "model": model,
            }
        )[:-1]
        self._head = head.encode()
        self._chat = chat
        if chat:
            self._open = b',"choices":[{"index":0,"delta":{"content":'
            self._close = b'},"logprobs":null,"finish_reason":null}]}\n\n'
            self._close_final = b'},"logprobs":null,"finish_reason":"%s","stop_reason":null}]}\n\n'
        else:
            self._open = b',"choices":[{"index":0,"text":'
            self._close = b',"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'
            self._close_final = b',"logprobs":null,"finish_reason":"%s","stop_reason":null}]}\n\n'

    def role(self) -> bytes:
        if not self._chat:
            return b""
        return (
            b"data: " + self._head + b',"choices":[{"index":0,"delta":{"role":"assistant",'
            b'"content":""},"logprobs":null,"finish_reason":null}]}\n\n'
        )

    def token(self, text_json: bytes, finish_reason: str | None = None) -> bytes:
        close = self._close if finish_reason is None else self._close_final % finish_reason.encode()
        return b"data: " + self._head + self._open + text_json + close

    def usage(self, prompt: int, completion: int) -> bytes:
        usage = _compact(
            {
                "prompt_tokens": prompt,
                "total_tokens": prompt + completion,
                "completion_tokens": completion,
            }
        ).encode()
        return b"data: " + self._head + b',"choices":[],"usage":' + usage + b"}\n\n"

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"
