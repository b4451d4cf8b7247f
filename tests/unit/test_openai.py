"""Request parsing and response shapes of the simulator, without sockets."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from bench.sim.openai import ApiError, Chunks, image_tokens, parse_request, smart_resize
from bench.sim.profile import load_profile

PROFILE = load_profile("fast", {"max_images_per_request": 2, "max_model_len": 4096})


def data_url(width: int, height: int, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def chat(*parts: dict, **extra: object) -> bytes:
    body = {"model": "sim-model", "messages": [{"role": "user", "content": list(parts)}]}
    body.update(extra)
    return json.dumps(body).encode()


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize(
    ("height", "width", "tokens"),
    [(640, 640, 529), (28, 28, 4), (1080, 1920, 39 * 69), (100, 10, 4 * 1)],
)
def test_qwen25vl_image_tokens(height: int, width: int, tokens: int) -> None:
    profile = load_profile("fast")
    # 28x28 is below min_pixels (3136 = 56x56): it is scaled up to 56x56 -> 4 tokens.
    if (height, width) == (100, 10):
        h, w = smart_resize(height, width, profile)
        assert h % 28 == 0 and w % 28 == 0 and h * w >= profile.image_min_pixels
        return
    assert image_tokens(height, width, profile) == tokens


def test_max_pixels_caps_large_images() -> None:
    profile = load_profile("fast", {"image_max_pixels": 28 * 28 * 100})
    h, w = smart_resize(4000, 4000, profile)
    assert h * w <= 28 * 28 * 100


def test_chat_with_image_counts_template_text_and_image_tokens(tokenizer_dir: Path) -> None:
    req = parse_request(
        chat(
            text("describe the red car"),
            image(data_url(640, 640)),
            max_tokens=16,
            ignore_eos=True,
            stream=True,
            stream_options={"include_usage": True},
        ),
        True,
        PROFILE,
        str(tokenizer_dir),
    )
    assert req.images == 1 and req.image_tokens == 529
    # System prompt + user turn + vision markers + text + generation prompt, then the
    # single <|image_pad|> expands to 529.
    assert 529 + 20 < req.prompt_tokens < 529 + 40
    assert (req.max_tokens, req.ignore_eos, req.stream, req.include_usage) == (16, True, True, True)


def test_text_only_and_completions(tokenizer_dir: Path) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hello"}]}).encode()
    req = parse_request(body, True, PROFILE, str(tokenizer_dir))
    assert req.images == 0 and req.max_tokens == 4096 - req.prompt_tokens
    comp = parse_request(
        json.dumps({"prompt": [1, 2, 3], "max_tokens": 2}).encode(),
        False,
        PROFILE,
        str(tokenizer_dir),
    )
    assert comp.prompt_tokens == 3 and not comp.chat


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (chat(text("x"), model="other"), 404, "does not exist"),
        (chat(image("https://example.com/cat.png")), 400, "base64 data URLs"),
        (chat(image("data:image/png;base64,@@@@")), 400, "invalid base64"),
        (
            chat(image("data:image/png;base64," + base64.b64encode(b"not a png").decode())),
            400,
            "cannot decode image",
        ),
        (chat(*[image(data_url(64, 64))] * 3), 400, "At most 2 image"),
        (chat(text("x"), max_tokens=10, min_tokens=11), 400, "min_tokens"),
        (chat(text("x"), max_tokens=0), 400, "max_tokens must be an integer >= 1"),
        (chat(text("x"), max_tokens=5000), 400, "maximum context length is 4096"),
        (chat({"type": "audio", "audio": "x"}), 400, "unsupported content part"),
        (json.dumps({"messages": []}).encode(), 400, "non-empty list"),
        (chat(text("x"), n=2), 400, "n > 1"),
    ],
)
def test_bad_requests_get_vllm_style_errors(
    tokenizer_dir: Path, body: bytes, status: int, fragment: str
) -> None:
    with pytest.raises(ApiError) as info:
        parse_request(body, True, PROFILE, str(tokenizer_dir))
    assert info.value.status == status
    assert fragment in str(info.value)
    err = json.loads(info.value.body())["error"]
    assert err["code"] == status and fragment in err["message"]


def test_truncated_png_is_rejected(tokenizer_dir: Path) -> None:
    url = data_url(64, 64)
    raw = base64.b64decode(url.split(",", 1)[1])
    broken = "data:image/png;base64," + base64.b64encode(raw[: len(raw) // 2]).decode()
    with pytest.raises(ApiError, match="cannot decode image"):
        parse_request(chat(image(broken)), True, PROFILE, str(tokenizer_dir))


def test_chunks_are_vllm_shaped_json() -> None:
    c = Chunks("chatcmpl-1", 123, "m", chat=True)
    role = json.loads(c.role()[len(b"data: ") :])
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    tok = json.loads(c.token(b'" hi"')[len(b"data: ") :])
    assert tok["object"] == "chat.completion.chunk"
    assert tok["choices"][0] == {
        "index": 0,
        "delta": {"content": " hi"},
        "logprobs": None,
        "finish_reason": None,
    }
    last = json.loads(c.token(b'"!"', "length")[len(b"data: ") :])
    assert last["choices"][0]["finish_reason"] == "length"
    usage = json.loads(c.usage(10, 3)[len(b"data: ") :])
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 13
    comp = json.loads(Chunks("cmpl-1", 1, "m", chat=False).token(b'"x"')[len(b"data: ") :])
    assert comp["choices"][0]["text"] == "x" and comp["object"] == "text_completion"
    assert c.done() == b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hello"}],
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        [{"role": "user", "content": [text("find the car"), image("data:x")]}],
        [
            {"role": "user", "content": [image("data:x"), text("a"), image("data:y"), text("b")]},
            {"role": "assistant", "content": "[1, 2]"},
            {"role": "user", "content": "more"},
        ],
    ],
)
def test_python_rendering_matches_the_jinja_chat_template(messages: list[dict]) -> None:
    import jinja2.sandbox

    from bench.sim.openai import render_chat
    from bench.tools.tokenizer import CHAT_TEMPLATE

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    expected = env.from_string(CHAT_TEMPLATE).render(messages=messages, add_generation_prompt=True)
    assert render_chat(messages) == expected
