"""The sequential gate against the fixed 5-repeat gate: wall time, false alarms and
detections on real simulator runs (calibrated ascend profile, time-compressed).

Per pair: a baseline A (5 repeats, one run), then candidates B (unchanged) and S (every
engine step `--slowdown` slower, the profile's `step_scale`), each measured as 5 looks of
one repeat (bench/measure/adaptive_gate.py's look scenarios, timed). The fixed gate judges
all 5 looks (5 vs 5, bench/analyze/gate.py); the adaptive gate replays the same looks and
stops at its first decided look (bench/analyze/sequential.py), so both judge the very
same measurements and the adaptive wall time is the looks it used.

    .venv/bin/python -m benchmarks.adaptive_gate --pairs 20     # ~30 min here
    .venv/bin/python -m benchmarks.adaptive_gate --quick        # 3 pairs
    .venv/bin/python -m benchmarks.adaptive_gate --replay DIR   # re-judge runs kept by --keep

Goal (issue "Step 13"): adaptive wall time <= 0.6 x fixed, false alarms <= 5 %,
detection >= 95 %.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from bench.analyze import gate, sequential
from bench.config.scenario import load_scenario
from bench.measure import adaptive_gate, sweep
from bench.schema.results import RunResult
from bench.schema.runfile import read_run

SCENARIO = """\
name: adaptive-bench
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: ascend-800ta2-vllm, seed: {seed},
          args: [--time-scale, "{scale}", --set, "step_scale={step}"]}}
load: {{image_width: 640, image_height: 640, min_tokens: 64, max_tokens: 64,
        min_prompt_length: 100, max_prompt_length: 100, request_timeout_s: 60, seed: {seed}}}
