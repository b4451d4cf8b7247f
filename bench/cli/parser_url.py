"""argparse declaration of `vlm-bench run --url` and its companions (bench/cli/attach.py
builds the scenario from them), kept beside bench/cli/parser.py and called from it."""

from __future__ import annotations

import argparse


def add_url_flags(run: argparse.ArgumentParser) -> None:
    """--url, and what goes with it: --model, --tokenizer, --name, --hardware, --backend."""
    run.add_argument(
        "--url",
        help="benchmark the server already running at this base URL (http://HOST:PORT); "
        "with a scenario file, replaces its server",
    )
    run.add_argument("--model", help="with --url: the served model name (default: /v1/models)")
    run.add_argument("--tokenizer", help="with --url: tokenizer folder (default: generated)")
    run.add_argument(
        "--name",
        help="with --url: the run's name (default: MODEL@HOST-PORT, a scenario file's name "
        "in place of MODEL, and a digest of --set, --parallel, … when given)",
    )
    run.add_argument(
        "--hardware", help="with --url: the hardware label (default: the scenario file's)"
    )
    run.add_argument(
        "--backend",
        help="with --url: the backend label (default: what the server says: /v1/models' "
        "owned_by, /metrics names, /version)",
    )
