"""Accelerator telemetry on a real NVIDIA GPU: the sampler under a known load.

Run on a machine with an NVIDIA GPU (none was available where this was written):

    .venv/bin/python benchmarks/telemetry_gpu.py [--seconds 8] [--source auto]

Samples 2 s idle, then `--seconds` of a bf16 matmul loop (torch, if importable; else the
GPU stays idle), then 2 s idle, with bench.measure.telemetry's sampler at 4 Hz, and
prints per phase what a level would record: utilisation, power, energy by the counter
and by the power integral, and their agreement.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import telemetry


def _load(seconds: float) -> str:
    """A matmul loop on GPU 0 for `seconds`; what ran."""
    try:
        import torch
    except ImportError:
        time.sleep(seconds)
        return "idle (no torch)"
    if not torch.cuda.is_available():
        time.sleep(seconds)
        return "idle (torch without CUDA)"
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        for _ in range(10):
            a @ b
        torch.cuda.synchronize()
        n += 10
    return f"{n} bf16 8192³ matmuls ({2 * 8192**3 * n / seconds / 1e12:.0f} TFLOP/s)"


def _phase(name: str, samples: list[dict[str, Any]], source: str, win: tuple[float, float]) -> None:
    view = telemetry.summarise(source, samples, win, output_tokens=0)
    c, i = view.energy_counter_j, view.energy_integral_j
    agree = f"{100 * (c / i - 1):+.2f} %" if c and i else "n/a"
    print(
        f"{name:>5}: {win[1] - win[0]:5.1f} s, util {view.util_mean_pct or 0:5.1f} % "
        f"(peak {view.util_max_pct or 0:.0f}), power {view.power_mean_w or 0:6.1f} W, "
        f"counter {c if c is not None else float('nan'):8.1f} J, integral "
        f"{i if i is not None else float('nan'):8.1f} J, counter vs integral {agree}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--source", default="auto", choices=["auto", *telemetry.OPENERS])
    args = parser.parse_args()
    names = list(telemetry.OPENERS) if args.source == "auto" else [args.source]
    source = next((s for n in names if (s := telemetry.OPENERS[n]()) is not None), None)
    if source is None:
        print("no accelerator telemetry here (no NVML, nvidia-smi or npu-smi): absent")
        return
    with tempfile.TemporaryDirectory() as folder:
        watch = telemetry.TelemetryWatch(source, [0], Path(folder), interval_s=0.25)
        watch.start()
        marks = [time.perf_counter()]
        time.sleep(2.0)
        marks.append(time.perf_counter())
        ran = _load(args.seconds)
        marks.append(time.perf_counter())
        time.sleep(2.0)
        marks.append(time.perf_counter())
        samples = watch.stop()
    print(f"source {source.name}, {len(samples)} samples; load: {ran}")
    _phase("idle", samples, source.name, (marks[0] + 0.3, marks[1]))
    _phase("busy", samples, source.name, (marks[1], marks[2]))
    _phase("after", samples, source.name, (marks[2], marks[3] - 0.3))
    _phase("all", samples, source.name, (marks[0] + 0.3, marks[3] - 0.3))


if __name__ == "__main__":
    main()
