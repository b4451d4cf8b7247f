"""The generated tokenizer: deterministic, Qwen-shaped, loadable by transformers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.tools.tokenizer import SPECIAL_TOKENS, VOCAB_SIZE, ensure_tokenizer, load_fast


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic(tmp_path: Path, tokenizer_dir: Path) -> None:
    again = ensure_tokenizer(tmp_path / "tok")
    assert digest(again) == digest(tokenizer_dir)


def test_vocabulary_and_special_tokens(tokenizer_dir: Path) -> None:
    tok = load_fast(str(tokenizer_dir))
    assert tok.get_vocab_size() == VOCAB_SIZE
    base = VOCAB_SIZE - len(SPECIAL_TOKENS)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(base, VOCAB_SIZE))
    ids = tok.encode("<|im_start|>user\n<|image_pad|>hi<|im_end|>", add_special_tokens=False).ids
    assert tok.token_to_id("<|image_pad|>") in ids and tok.token_to_id("<|im_start|>") == ids[0]


def test_transformers_loads_it_with_the_chat_template(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    text = tok.apply_chat_template(
        [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "x"}},
                    {"type": "text", "text": "find the dog"},
                ],
            }
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert "<|vision_start|><|image_pad|><|vision_end|>find the dog<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>"
    assert tok.decode(tok.encode(" the red car")) == " the red car"
