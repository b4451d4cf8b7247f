"""`vlm-bench gate` and `baseline`: judge a candidate run against a baseline, keep baselines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from bench.analyze import gate, sequential
from bench.analyze.gate import save_baseline
from bench.cli.parser import BASELINES
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.measure import adaptive_gate
from bench.report import summary
from bench.report.gate import render
from bench.report.sequential import render_sequential
from bench.safepath import is_safe_name, safe_name, writing
from bench.schema.runfile import read_run
from bench.store.auto import index_finished_run


def _run_or_baseline(text: str) -> Path:
    """A run folder (or run.json), or the name of a saved baseline under baselines/."""
    path = Path(text)
    # Only a plain name is looked up there: `../x` must not reach outside baselines/.
    if not path.exists() and is_safe_name(text) and (BASELINES / text / "run.json").exists():
        return BASELINES / text
    return path


def cmd_gate(args: argparse.Namespace) -> int:
    if args.adaptive is not None:
        return _adaptive(args)
    if args.candidate is None:
        raise UserError("gate: give CANDIDATE, or --adaptive SCENARIO to measure one")
    baseline = read_run(_run_or_baseline(args.baseline))
    candidate = read_run(_run_or_baseline(args.candidate))
    thresholds, alpha = gate.settings(candidate, Path(args.thresholds) if args.thresholds else None)
    result = gate.gate(baseline, candidate, thresholds, alpha, args.allow_mismatch)
    text = render(result)
    if args.out:
        out = Path(args.out)
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
            (out / "gate.md").write_text(text)
    if args.json:
        print(json.dumps(summary.gate_summary(result, args.strict), indent=2))
    else:
        print(text, end="")
    return result.exit_code(args.strict)


def _adaptive(args: argparse.Namespace) -> int:
    """Measure the candidate repeat by repeat until the sequential gate decides."""
    if args.candidate is not None:
        raise UserError("gate --adaptive measures the candidate: give no CANDIDATE")
    if not 1 <= args.max_repeats <= 20:
        raise UserError(f"--max-repeats {args.max_repeats}: give 1 to 20")
    baseline = read_run(_run_or_baseline(args.baseline))
    scenario = load_scenario(Path(args.adaptive))
    out = Path(args.output_dir or scenario.output_dir) / f"{scenario.name}-adaptive"
    runner = adaptive_gate.sweep_runner(Console(stderr=True))
    got = adaptive_gate.adaptive_gate(scenario, baseline, out, runner, args.max_repeats)
    text = render_sequential(got.verdict, got.looks, args.max_repeats, got.cells)
    if args.out:
        with writing(Path(args.out)):
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "gate.md").write_text(text)
    if args.json:
        print(json.dumps(summary.sequential_summary(got.verdict, got.looks, got.cells), indent=2))
    else:
        print(text, end="")
    if got.verdict == sequential.REGRESSION:
        return gate.EXIT_REGRESSION
    return gate.EXIT_STRICT if args.strict and got.verdict == sequential.SUSPECT else gate.EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    name = safe_name(args.name, "--as")
    with writing(Path(args.dir), "--dir"):
        target = save_baseline(Path(args.run), Path(args.dir) / name, args.force)
        # Into the store of the run it was saved from (reports/vlm-bench.db by default).
        source = Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent
        index_finished_run(target, store_dir=source.resolve().parent.parent)
        print(target)
    return 0
