"""The gate's error rates on real runs: false alarms between identical configurations, and
detections of a +10 % decode slowdown.

K pairs, each of three real runs (simulator with jitter, real evalscope, `repeats`
measurements of one level each): A and B with the same configuration, S with the
engine's per-step cost raised by `--slowdown`. The gate judges B against A (any
REGRESSION or FAILED is a false alarm) and S against A (a REGRESSION is a detection).
Runs are interleaved A, S, B so slow drift of the machine hits all three alike.

    .venv/bin/python -m benchmarks.gate_error_rates --pairs 20        # ~25 min here

Targets (issue "Step 6"): false-alarm rate <= 5 %, detection rate >= 95 %.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.analyze import gate
from bench.config.scenario import load_scenario
from bench.measure import sweep as runner
from bench.schema.runfile import read_run

SCENARIO = """\
name: gate-bench
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, seed: {seed},
          args: [--jitter, "{jitter}", --set, "decode_base_s={decode}"]}}
load: {{image_width: 640, image_height: 640, min_tokens: 64, max_tokens: 64,
        min_prompt_length: 100, max_prompt_length: 100, request_timeout_s: 60, seed: {seed}}}
sweep: {{parallel: [{parallel}], number: [{number}], repeats: {repeats}}}
check: off
"""


def measure(work: Path, name: str, args: argparse.Namespace, decode: float, seed: int) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(
        SCENARIO.format(
            seed=seed,
            jitter=args.jitter,
            decode=decode,
            parallel=args.parallel,
            number=2 * args.parallel,
            repeats=args.repeats,
        )
    )
    quiet = Console(file=io.StringIO())
    outcome = runner.run(load_scenario(path), work / name, console=quiet)
    if outcome.run.status != "complete":
        raise SystemExit(f"{name}: run {outcome.run.status}: {outcome.run_dir}")
    return outcome.run_dir


def verdict(baseline: Path, candidate: Path) -> gate.GateResult:

    return gate.gate(read_run(baseline), read_run(candidate), gate.default_thresholds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--jitter", type=float, default=0.02)
    parser.add_argument("--decode", type=float, default=0.008, help="engine step, seconds")
    parser.add_argument("--slowdown", type=float, default=0.10)
    parser.add_argument("--keep", help="keep the runs in this folder")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="gate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    alarms = detections = 0
    started = time.monotonic()
    print(
        f"{args.pairs} pairs, {args.repeats} repeats of conc {args.parallel} x "
        f"{2 * args.parallel} requests, 64 tokens, jitter {args.jitter}, step {args.decode} s, "
        f"slowdown +{args.slowdown:.0%}"
    )
    print("pair | A vs B (identical)                  | A vs S (slowed)")
    for k in range(1, args.pairs + 1):
        a = measure(work, f"a{k}", args, args.decode, seed=k)
        s = measure(work, f"s{k}", args, args.decode * (1 + args.slowdown), seed=k)
        b = measure(work, f"b{k}", args, args.decode, seed=k)
        same, slow = verdict(a, b), verdict(a, s)
        alarm, hit = same.exit_code() != 0, slow.exit_code() == 1
        alarms += alarm
        detections += hit
        print(
            f"{k:>4} | {'FALSE ALARM' if alarm else 'pass':<11} "
            f"{same.count('SUSPECT')} suspect {same.count('NOISY')} noisy "
            f"| {'detected' if hit else 'MISSED':<8} "
            f"{', '.join(sorted({c.key for c in slow.cells if c.verdict == 'REGRESSION'}))}",
            flush=True,
        )
    minutes = (time.monotonic() - started) / 60
    print(
        f"\nfalse-alarm rate {alarms}/{args.pairs} = {alarms / args.pairs:.1%} (target <= 5 %); "
        f"detection rate {detections}/{args.pairs} = {detections / args.pairs:.1%} "
        f"(target >= 95 %); {minutes:.1f} min; runs in {work}"
    )


if __name__ == "__main__":
    main()
