"""Offline vLLM throughput worker: the reference's `LLM.generate` path, timed.

    python bench/tools/offline_worker.py SPEC.json

Standalone on purpose (no `bench` import): it runs under whatever Python has vLLM, possibly
inside a container. Like the seed, every request is a system message plus one user turn with
the images (already resized by the caller, as qwen_vl_utils does) and the text, rendered
with the model's chat template; all requests go to ONE `llm.generate` call, whose wall
time is `generate_s`.
The result JSON goes to the spec's `out`; vLLM logs go wherever vLLM sends them.
Exit 2: bad spec or unreadable input; exit 1: vLLM (or the processor) failed.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image


class SpecError(Exception):
    pass


def load_image(url: str) -> Image.Image:
    head, sep, data = url.partition(",")
    if not (sep and head.startswith("data:image/") and head.endswith(";base64")):
        raise SpecError(f"not a base64 image data URL: {url[:40]!r}")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data, validate=True))).convert("RGB")
    except (binascii.Error, OSError) as exc:
        raise SpecError(f"undecodable image: {exc}") from exc
    return image


def load_spec(path: str) -> dict[str, Any]:
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc
    if not isinstance(spec, dict):
        raise SpecError("spec must be a JSON object")
    for key, kind in [
        ("model", str),
        ("engine_args", dict),
        ("prompts", list),
        ("max_tokens", int),
        ("ignore_eos", bool),
        ("out", str),
    ]:
        if not isinstance(spec.get(key), kind):
            raise SpecError(f"spec field {key!r} missing or not {kind.__name__}")
    if not spec["prompts"]:
        raise SpecError("spec field 'prompts' is empty")
    if not Path(spec["model"]).is_dir():
        raise SpecError(f"model directory not found: {spec['model']}")
    if not Path(spec["out"]).resolve().parent.is_dir():
        raise SpecError(f"directory of out does not exist: {spec['out']}")
    return spec


def build_messages(spec: dict[str, Any]) -> list[tuple[list[dict[str, Any]], list[Image.Image]]]:
    """Per prompt: the reference's chat messages and its images (PIL, RGB)."""
    built = []
    for i, prompt in enumerate(spec["prompts"]):
        if not isinstance(prompt, dict) or not isinstance(prompt.get("text"), str):
            raise SpecError(f"prompts[{i}] needs a 'text' string")
        images = [load_image(url) for url in prompt.get("images", [])]
        content: list[dict[str, Any]] = [{"type": "image"} for _ in images]
        content.append({"type": "text", "text": prompt["text"]})
        system = {"role": "system", "content": spec.get("system", "You are a helpful assistant.")}
        built.append(([system, {"role": "user", "content": content}], images))
    return built


def run(spec: dict[str, Any], built: list[tuple[list[dict[str, Any]], list[Image.Image]]]) -> None:
    import torch
    import vllm
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(spec["model"])
    requests: list[dict[str, Any]] = []
    for messages, images in built:
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        request: dict[str, Any] = {"prompt": text}
        if images:
            request["multi_modal_data"] = {"image": images}
        requests.append(request)
    sampling = vllm.SamplingParams(max_tokens=spec["max_tokens"], ignore_eos=spec["ignore_eos"])

    start = time.perf_counter()
    llm = vllm.LLM(model=spec["model"], **spec["engine_args"])
    init_s = time.perf_counter() - start
    warmup = requests[: int(spec.get("warmup_prompts", 1))]
    if warmup:
        llm.generate(warmup, sampling_params=sampling, use_tqdm=False)
        llm.reset_prefix_cache()  # the timed batch must not reuse the warm-up's KV blocks
        llm.reset_mm_cache()  # ... nor its encoded images
    start = time.perf_counter()
    outputs = llm.generate(requests, sampling_params=sampling, use_tqdm=False)
    generate_s = time.perf_counter() - start

    result = {
        "vllm_version": vllm.__version__,
        "torch_version": torch.__version__,
        "init_s": init_s,
        "generate_s": generate_s,
        "requests": len(outputs),
        "prompt_tokens": [len(o.prompt_token_ids or []) for o in outputs],
        "output_tokens": [len(o.outputs[0].token_ids) for o in outputs],
        "finish_reasons": [o.outputs[0].finish_reason for o in outputs],
        "sample_text": outputs[0].outputs[0].text[:500],
    }
    Path(spec["out"]).write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: offline_worker.py SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = load_spec(argv[0])
        built = build_messages(spec)
    except SpecError as exc:
        print(f"offline_worker: error: {exc}", file=sys.stderr)
        return 2
    try:
        run(spec, built)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
        print(f"offline_worker: error: vllm failed: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
