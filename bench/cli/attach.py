"""`vlm-bench run --url`: benchmark a server that is already running, without a scenario file.

The scenario is built in code: an external server at the URL, the quick start's load and
sweep (scenarios/quickstart.yaml; a unit test keeps the two equal), the served model name
from --model or the server's /v1/models, the tokenizer from --tokenizer or the generated one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.config.scenario import load_scenario
from bench.dotted import set_dotted
from bench.errors import UserError, describe_validation_error
from bench.redact import redact_text
from bench.schema.scenario import GENERATED_TOKENIZER, Scenario
from bench.serve.http import get

# The quick start's workload: one 640x640 image, a 100-token prompt, exactly 512 output tokens.
QUICK_LOAD: dict[str, Any] = {
    "dataset": "random_vl",
    "image_width": 640,
    "image_height": 640,
    "image_format": "RGB",
    "image_num": 1,
    "min_prompt_length": 100,
    "max_prompt_length": 100,
    "prefix_length": 0,
    "min_tokens": 512,
    "max_tokens": 512,
    "ignore_eos": True,
    "request_timeout_s": 120,
}
QUICK_SWEEP: dict[str, Any] = {"parallel": [1, 2, 4, 8, 16, 32], "requests_per_level": "4x"}


def base_url(url: str) -> str:
    """`http://host:port`, forgiving a trailing slash or `/v1` (what OpenAI clients take)."""
    text = url.strip().rstrip("/")
    text = text[: -len("/v1")] if text.endswith("/v1") else text
    if "@" in text.split("://", 1)[-1].split("/", 1)[0]:
        # Never sent (a host lookup of `user:pw@host` failed with "Name or service not
        # known"), and never echoed: the line names the URL with the credentials hidden.
        raise UserError(
            f"--url {redact_text(url)}: credentials in the URL (user:password@) are refused: "
            "give the key as load.api_key (--set load.api_key='${env:OPENAI_API_KEY}') "
            "or an environment variable"
        )
    if not re.fullmatch(r"https?://[^/\s]+", text):
        raise UserError(f"--url {redact_text(url)!r}: expected http://HOST:PORT")
    return text


def served_model(url: str, timeout: float = 10.0) -> str:
    """The one model the server lists at /v1/models (a one-line error otherwise)."""

    where = f"--url {redact_text(url)}: GET /v1/models"
    try:
        status, body = get(url + "/v1/models", timeout)
    except OSError as exc:  # nothing answers (see bench.serve.http)
        reason = getattr(exc, "reason", exc)
        raise UserError(f"{where} failed ({reason}); is the server running?") from None
    if status != 200:
        raise UserError(f"{where} answered HTTP {status}; give --model NAME")
    try:
        ids = [str(m["id"]) for m in json.loads(body)["data"]]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{where}: not an OpenAI model list; give --model NAME") from None
    if len(ids) != 1:
        listed = ", ".join(ids) if ids else "no model"
        raise UserError(f"{where} lists {listed}; give --model NAME")
    return ids[0]


def url_overrides(url: str, model: str | None, tokenizer: str | None) -> dict[str, Any]:
    """What --url, --model and --tokenizer change in a scenario file."""
    out: dict[str, Any] = {"server": {"kind": "external", "url": base_url(url)}}
    if model:
        out["model.served_name"] = model
    if tokenizer:
        out["model.tokenizer_path"] = tokenizer
    return out


def scenario(
    path: str | None,
    url: str,
    model: str | None,
    tokenizer: str | None,
    overrides: dict[str, Any],
) -> Scenario:
    """The scenario file with its server replaced by the URL, or (no file) the quick start's
    load and sweep against it. `overrides` (--set, --parallel, …) apply last."""
    mine = url_overrides(url, model, tokenizer)
    if path:
        return load_scenario(path, {**mine, **overrides})
    if tokenizer and not (Path(tokenizer) / "tokenizer.json").exists():
        raise UserError(f"--tokenizer {tokenizer}: no tokenizer.json there")
    server = mine["server"]["url"]
    data: dict[str, Any] = {
        "name": "external",
        "description": f"a server already running at {redact_text(server)} (vlm-bench run --url)",
        "model": {
            "served_name": model or served_model(server),
            "tokenizer_path": tokenizer or GENERATED_TOKENIZER,
        },
        "server": {"kind": "external", "url": server},
        "load": dict(QUICK_LOAD),
        "sweep": dict(QUICK_SWEEP),
    }
    for key, value in overrides.items():
        set_dotted(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error("--url", exc, Scenario)) from None
