"""`vlm-bench capacity` against the simulator's known SLO capacity.

    python benchmarks/capacity.py [--time-scale 0.2] [--ttft 2.0] [--tpot 0.06] [--per 4]

The known capacity: the simulator's virtual client (bench/sim/virtual.py: the same timing
model in simulated time, no sockets) drives the calibrated ascend-800ta2-vllm profile at
every concurrency from 1 to 48 (a warm-up wave, then `--per` x parallel measured
requests, as the quick start's 4x), and the highest concurrency whose P99 TTFT and P99
TPOT meet the SLO (default: the reference scenario's, 2.0 s and 0.06 s in the modelled
NPU's time) is the capacity; over 5 engine seeds (their median, and their range). Then
`vlm-bench capacity scenarios/quickstart.yaml` searches it against the real simulator
server (time-scaled; the SLO scaled with it) and the two are compared: equal within one
search step (1), in fewer level measurements than the six-level sweep. A fine sweep of
every concurrency around the known capacity (the real client and server) shows where the
measured P99s cross the SLO.

The time scale sets how much the client's own jitter (milliseconds, whatever the scale)
weighs against the SLO: at 0.05 a 2 s TTFT bound is 100 ms of wall time, and a few ms of
client noise move the crossing by several concurrency steps; at 0.2 it is 400 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.schema import figures  # noqa: E402
from bench.sim.engine import Engine  # noqa: E402
from bench.sim.profile import load_profile  # noqa: E402
from bench.sim.virtual import REFERENCE_PROMPT_TOKENS, run_closed_loop  # noqa: E402

PROFILE = "ascend-800ta2-vllm"


def known_capacity(
    ttft: float, tpot: float, per: int, seed: int = 0, top: int = 48
) -> tuple[int, dict[int, tuple]]:
    profile = load_profile(PROFILE)
    engine = Engine(profile, seed)  # one server for every level (a warm image encoder)
    curve = {}
    for c in range(1, top + 1):
        # One warm-up wave (c requests, unmeasured, as vlm-bench's), then per x c measured.
        level = run_closed_loop(
            profile, engine, c, per * c, REFERENCE_PROMPT_TOKENS, 1, 512, 0.012, warmup=c
        )
        ttfts = [r.ttft for r in level.requests]
        tpots = [t for r in level.requests if (t := r.tpot) is not None]
        curve[c] = (figures.percentile(ttfts, 99), figures.percentile(tpots, 99))
    meeting = [c for c, (a, b) in curve.items() if a <= ttft and b <= tpot]
    # The highest concurrency below the first that misses (the search assumes monotone).
    first_miss = next((c for c in curve if c not in meeting), top + 1)
    return first_miss - 1, curve


def fine_sweep(scale: float, ttft: float, tpot: float, per: int, levels: range) -> tuple[int, list]:
    """The capacity from a sweep of every concurrency in `levels` (the same client and
    server as the search): the highest below the first level that misses the SLO."""
    found, _ = search(scale, ttft, tpot, per, ["run", "--parallel", *map(str, levels)])
    rows = [
        (lv["parallel"], lv["ttft_p99_s"] / scale, lv["tpot_p99_s"] / scale)
        for lv in found["levels"]
    ]
    first_miss = next((c for c, a, b in rows if a > ttft or b > tpot), levels[-1] + 1)
    return first_miss - 1, rows


def search(
    scale: float, ttft: float, tpot: float, per: int, command: list[str] | None = None
) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "bench", *(command or ["capacity"])]
        argv += ["scenarios/quickstart.yaml"]
        argv += ["--set", f"server.time_scale={scale}", "--set", f"slo.ttft_p99_s={ttft * scale}"]
        argv += ["--set", f"slo.tpot_p99_s={tpot * scale}", "--skip-check", "--json"]
        argv += ["--set", f"sweep.requests_per_level={per}x"]
        argv += ["--output-dir" if command else "--out", tmp]
        began = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
        wall = time.monotonic() - began
    if done.returncode not in (0, 1):
        sys.exit(f"capacity: exit {done.returncode}: {done.stderr[-2000:]}")
    return json.loads(done.stdout), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.2)
    parser.add_argument("--ttft", type=float, default=2.0, help="SLO P99 TTFT, modelled s")
    parser.add_argument("--tpot", type=float, default=0.06, help="SLO P99 TPOT, modelled s")
    parser.add_argument("--per", type=int, default=4, help="measured requests per slot")
    parser.add_argument("--fine", type=int, nargs=2, help="fine sweep range (default: known ±4)")
    parser.add_argument("--no-fine", action="store_true", help="skip the fine sweep")
    args = parser.parse_args()
    seeds = [known_capacity(args.ttft, args.tpot, args.per, seed) for seed in range(5)]
    known, curve = sorted(seeds, key=lambda got: got[0])[2]
    low, high = min(s[0] for s in seeds), max(s[0] for s in seeds)
    fine = range(*(args.fine or (known - 4, known + 4))) if not args.no_fine else range(0)
    fine = range(fine.start, fine.stop + 1) if fine else fine
    print(f"SLO: P99 TTFT <= {args.ttft} s, P99 TPOT <= {args.tpot} s (modelled NPU time)")
    print(f"virtual client over 5 seeds: capacity {known} (median), {low}..{high}")
    print("virtual client, P99 TTFT / P99 TPOT (s) around the capacity:")
    for c in range(max(1, known - 3), min(len(curve), known + 3) + 1):
        a, b = curve[c]
        print(f"  conc {c:>2}: {a:.3f} / {b:.4f}" + ("  <- known capacity" if c == known else ""))
    measured = None
    if fine:
        measured, rows = fine_sweep(args.time_scale, args.ttft, args.tpot, args.per, fine)
        print(
            f"fine sweep (conc {fine[0]}..{fine[-1]}, the real client and server, "
            f"time scale {args.time_scale}):"
        )
        for c, a, b in rows:
            mark = "  <- capacity" if c == measured else ""
            print(f"  conc {c:>2}: {a:.3f} / {b:.4f}{mark}")
    found, wall = search(args.time_scale, args.ttft, args.tpot, args.per)
    probes = found["probes"]
    print(
        f"vlm-bench capacity (time scale {args.time_scale}): {found['capacity']}, "
        f"{len(probes)} level measurements (the reference sweep: 6), wall {wall:.0f} s"
    )
    for p in probes:
        print(
            f"  conc {p['value']:>4g}: P99 TTFT {p['ttft_p99_s'] / args.time_scale:.3f} s, "
            f"P99 TPOT {p['tpot_p99_s'] / args.time_scale:.4f} s -> "
            + ("met" if p["meets"] else "missed")
        )
    cap = found["capacity"] or 0
    versus = f"|search - fine sweep| = {abs(cap - measured):g}, " if measured else ""
    print(
        f"virtual client {known} ({low}..{high}); fine sweep {measured}; capacity search "
        f"{cap:g}; {versus}|search - virtual| = {abs(cap - known):g} (one step: 1); "
        f"{len(probes)} level measurements vs 6"
    )


if __name__ == "__main__":
    main()
