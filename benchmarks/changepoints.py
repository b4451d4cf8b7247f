"""Change-point detection on real simulator runs: a planted +8 % engine-step slowdown is
found at the right run, and a series without a change shows none.

Runs: real `vlm-bench run` sweeps (bench.measure.sweep in this process, the simulator with
2 % step jitter, evalscope as the client), each with its own seed for the simulator and
the load generator, so run-to-run noise is the real one: jitter, the client, this
machine. The engine step is 8 ms (`fast` with decode_base_s 0.008, as
benchmarks/gate_error_rates.py): TPOT ~8.5 ms, so +8 % (~0.7 ms) clears the gate's
absolute TPOT floor of 0.5 ms, which history applies too; on `fast` as shipped (TPOT
4.5 ms) +8 % is 0.35 ms, under the floor, and rightly not reported for tpot_avg_s.
Two sets of 30 runs of the same scenario:
- flat: 30 runs at step_scale 1;
- planted: the flat set's first 20 runs, then 10 runs with the profile's `step_scale`
  at 1.08 (every engine step 8 % slower; the front end untouched).
The last ten flat runs and the ten slow runs are interleaved in time (flat 20, slow 20,
flat 21, …), so both sets see the machine's drift alike; sharing the first 20 runs is
sound because those runs are identical in both worlds, and it saves 20 runs (40, not 60).

Series: from each set, 10 series = 5 metrics (tpot_avg_s, tpot_p50_s, latency_avg_s,
latency_p90_s, output_tok_s) × 2 concurrencies (4, 16), each through
bench.analyze.history.series (median over repeats, the gate's noise floor, α = 0.01).
Why series from the same runs and not 10 independent sets: 10 × 30 × 2 runs would take
hours here (each level costs ~6 s, mostly evalscope's start). The price: the 10 series of
a set are correlated (TPOT and latency move together), so "9 of 10" is less evidence than
10 independent trials would be; the concurrencies and the metrics' different noise
(averages, percentiles, rates) keep them from being copies.

Targets (Step 11): the planted change found at run 20 ± 1 in at least 9 of 10 series; at
most 1 change reported over the 10 flat series together.

    .venv/bin/python -m benchmarks.changepoints            # 40 runs, ~10 min here
    .venv/bin/python -m benchmarks.changepoints --quick    # 20 runs, 15 a series, ~4 min
    .venv/bin/python -m benchmarks.changepoints --keep DIR # keep runs; reused when rerun
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from bench.analyze import history
from bench.config.scenario import load_scenario
from bench.measure import sweep as runner
from bench.schema.results import RunResult, provenance_columns
from bench.schema.runfile import read_run
from bench.schema.tidy import COLUMNS

SCENARIO = """\
name: changepoint-bench
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, seed: {seed},
          args: [--jitter, "0.02", --set, "decode_base_s=0.008", --set, "step_scale={scale}"]}}
load: {{image_width: 64, image_height: 64, min_tokens: 64, max_tokens: 64,
        min_prompt_length: 50, max_prompt_length: 50, request_timeout_s: 60, seed: {seed}}}
sweep: {{parallel: {parallel}, number: {number}}}
check: off
"""
METRICS = ("tpot_avg_s", "tpot_p50_s", "latency_avg_s", "latency_p90_s", "output_tok_s")


def measure(work: Path, name: str, scale: float, seed: int, parallel: list[int]) -> Path:
    """One run (reused when `work/name` already holds one)."""
    done = sorted((work / name).glob("*/*/run.json"))
    if done:
        return done[-1].parent
    path = work / f"{name}.yaml"
    number = [4 * p if p < 8 else 2 * p for p in parallel]
    path.write_text(SCENARIO.format(seed=seed, scale=scale, parallel=parallel, number=number))
    quiet = Console(file=io.StringIO())
    outcome = runner.run(load_scenario(path), work / name, console=quiet)
    if outcome.run.status != "complete":
        raise SystemExit(f"{name}: run {outcome.run.status}: {outcome.run_dir}")
    return outcome.run_dir


def tidy(run: RunResult, run_dir: Path) -> list[dict[str, Any]]:
    """The store's tidy rows of one run (as bench.store.load_runs gives them)."""
    head = {
        "run_id": run.run_id,
        "run_dir": str(run_dir),
        "scenario_name": run.scenario_name,
        "scenario_hash": run.scenario_hash,
        "hardware": run.scenario.hardware,
        "backend": run.scenario.backend,
        "model": run.scenario.model.served_name,
        "run_status": str(run.status),
        **provenance_columns(run),
    }
    return [
        {
            **head,
            "level_index": lv.index,
            "parallel": lv.parallel,
            "number": lv.number,
            "repeat": lv.repeat,
            "level_status": str(lv.status),
            "trusted": lv.trusted,
            "metric": key,
            "value": lv.value(key),
        }
        for lv in run.levels
        for key in METRICS
    ]


def frame(run_dirs: list[Path]) -> pd.DataFrame:
    rows = [row for d in run_dirs for row in tidy(read_run(d), d)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def make_runs(work: Path, runs: int, at: int, parallel: list[int]) -> tuple[list, list]:
    """(flat run folders, planted run folders), measured in the interleaved order."""
    flat: list[Path] = []
    slow: list[Path] = []
    started = time.monotonic()
    for i in range(runs):
        flat.append(measure(work, f"flat-{i:02d}", 1.0, 1000 + i, parallel))
        if i >= at:
            slow.append(measure(work, f"slow-{i:02d}", 1.08, 2000 + i, parallel))
        print(f"  run {i + 1}/{runs} done ({time.monotonic() - started:.0f} s)", flush=True)
    return flat, flat[:at] + slow


def judge(table: pd.DataFrame, at: int) -> tuple[list[Any], bool]:
    """(change points, whether one is at `at` ± 1) of one series."""
    found = history.changes(table)
    return found, any(abs(c.index - at) <= 1 for c in found)


def describe(found: list[Any]) -> str:
    return (
        ", ".join(f"run {c.index} {100 * c.rel_change:+.1f} % (p = {c.p_value:.4f})" for c in found)
        or "none"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 runs a series, change at 10")
    parser.add_argument("--keep", help="keep the runs in this folder (and reuse them)")
    args = parser.parse_args()
    runs, at, parallel = (15, 10, [4]) if args.quick else (30, 20, [4, 16])
    work = Path(args.keep or tempfile.mkdtemp(prefix="changepoint-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"runs in {work}: {runs} flat, change planted at run {at} (+8 % step time)")
    flat_dirs, planted_dirs = make_runs(work, runs, at, parallel)
    flat, planted = frame(flat_dirs), frame(planted_dirs)
    hits = false = 0
    series = [(m, p) for m in METRICS for p in parallel]
    for metric, conc in series:
        opts: dict[str, Any] = {"scenario": None, "metric": metric, "parallel": conc}
        found, hit = judge(history.series(planted, **opts), at)
        hits += hit
        noise = history.changes(history.series(flat, **opts))
        false += len(noise)
        print(
            f"{metric:>14} @ {conc:>2}: planted: {'HIT ' if hit else 'MISS'} {describe(found)}"
            f" | flat: {describe(noise)}"
        )
    need = len(series) - len(series) // 10
    ok = hits >= need and false <= max(1, len(series) // 10)
    print(
        f"found at run {at} ± 1 in {hits} of {len(series)} series (target >= {need}); "
        f"{false} change(s) reported in {len(series)} flat series (target <= 1): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
