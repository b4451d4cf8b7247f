"""A tiny random-weight Qwen2.5-VL checkpoint, generated offline and deterministically.

    .venv-vllm/bin/python -m bench.tools.tinymodel OUT_DIR

Real vLLM needs a real checkpoint to serve; none can be downloaded here. This builds a
`Qwen2_5_VLForConditionalGeneration` (~1 M parameters, float32, seeded weights) around
the project's generated Qwen2-style tokenizer (bench/tools/tokenizer.py), with Qwen2.5-VL's
image-processor config, so a 640x640 image becomes 529 image tokens exactly as in the
3B model. It needs torch and transformers: run it with the `.venv-vllm` interpreter.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench.errors import UserError
from bench.tools.tokenizer import SPECIAL_TOKENS, VOCAB_SIZE, ensure_tokenizer

SEED = 20261127
FORMAT_VERSION = 1  # bump when the architecture or files change


def _token_id(name: str) -> int:
    return VOCAB_SIZE - len(SPECIAL_TOKENS) + SPECIAL_TOKENS.index(name)


def config() -> dict[str, object]:
    """config.json, in the hub's Qwen2.5-VL layout (text fields at the top level)."""
    return {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        "torch_dtype": "float32",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 8192,
        "max_window_layers": 2,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},  # sums to head_dim / 2
        "sliding_window": 8192,
        "use_sliding_window": False,
        "tie_word_embeddings": True,
        "attention_dropout": 0.0,
        "bos_token_id": _token_id("<|endoftext|>"),
        "eos_token_id": _token_id("<|im_end|>"),
        "pad_token_id": _token_id("<|endoftext|>"),
        "image_token_id": _token_id("<|image_pad|>"),
        "video_token_id": _token_id("<|video_pad|>"),
        "vision_start_token_id": _token_id("<|vision_start|>"),
        "vision_end_token_id": _token_id("<|vision_end|>"),
        "vision_token_id": _token_id("<|vision_pad|>"),
        "vision_config": {
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 4,
            "in_chans": 3,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
            "out_hidden_size": 128,
            "hidden_act": "silu",
            "tokens_per_second": 2,
        },
    }


PREPROCESSOR = {
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
    "do_resize": True,
    "do_rescale": True,
    "do_normalize": True,
    "do_convert_rgb": True,
    "rescale_factor": 1 / 255,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "patch_size": 14,
    "merge_size": 2,
    "temporal_patch_size": 2,
    "min_pixels": 3136,
    "max_pixels": 28 * 28 * 1280,  # 640x640 stays 644x644: 529 tokens
}

GENERATION = {
    "bos_token_id": _token_id("<|endoftext|>"),
    "eos_token_id": [_token_id("<|im_end|>"), _token_id("<|endoftext|>")],
    "pad_token_id": _token_id("<|endoftext|>"),
    "do_sample": False,  # served with temperature 0 by evalscope anyway
}


def build(out: Path) -> Path:
    """Write the checkpoint into `out` (replacing it) and check that it loads and runs."""
    try:
        import torch
        from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    except ImportError as exc:
        raise UserError(
            f"tiny-model needs torch and transformers ({exc.name} missing): run it "
            "with .venv-vllm/bin/python -m bench (./run_bench.sh sets it up)"
        ) from None
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for item in ensure_tokenizer().iterdir():
        shutil.copy(item, tmp / item.name)
    (tmp / "config.json").write_text(json.dumps(config(), indent=2))
    torch.manual_seed(SEED)
    model = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig.from_pretrained(tmp))
    with torch.no_grad():
        for param in model.parameters():  # small, seeded weights: deterministic files
            param.copy_(
                torch.randn(
                    param.shape, generator=torch.Generator().manual_seed(SEED + param.numel())
                )
                * 0.02
            )
    model.save_pretrained(tmp, safe_serialization=True)
    (tmp / "config.json").write_text(json.dumps(config(), indent=2))  # the hub layout
    (tmp / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    (tmp / "generation_config.json").write_text(json.dumps(GENERATION, indent=2))
    (tmp / "tiny-model.json").write_text(
        json.dumps({"format_version": FORMAT_VERSION, "seed": SEED})
    )
    _check(tmp, torch, AutoProcessor, Qwen2_5_VLForConditionalGeneration)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _check(folder: Path, torch: object, auto_processor: object, model_cls: object) -> None:
    """Load it back with transformers and generate from one 640x640 image."""
    from PIL import Image

    processor = auto_processor.from_pretrained(folder)  # type: ignore[attr-defined]
    model = model_cls.from_pretrained(folder)  # type: ignore[attr-defined]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(
        text=[text], images=[Image.new("RGB", (640, 640), (10, 20, 30))], return_tensors="pt"
    )
    image_tokens = int((inputs["input_ids"] == _token_id("<|image_pad|>")).sum())
    if image_tokens != 529:
        raise RuntimeError(f"a 640x640 image became {image_tokens} tokens, not 529")
    with torch.no_grad():  # type: ignore[attr-defined]
        out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    if out.shape[1] != inputs["input_ids"].shape[1] + 4:
        raise RuntimeError("the tiny model did not generate 4 tokens")


if __name__ == "__main__":  # `.venv-vllm/bin/python -m bench.tools.tinymodel OUT_DIR`
    # Not through the `vlm-bench` command line: .venv-vllm has torch and vLLM but not the
    # harness's own dependencies (pandas, SQLAlchemy, …) that the CLI's commands import.
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.tools.tinymodel OUT_DIR")
    print(build(Path(sys.argv[1])))
