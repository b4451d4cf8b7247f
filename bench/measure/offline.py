"""Offline throughput: the reference's in-process path (vLLM's `LLM` class), one batch of prompts.

The engine's ceiling without HTTP, the API server or the client, to set beside the served
sweep: what does serving cost? The prompts are the sweep's own — evalscope's generator with
the scenario's load and seed (text and one image each) — and run through
`bench/tools/offline_worker.py` (standalone: it runs under any Python that has vLLM, e.g.
`.venv-vllm/bin/python`, or one inside a container with the file mounted), which applies
the chat template, resizes images as the reference does and times one `llm.generate` call.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import imaging
from bench.errors import ServerError, UserError
from bench.load import generator
from bench.load.workers import log_tail
from bench.measure.outputs import write_report
from bench.measure.prepare import check_references, resolve_tokenizer
from bench.proc import FIRM, spawn, stop_group
from bench.redact import redact_value, resolve_map, resolve_value
from bench.schema import figures
from bench.schema.attached import OfflineSummary
from bench.schema.results import RunResult
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.schema.scenario import Scenario

log = logging.getLogger(__name__)

WORKER = Path(__file__).resolve().parents[1] / "tools" / "offline_worker.py"


def prompts(scenario: Scenario, tokenizer: str, count: int) -> list[dict[str, Any]]:
    """`count` requests from evalscope's generator for the scenario's load (seeded), as
    {"text", "images": [data URLs]}, each image resized as the reference's client does."""
    out = generator.prompts(scenario, tokenizer, count)
    return [{**p, "images": [_resized(url) for url in p["images"]]} for p in out]


def _resized(url: str) -> str:
    """The image as the reference's qwen_vl_utils hands it to vLLM: resized to Qwen2.5-VL's grid
    within the reference's pixel limits (640x640 → 644x644)."""
    from PIL import Image

    raw = base64.b64decode(url.partition(",")[2])
    with Image.open(io.BytesIO(raw)) as img:
        rgb = img.convert("RGB")
    h, w = imaging.smart_resize(
        rgb.height, rgb.width, imaging.REFERENCE_MIN_PIXELS, imaging.REFERENCE_MAX_PIXELS
    )
    return imaging.data_url(imaging.png_bytes(rgb.resize((w, h), Image.Resampling.BICUBIC)))


def batch_size(scenario: Scenario) -> int:
    return scenario.offline.prompts or max(n for _, n in scenario.sweep.levels())


def run_batch(
    scenario: Scenario, tokenizer: str, out_dir: Path, count: int | None = None
) -> dict[str, Any]:
    """Generate the prompts, run the worker, and summarise; files kept in `out_dir`."""
    spec = scenario.offline
    model = spec.model or scenario.model.path
    if not model:
        raise UserError("offline needs offline.model or model.path (a local weights folder)")
    max_tokens = spec.max_tokens or scenario.load.max_tokens
    count = count or batch_size(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = (out_dir / "worker-result.json").resolve()
    job = {
        "model": model,
        "engine_args": resolve_value(spec.engine_args),
        "prompts": prompts(scenario, tokenizer, count),
        "max_tokens": max_tokens,
        "ignore_eos": scenario.load.ignore_eos,
        "out": str(result_path),
    }
    (out_dir / "spec.json").write_text(json.dumps(job))
    python = spec.python or [sys.executable]
    argv = [*python, str(WORKER), str((out_dir / "spec.json").resolve())]
    env = {**os.environ, **resolve_map(spec.env if spec.env is not None else scenario.server.env)}
    log_path = out_dir / "worker.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        try:
            proc = spawn(argv, log, env=env)
        except FileNotFoundError:
            raise UserError(f"offline.python: {python[0]!r} not found") from None
        try:
            proc.wait(spec.timeout_s)
        finally:  # timeout or Ctrl-C: the worker and vLLM's engine go too; after a normal
            stop_group(proc, FIRM)  # end, whatever the worker left behind
            # The worker has read it: keep the job, not a key in its engine arguments.
            job["engine_args"] = redact_value(spec.engine_args)
            (out_dir / "spec.json").write_text(json.dumps(job))
    if proc.returncode != 0:
        raise (UserError if proc.returncode == 2 else ServerError)(
            f"offline worker exited {proc.returncode}: {log_tail(log_path)} (log: {log_path})"
        )
    result = json.loads(result_path.read_text())
    summary = summarise(result, max_tokens, scenario.load.ignore_eos)
    summary.update(
        {
            "argv": argv,
            "model": model,
            "engine_args": redact_value(spec.engine_args),
            "wall_s": round(time.monotonic() - started, 3),
        }
    )
    (out_dir / "offline.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def measure(
    scenario: Scenario, run_dir: Path | None, output_dir: Path | None, count: int | None
) -> tuple[OfflineSummary, RunResult | None, Path]:
    """`vlm-bench offline`: the batch, its summary attached to `run_dir`'s run (report
    re-rendered) or kept in a new `offline-<time>` folder; (summary, run, folder)."""

    check_references(scenario)
    run = read_run(run_dir) if run_dir else None  # a bad run fails before the work
    if run is not None and run.scenario_name != scenario.name:
        raise UserError(
            f"--run {run_dir}: that run is of scenario {run.scenario_name!r}, not {scenario.name!r}"
        )
    if run_dir is not None:
        out_dir = run_dir / "offline"
    else:
        root = (output_dir or Path(scenario.output_dir)) / scenario.name
        out_dir = root / datetime.now().strftime("offline-%Y%m%d-%H%M%S")
    count = count or batch_size(scenario)
    model = scenario.offline.model or scenario.model.path
    log.info("offline: %d prompts through vllm.LLM (%s), log in %s", count, model, out_dir)
    summary = OfflineSummary.model_validate(
        run_batch(scenario, resolve_tokenizer(scenario), out_dir, count)
    )
    if run is not None and run_dir is not None:
        run.offline = summary
        write_run(run, run_dir)
        write_report(run, run_dir)
    return summary, run, out_dir


def summarise(result: dict[str, Any], max_tokens: int, ignore_eos: bool) -> dict[str, Any]:
    """Requests/s and tokens/s of the timed batch, and whether every length was honoured."""
    outputs = result["output_tokens"]
    seconds = result["generate_s"]
    wrong = sum(1 for n in outputs if n != max_tokens) if ignore_eos else 0
    return {
        "requests": result["requests"],
        "max_tokens": max_tokens,
        "generate_s": seconds,
        "init_s": result["init_s"],
        # The served levels' formulas and metric keys (bench/schema/figures.py, metrics.py).
        "rps": figures.rate(result["requests"], seconds),
        "output_tok_s": figures.rate(sum(outputs), seconds),
        "total_tok_s": figures.rate(sum(outputs) + sum(result["prompt_tokens"]), seconds),
        "prompt_tokens_mean": figures.mean(result["prompt_tokens"]),
        "output_tokens_min": min(outputs),
        "output_tokens_max": max(outputs),
        "wrong_length": wrong,
        "vllm_version": result.get("vllm_version"),
        "torch_version": result.get("torch_version"),
        "sample_text": result.get("sample_text", ""),
    }