sweep: {{parallel: [2, 4], requests_per_level: 2x, repeats: {repeats}}}
check: off
"""
QUIET = Console(file=io.StringIO())


def run(
    work: Path,
    name: str,
    args: argparse.Namespace,
    step: float,
    seed: int,
    repeats: int,
    look: int = 0,
) -> tuple[RunResult, float]:
    path = work / f"{name}.yaml"
    path.write_text(SCENARIO.format(seed=seed, scale=args.time_scale, step=step, repeats=repeats))
    scenario = load_scenario(path)
    if look:
        scenario = adaptive_gate.look_scenario(scenario, look)
    started = time.monotonic()
    outcome = sweep.run(scenario, work / name, console=QUIET)
    if outcome.run.status != "complete":
        raise SystemExit(f"{name}: run {outcome.run.status}: {outcome.run_dir}")
    return outcome.run, time.monotonic() - started


def candidate(
    work: Path, name: str, args: argparse.Namespace, step: float, seed: int
) -> tuple[list[RunResult], list[float]]:
    runs, times = [], []
    for k in range(1, 6):
        got, seconds = run(work, f"{name}-look{k}", args, step, seed, 1, look=k)
        runs.append(replace(got, levels=[replace(lv, repeat=k) for lv in got.levels]))
        times.append(seconds)
    return runs, times


def judge(
    base: RunResult, looks: list[RunResult], times: list[float]
) -> tuple[str, int, float, str]:
    """(adaptive verdict, looks used, adaptive seconds, fixed verdict)."""
    bands = {
        k: (t.band, t.floor)
        for k, t in gate.default_thresholds().items()
        if not gate.BY_KEY[k].telemetry
    }
    levels, state, used = [], sequential.CONTINUE, 0
    for k, one in enumerate(looks, 1):
        levels += one.levels
        state, _ = sequential.gate_look(
            base, replace(one, levels=list(levels)), bands, (0.05, 0.05), (k, 5)
        )
        used = k
        if state != sequential.CONTINUE:
            break
    merged = replace(looks[0], levels=[lv for one in looks for lv in one.levels])
    fixed = gate.gate(base, merged, gate.default_thresholds())
    return state, used, sum(times[:used]), fixed.verdict()


def _stored(folder: Path) -> tuple[RunResult, float]:
    """A kept run (the one run folder under `folder`) and its wall time: scenario.yaml
    (written first) to report.md (written last)."""
    (run_dir,) = (folder / "adaptive-bench").iterdir()
    seconds = (run_dir / "report.md").stat().st_mtime - (run_dir / "scenario.yaml").stat().st_mtime
    return read_run(run_dir), seconds


def replay(work: Path) -> None:
    """Judge the pairs kept in `work` (--keep) again with the current sequential design."""
    totals = {"alarm": 0, "hit": 0, "fixed_alarm": 0, "fixed_hit": 0}
    seconds = {"adaptive": 0.0, "fixed": 0.0}
    started, k = time.monotonic(), 0
    print(f"replay of {work}; design {sequential.DESIGN}")
    while all((work / f"{n}{k + 1}-look5" / "adaptive-bench").is_dir() for n in "bs"):
        k += 1
        base, _ = _stored(work / f"a{k}")
        row = []
        for name in "bs":
            got = [_stored(work / f"{name}{k}-look{j}") for j in range(1, 6)]
            looks = [
                replace(r, levels=[replace(lv, repeat=j) for lv in r.levels])
                for j, (r, _) in enumerate(got, 1)
            ]
            state, used, adaptive_s, fixed_v = judge(base, looks, [t for _, t in got])
            _count(name, state, fixed_v, totals)
            seconds["adaptive"] += adaptive_s
            seconds["fixed"] += sum(t for _, t in got)
            row.append(f"{state} ({used}) {fixed_v}")
        print(f"{k:>4} | {row[0]:<26} | {row[1]}", flush=True)
    if k:
        _totals(k, totals, seconds, started)


def _count(name: str, state: str, fixed_v: str, totals: dict[str, int]) -> None:
    if name == "b":
        totals["alarm"] += state == sequential.REGRESSION
        totals["fixed_alarm"] += fixed_v == "REGRESSION"
    else:
        totals["hit"] += state == sequential.REGRESSION
        totals["fixed_hit"] += fixed_v == "REGRESSION"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 pairs")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--slowdown", type=float, default=0.10)
    parser.add_argument("--keep", help="keep the runs in this folder")
    parser.add_argument("--replay", metavar="DIR", help="judge the runs kept in DIR again")
    args = parser.parse_args()
    if args.replay:
        replay(Path(args.replay))
        return
    pairs = 3 if args.quick else args.pairs
    work = Path(args.keep or tempfile.mkdtemp(prefix="adaptive-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    totals = {"alarm": 0, "hit": 0, "fixed_alarm": 0, "fixed_hit": 0}
    seconds = {"adaptive": 0.0, "fixed": 0.0}
    started = time.monotonic()
    print(
        f"{pairs} pairs; ascend-800ta2-vllm x time_scale {args.time_scale}; conc 2, 4 x 2 "
        f"waves; slowdown +{args.slowdown:.0%} (step_scale); baseline 5 repeats"
    )
    print("pair | B: adaptive (looks) fixed | S: adaptive (looks) fixed")
    for k in range(1, pairs + 1):
        base, _ = run(work, f"a{k}", args, 1.0, seed=k, repeats=5)
        row = []
        for name, step in (("b", 1.0), ("s", 1.0 + args.slowdown)):
            looks, times = candidate(work, f"{name}{k}", args, step, seed=k)
            state, used, adaptive_s, fixed_v = judge(base, looks, times)
            seconds["adaptive"] += adaptive_s
            seconds["fixed"] += sum(times)
            _count(name, state, fixed_v, totals)
            row.append(f"{state} ({used}) {fixed_v}")
        print(f"{k:>4} | {row[0]:<26} | {row[1]}", flush=True)
        _totals(k, totals, seconds, started)
    print(f"runs in {work}")


def _totals(pairs: int, totals: dict[str, int], seconds: dict[str, float], started: float) -> None:
    """The running totals after `pairs` pairs (a long run can be read while it goes)."""
    ratio = seconds["adaptive"] / seconds["fixed"]
    print(
        f"  after {pairs}: adaptive false alarms {totals['alarm']}/{pairs}, detections "
        f"{totals['hit']}/{pairs}; fixed 5 repeats: false alarms {totals['fixed_alarm']}/{pairs},"
        f" detections {totals['fixed_hit']}/{pairs}; candidate wall time adaptive "
        f"{seconds['adaptive']:.0f} s, fixed {seconds['fixed']:.0f} s, ratio {ratio:.2f} "
        f"(goal <= 0.6); {(time.monotonic() - started) / 60:.1f} min",
        flush=True,
    )


if __name__ == "__main__":
    main()
