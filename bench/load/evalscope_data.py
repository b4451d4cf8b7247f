"""The scenario's prompts from evalscope's own dataset generator, in this process.

The offline batch (bench/measure/offline.py) must run the sweep's own prompts: the same
generator (`random_vl`, `openqa`, …), fed the same flags (`evalscope.workload_args`) and
seed, so the texts and images match what a level sends. evalscope is imported inside the
function: it is heavy, and mutates process-wide state (RNG seeds) that nothing else here
should pay for or see unless it asks for prompts.
"""

from __future__ import annotations

import argparse
from itertools import islice
from typing import Any

from bench.load.evalscope import workload_args
from bench.schema.scenario import Scenario


def prompts(scenario: Scenario, tokenizer: str, count: int) -> list[dict[str, Any]]:
    """`count` requests from evalscope's generator for the scenario's load, seeded with
    `load.seed`, as {"text", "images": [data URLs, as evalscope made them]}."""
    from evalscope.perf.arguments import Arguments, add_argument
    from evalscope.perf.plugin import DatasetRegistry
    from evalscope.utils.model_utils import seed_everything

    parser = argparse.ArgumentParser()
    add_argument(parser)
    argv = [
        "--model",
        scenario.model.served_name,
        "--url",
        "http://127.0.0.1:9/v1/chat/completions",  # required by evalscope, never contacted
        "--parallel",
        "1",
        "--number",
        str(count),
        "--seed",
        str(scenario.load.seed),
        *workload_args(scenario, tokenizer),
    ]
    args = Arguments.from_args(parser.parse_args(argv))
    seed_everything(scenario.load.seed)
    generator = DatasetRegistry.get_class(args.dataset)(args).build_messages()
    return [_split(messages[0]["content"]) for messages in islice(generator, count)]


def _split(content: str | list[dict[str, Any]]) -> dict[str, Any]:
    """A chat message's content (a string, or OpenAI content parts) as text and images."""
    if isinstance(content, str):
        return {"text": content, "images": []}
    return {
        "text": "".join(p.get("text", "") for p in content if p.get("type") == "text"),
        "images": [p["image_url"]["url"] for p in content if p.get("type") == "image_url"],
    }
